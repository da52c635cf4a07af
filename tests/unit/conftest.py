"""Unit tests run without sockets: any attempt to open a connection or resolve a name fails the test."""

from __future__ import annotations

import socket
from types import ModuleType
from typing import NoReturn

import pytest

from tests.unit.support.fakes import FakeEventStore
from tests.unit.support.handlers import load_track_function, wire_track_function


def _refuse_network(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError("unit tests must not use the network: inject a fake instead")


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    monkeypatch.setattr(socket, "create_connection", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)


# The track function, loaded once per test module, and its stores faked per test (a module may wire its own).
@pytest.fixture(scope="module")
def track_app() -> ModuleType:
    return load_track_function()


@pytest.fixture
def store(track_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> FakeEventStore:
    return wire_track_function(track_app, monkeypatch)
