"""Unit tests run without sockets: any attempt to open a connection or resolve a name fails the test."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest


def _refuse_network(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError("unit tests must not use the network: inject a fake instead")


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
