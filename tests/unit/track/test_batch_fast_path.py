"""The batch fast path with fakes: plain track events are stored under one claim per batch, their sessions taken
once per device, and a retry (or a concurrent copy) rebuilds the same events instead of storing new ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.entities import ActiveSession, BatchClaim, Event, RequestContext, RequestMeta, TrackResult
from beacon.domain.filters import ProjectFilters
from beacon.domain.ports import Stores
from beacon.domain.sessions import SessionActivity
from beacon.errors import DependencyUnavailableError
from tests.constants import CALLER, CLIENT_ID, FIREFOX, NOW
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeProjectSettingsStore,
    FakeSessionStore,
    fake_stores,
    tracked,
)

# A browser's batch: a server agent's events take no session (DESIGN.md §49)
META = RequestMeta(request_id="req-1", source_ip="203.0.113.7", user_agent=FIREFOX)


def item(name: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "payload": {"name": name, "properties": properties}}


def run_batch(stores: Stores, items: list[Any], key: str = "batch#k1", at: datetime = NOW) -> BatchOutcome:
    return ingest_batch(batch_of(items, key), RequestContext(CALLER, META, at), stores, UNIT_TEST_ENRICHER)


def batch_claims(store: FakeEventStore) -> dict[tuple[str, str], BatchClaim]:
    return {key: claim for key, claim in store.claims.items() if isinstance(claim, BatchClaim)}


def key_claims(store: FakeEventStore) -> dict[tuple[str, str], TrackResult]:
    return {key: claim for key, claim in store.claims.items() if isinstance(claim, TrackResult)}


class CountingSessionStore(FakeSessionStore):
    """Counts the session writes, per device."""

    def __init__(self, events: FakeEventStore) -> None:
        super().__init__(events)
        self.continued: list[str] = []
        self.started: list[str] = []

    def continue_session(
        self,
        project_id: str,
        device_id: str,
        now: datetime,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> ActiveSession | None:
        self.continued.append(device_id)
        return super().continue_session(project_id, device_id, now, fingerprint, activity)

    def start_session(
        self,
        project_id: str,
        device_id: str,
        session_id: str,
        now: datetime,
        events: list[Event],
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> bool:
        self.started.append(device_id)
        return super().start_session(
            project_id, device_id, session_id, now, events, idempotency_key, fingerprint, activity
        )


def counting_stores(store: FakeEventStore) -> tuple[Stores, CountingSessionStore]:
    stores = fake_stores(store)
    sessions = CountingSessionStore(store)
    return Stores(store, stores.profiles, sessions, stores.projects, stores.idempotency), sessions


def test_plain_events_are_stored_under_one_claim_with_no_claim_per_item() -> None:
    # Given a batch of 30 plain track events from one device
    store = FakeEventStore()

    # When it is ingested
    outcome = run_batch(fake_stores(store), [item(f"e{i}", n=i) for i in range(30)])

    # Then all are stored and answered, under one batch claim that answers each index as the batch was
    assert len(tracked(store)) == 30
    assert [index for index, _ in outcome.results] == list(range(30))
    [claim] = batch_claims(store).values()
    assert claim.answers == dict(outcome.results)
    assert key_claims(store) == {}


def test_the_session_is_taken_once_per_device_not_once_per_event() -> None:
    # Given a device never seen, sending 20 events, 10 more of another device (__deviceId) in the same batch
    store = FakeEventStore()
    stores, sessions = counting_stores(store)
    items = [item(f"a{i}") for i in range(20)] + [item(f"b{i}", __deviceId="device-b") for i in range(10)]

    # When it is ingested
    outcome = run_batch(stores, items)

    # Then each device's session was started once, with one session_start each, and every event is in it
    assert sorted(sessions.started) == sorted({result.device_id for _, result in outcome.results})
    assert len(sessions.started) == 2
    starts = [event for event in store.events if event.name == "session_start"]
    assert len(starts) == 2
    for start in starts:
        mine = [event for event in tracked(store) if event.device_id == start.device_id]
        assert {event.session_id for event in mine} == {start.session_id}
        assert start.created_at < min(event.created_at for event in mine)


def test_a_running_session_is_continued_once_for_the_whole_batch() -> None:
    # Given a device whose session is running
    store = FakeEventStore()
    stores, sessions = counting_stores(store)
    run_batch(stores, [item("warm_up")], key="batch#warm")
    sessions.continued.clear()

    # When a batch of 40 of its events arrives
    outcome = run_batch(stores, [item(f"e{i}") for i in range(40)])

    # Then the session was continued once, no session started, and all 40 events are in that session
    assert len(sessions.continued) == 1 and len(sessions.started) == 1
    assert {result.session_id for _, result in outcome.results} == {tracked(store)[0].session_id}


def test_a_retry_rebuilds_the_same_events_and_writes_only_the_missing_ones() -> None:
    # Given a batch stored whole, then two of its events lost (as if their group write never landed)
    store = FakeEventStore()
    stores = fake_stores(store)
    items = [item(f"e{i}", n=i) for i in range(6)]
    first = run_batch(stores, items)
    originals = {event.name: event for event in tracked(store)}
    store.events[:] = [event for event in store.events if event.name not in ("e1", "e4")]

    # When the batch is sent again an hour later
    retry = run_batch(stores, items, at=NOW + timedelta(hours=1))

    # Then the missing events are written with their first ids, times and sessions, nothing is duplicated, and
    # every index is answered as the first time
    assert retry.results == first.results
    again = {event.name: event for event in tracked(store)}
    assert len(tracked(store)) == 6
    assert again == originals


def test_a_fully_stored_batch_sent_again_writes_nothing() -> None:
    # Given a stored batch
    class NoWrites(FakeEventStore):
        writes = 0

        def put_events(self, events: list[Event]) -> list[Event]:
            self.writes += len(events)
            return super().put_events(events)

    store = NoWrites()
    stores = fake_stores(store)
    items = [item(f"e{i}") for i in range(10)]
    first = run_batch(stores, items)
    store.writes = 0

    # When it is sent again
    repeat = run_batch(stores, items, at=NOW + timedelta(seconds=30))

    # Then nothing is written, and the answer is the same
    assert store.writes == 0
    assert repeat.results == first.results


def test_a_concurrent_copy_that_loses_the_claim_race_answers_with_the_winners_claim() -> None:
    # Given a copy of a batch that read no claim, while another copy's claim and events were stored meanwhile
    class Racing(FakeEventStore):
        def __init__(self) -> None:
            super().__init__()
            self.hide_claims = False

        def batch_claim(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
            return None if self.hide_claims else super().batch_claim(project_id, key, now)

    store = Racing()
    stores = fake_stores(store)
    items = [item(f"e{i}") for i in range(8)]
    winner = run_batch(stores, items)
    store.hide_claims = True

    # When the losing copy arrives
    loser = run_batch(stores, items, at=NOW + timedelta(milliseconds=5))

    # Then it stores nothing more and answers exactly as the winner
    assert loser.results == winner.results
    assert sorted(event.name for event in tracked(store)) == sorted(f"e{i}" for i in range(8))
    assert len([event for event in store.events if event.name == "session_start"]) == 1


def test_items_with_their_own_id_and_other_types_keep_a_claim_per_item() -> None:
    # Given a batch of plain events, an event with __id, an identify and an increment
    store = FakeEventStore()
    profiles = FakeProfileStore()
    stores = fake_stores(store, profiles)
    items = [
        item("plain0"),
        item("order", __id="o-1"),
        {"type": "identify", "payload": {"profileId": "u1", "firstName": "Ada"}},
        {"type": "increment", "payload": {"profileId": "u1", "property": "visits"}},
        item("plain4"),
    ]

    # When it is ingested twice
    first = run_batch(stores, items)
    repeat = run_batch(stores, items, at=NOW + timedelta(seconds=5))

    # Then the keyed items are claimed one by one (their __id; the increment as item 3 of batch k1), each under
    # its client's own namespace (domain/keys.py), the plain ones under the batch's claim only
    assert {key for _, key in key_claims(store)} == {f"{CLIENT_ID}#event#o-1", f"{CLIENT_ID}#batch-item#3#batch#k1"}
    [claim] = batch_claims(store).values()
    assert set(claim.answers) == {0, 4}
    # and the repeat stored nothing, counted once, and answered the same
    assert sorted(event.name for event in tracked(store)) == ["order", "plain0", "plain4"]
    assert profiles.profiles[("project-a", "u1")]["properties"] == {"visits": 1}
    assert repeat.results == first.results


def test_other_bytes_under_the_same_key_are_answered_from_the_claim_and_never_overwrite() -> None:
    # Given a batch stored under an Idempotency-Key
    store = FakeEventStore()
    stores = fake_stores(store)
    first = run_batch(stores, [item("a", n=1), item("b", n=2)], key="batch#same-key")
    stored = list(tracked(store))

    # When other events are sent under the same key
    second = run_batch(stores, [item("x", n=9), item("y", n=8)], key="batch#same-key")

    # Then they are answered as the first batch was, and what it stored is untouched
    assert second.results == first.results
    assert tracked(store) == stored


def test_a_blocked_profile_or_missing_identify_profile_rejects_only_its_item() -> None:
    # Given a project blocking profile "blocked", and a batch with it, an __identify without any profile id
    # and two plain events
    store = FakeEventStore()
    stores = fake_stores(store)
    projects = stores.projects
    assert isinstance(projects, FakeProjectSettingsStore)
    projects.filters["project-a"] = ProjectFilters.parse([], ["blocked"])
    items = [
        item("ok0"),
        {"type": "track", "payload": {"name": "bad1", "profileId": "blocked"}},
        item("bad2", __identify={"firstName": "Ada"}),
        item("ok3"),
    ]

    # When it is ingested
    outcome = run_batch(stores, items)

    # Then the refused items are rejected alone, with their own statuses, and the others stored
    assert [(index, error.status) for index, error in outcome.rejected] == [(1, 401), (2, 400)]
    assert sorted(event.name for event in tracked(store)) == ["ok0", "ok3"]
    assert [index for index, _ in outcome.results] == [0, 3]


def test_the_same_identify_on_many_events_is_written_once_before_the_events() -> None:
    # Given a batch of 10 events that all carry the same __identify
    class CountingProfiles(FakeProfileStore):
        identifies = 0

        def identify(self, project_id: str, update: Any, now: datetime) -> None:
            self.identifies += 1
            super().identify(project_id, update, now)

    store, profiles = FakeEventStore(), CountingProfiles()
    items = [item(f"e{i}", __identify={"profileId": "u7", "email": "ada@example.com"}) for i in range(10)]

    # When it is ingested
    outcome = run_batch(fake_stores(store, profiles), items)

    # Then the profile was written once and every event stored
    assert profiles.identifies == 1
    assert profiles.profiles[("project-a", "u7")]["email"] == "ada@example.com"
    assert len(outcome.results) == 10 and len(tracked(store)) == 10


def test_an_unreadable_claim_answers_every_plain_event_not_stored_and_writes_nothing() -> None:
    # Given an idempotency table that cannot be read
    class Unreadable(FakeEventStore):
        def batch_claim(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
            raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    store = Unreadable()
    stores = fake_stores(store)

    # When a batch of plain events and one invalid item arrives
    outcome = run_batch(stores, [item("a"), item(""), item("c")])

    # Then the plain events are not stored (503 for them), the invalid one still rejected, nothing written
    assert outcome.not_stored == [0, 2]
    assert [index for index, _ in outcome.rejected] == [1]
    assert store.events == []


def test_a_group_write_that_fails_whole_is_not_stored_and_the_retry_completes_it() -> None:
    # Given an event store whose first group write of 25 events fails whole
    class FirstGroupFails(FakeEventStore):
        failed = False

        def put_events(self, events: list[Event]) -> list[Event]:
            if not self.failed:
                self.failed = True
                raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")
            return super().put_events(events)

    store = FirstGroupFails()
    stores = fake_stores(store)
    items = [item(f"e{i}") for i in range(10)]

    # When the batch is ingested and retried
    first = run_batch(stores, items)
    retry = run_batch(stores, items, at=NOW + timedelta(seconds=5))

    # Then the first answer names all 10 as not stored; the retry stores each once, in the first's session
    assert first.not_stored == list(range(10))
    assert retry.not_stored == [] and len(retry.results) == 10
    assert sorted(event.name for event in tracked(store)) == sorted(f"e{i}" for i in range(10))
    assert len({event.session_id for event in store.events}) == 1


def run_body(stores: Stores, items: list[Any], key: str, limit: int = 64 * 1024) -> BatchOutcome:
    """As the track function calls it: with the request's bytes."""
    body = json.dumps({"batch": items}).encode()
    batch = batch_of(items, key, limit=limit, body=body)
    return ingest_batch(batch, RequestContext(CALLER, META, NOW), stores, UNIT_TEST_ENRICHER)


def test_with_the_request_bytes_other_bytes_under_the_same_key_never_overwrite_and_the_same_bytes_complete() -> None:
    # Given a batch stored under an Idempotency-Key, identified by its request's bytes
    store = FakeEventStore()
    stores = fake_stores(store)
    first = run_body(stores, [item("a", n=1), item("b", n=2)], "batch#bytes-key")
    stored = list(tracked(store))
    del store.events[-1]  # one of its events is lost, as if its write had failed

    # When other bytes come under the same key, nothing is rewritten; the same bytes again complete the batch
    other = run_body(stores, [item("x", n=9), item("y", n=8)], "batch#bytes-key")
    assert other.results == first.results
    assert len(tracked(store)) == 1
    again = run_body(stores, [item("a", n=1), item("b", n=2)], "batch#bytes-key")
    assert again.results == first.results
    assert tracked(store) == stored


def test_with_the_request_bytes_an_item_over_the_event_limit_is_still_a_413_of_its_own() -> None:
    store = FakeEventStore()
    stores = fake_stores(store)
    outcome = run_body(stores, [item("small"), item("big", text="x" * 3000)], "batch#sizes", limit=2048)
    assert [(index, error.status) for index, error in outcome.rejected] == [(1, 413)]
    assert [event.name for event in tracked(store)] == ["small"]
