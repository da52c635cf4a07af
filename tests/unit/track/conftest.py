"""The track function, loaded once per test module, and its stores faked per test (a module may wire its own)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.unit.support.fakes import FakeEventStore, FakeRejectedEventStore
from tests.unit.support.handlers import load_track_function, wire_track_function


@pytest.fixture(scope="module")
def track_app() -> ModuleType:
    return load_track_function()


@pytest.fixture
def rejected() -> FakeRejectedEventStore:
    return FakeRejectedEventStore()


@pytest.fixture
def store(track_app: ModuleType, monkeypatch: pytest.MonkeyPatch, rejected: FakeRejectedEventStore) -> FakeEventStore:
    return wire_track_function(track_app, monkeypatch, rejected)
