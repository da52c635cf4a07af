"""The erasure runner (beacon/domain/erasure.py) over fakes: order, checkpoints, resumption, what a receipt shows."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from beacon.domain.erasure import (
    DONE,
    ErasureReceipt,
    ErasureRequest,
    ErasureScope,
    erasure_id,
    payload_mentions,
    receipt_document,
    run_erasure,
    start_erasure,
)

NOW = datetime(2026, 12, 2, tzinfo=UTC)


class FakeLog:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], ErasureReceipt] = {}
        self.saves = 0

    def load(self, project_id: str, erasure_id: str) -> ErasureReceipt | None:
        found = self.saved.get((project_id, erasure_id))
        return copy.deepcopy(found)

    def save(self, receipt: ErasureReceipt) -> None:
        self.saves += 1
        self.saved[(receipt.project_id, receipt.id)] = copy.deepcopy(receipt)


class FakeResolver:
    def resolve(self, request: ErasureRequest) -> ErasureScope:
        return ErasureScope(request.project_id, frozenset({request.profile_id, "alias"}), frozenset({"d1"}))


class FakeEraser:
    """Holds `items`; removes them in batches of 2; `fail_after` batches, then raises (a killed run)."""

    def __init__(self, name: str, items: int, journal: list[str], fail_after: int | None = None) -> None:
        self.name, self.items, self.journal, self.fail_after = name, items, journal, fail_after

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        batches = 0
        while self.items:
            if self.fail_after is not None and batches == self.fail_after:
                self.fail_after = None
                raise RuntimeError("killed")
            removed = min(2, self.items)
            self.items -= removed
            batches += 1
            self.journal.append(self.name)
            yield removed

    def count(self, scope: ErasureScope) -> int:
        return self.items


class FakeSuppressor:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.blocked: list[str] = []

    def block_profiles(self, project_id: str, profile_ids: Sequence[str]) -> None:
        self.journal.append("suppression")
        self.blocked.extend(profile_ids)


def test_suppression_comes_before_any_store_and_the_stores_run_in_order():
    journal: list[str] = []
    log = FakeLog()
    receipt = start_erasure(ErasureRequest("p", "alice", suppress=True), FakeResolver(), log, NOW)
    suppressor = FakeSuppressor(journal)
    done = run_erasure(receipt, [FakeEraser("events", 3, journal), FakeEraser("profiles", 1, journal)], log,
                       lambda: NOW, suppressor)  # fmt: skip
    assert journal == ["suppression", "events", "events", "profiles"]
    assert suppressor.blocked == ["alias", "alice"]
    assert done.status == DONE and done.counts == {"events": 3, "profiles": 1}
    assert done.done == ["suppression", "events", "profiles"] and done.scope is None


def test_a_killed_run_resumes_from_its_checkpoint_and_counts_add_up():
    journal: list[str] = []
    log = FakeLog()
    events, profiles = FakeEraser("events", 5, journal, fail_after=2), FakeEraser("profiles", 1, journal)
    receipt = start_erasure(ErasureRequest("p", "alice"), FakeResolver(), log, NOW)
    with pytest.raises(RuntimeError):
        run_erasure(receipt, [events, profiles], log, lambda: NOW)
    saved = log.load("p", receipt.id)
    assert saved is not None and saved.counts == {"events": 4} and saved.done == [] and saved.scope is not None
    resumed = start_erasure(ErasureRequest("p", "alice"), FakeResolver(), log, NOW)
    done = run_erasure(resumed, [events, profiles], log, lambda: NOW)
    assert done.counts == {"events": 5, "profiles": 1}


def test_a_finished_erasure_is_returned_unchanged_and_writes_nothing():
    log = FakeLog()
    receipt = start_erasure(ErasureRequest("p", "alice"), FakeResolver(), log, NOW)
    done = run_erasure(receipt, [FakeEraser("events", 1, [])], log, lambda: NOW)
    saves = log.saves
    again = start_erasure(ErasureRequest("p", "alice"), FakeResolver(), log, NOW)
    assert run_erasure(again, [FakeEraser("events", 7, [])], log, lambda: NOW) == done
    assert log.saves == saves


def test_suppression_asked_without_a_suppressor_is_refused_before_anything_is_removed():
    eraser = FakeEraser("events", 1, [])
    receipt = start_erasure(ErasureRequest("p", "alice", suppress=True), FakeResolver(), FakeLog(), NOW)
    with pytest.raises(ValueError, match="suppressor"):
        run_erasure(receipt, [eraser], FakeLog(), lambda: NOW)
    assert eraser.items == 1


def test_the_receipt_document_names_no_one():
    log = FakeLog()
    receipt = start_erasure(ErasureRequest("p", "alice"), FakeResolver(), log, NOW)
    assert "alice" not in str(receipt_document(receipt))
    assert receipt_document(receipt)["status"] == "running"


def test_erasure_ids_are_stable_and_differ_per_project_and_profile():
    assert erasure_id("p", "alice") == erasure_id("p", "alice")
    assert len({erasure_id("p", "alice"), erasure_id("q", "alice"), erasure_id("p", "alic")}) == 3
    assert "alice" not in erasure_id("p", "alice")


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ('{"type": "track", "payload": {"profileId": "alice"}}', True),
        ('{"type": "alias", "payload": {"profileId": "x", "alias": "alice"}}', True),
        ('{"payload": {"profileId": 42}}', False),
        ('{"payload": {"profileId": "alice-2"}}', False),
        ('{"payload": {"profileId": "alice", "cut', True),  # cut at 4 KB: searched as a JSON string
        ('{"payload": {"profileId": "ali', False),
        ('{"payload": {"name": "alice in wonderland"}}', False),
    ],
)
def test_a_rejected_payload_names_the_person_only_by_a_whole_id(payload, named):
    assert payload_mentions(payload, frozenset({"alice"})) is named


def test_a_numeric_profile_id_is_matched_as_its_decimal_string():
    assert payload_mentions('{"payload": {"profileId": 42}}', frozenset({"42"}))
