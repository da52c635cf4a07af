"""Hypothesis profiles for the fuzz suite, chosen with HYPOTHESIS_PROFILE; and no sockets, as in unit tests.

`beacon-ci` (the default, what `make test` runs): a bounded number of examples, derandomized so every run
tries the same cases and CI never flakes on a newly drawn one. `beacon-soak` (`make soak`): twenty times
as many, freshly random each run. No example database is written (nothing to clean up or commit).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, settings

# max_examples is the base figure; tests scale it with tests.fuzz.strategies.examples().
settings.register_profile(
    "beacon-ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "beacon-soak",
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "beacon-ci"))


def _refuse_network(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError("fuzz tests run in-process on fakes: no network")


@pytest.fixture(autouse=True, scope="module")
def no_sockets() -> Iterator[None]:
    # Module-scoped (hypothesis re-runs a test body many times under one function-scoped fixture).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_network)
        patch.setattr(socket.socket, "connect_ex", _refuse_network)
        patch.setattr(socket, "create_connection", _refuse_network)
        patch.setattr(socket, "getaddrinfo", _refuse_network)
        yield
