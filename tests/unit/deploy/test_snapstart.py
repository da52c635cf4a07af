"""SnapStart hooks: registered with Lambda's runtime library where it exists, and nowhere else."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import pytest

from beacon.snapstart import before_snapshot
from tests.unit.support.handlers import load_track_function


def test_without_the_runtime_library_nothing_is_registered_and_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process that is not a SnapStart Lambda (no snapshot_restore_py)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # makes the import fail
    ran: list[str] = []
    # When hooks are offered, then none is registered and none runs now (a cold start pays nothing)
    assert before_snapshot(lambda: ran.append("warm")) is False
    assert ran == []


def test_with_the_runtime_library_each_hook_is_registered_to_run_before_the_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Lambda's snapshot_restore_py library
    registered: list[Callable[[], object]] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    first, second = (lambda: "parser"), (lambda: "clients")
    # When hooks are offered, then each is registered, in order, and none has run yet
    assert before_snapshot(first, second) is True
    assert registered == [first, second]


def test_the_track_function_warms_its_parser_and_clients_before_a_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Lambda's snapshot_restore_py library
    registered: list[Callable[[], object]] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    # When the track function is initialised, then it registers the user-agent warm-up and its AWS clients
    load_track_function()
    names = [getattr(hook, "__name__", "") for hook in registered]
    assert names == ["warm_up", "stores", "rejected_store", "replays", "enricher"]
