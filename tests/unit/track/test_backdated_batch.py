"""Back-dated batches (issue 17 item 5, beyond OpenPanel; DESIGN.md §49): a batch's events over 15 minutes old are
sessionized among themselves, per device, by their own times with the gap rule, with session_start, session_end and
a record per session; they open and extend no live session, and a retry rebuilds the very same sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.entities import RequestContext, RequestMeta
from beacon.domain.ports import Stores
from beacon.domain.sessions import BackdatedEvent, backdated_session_id, split_backdated
from tests.constants import CALLER, FIREFOX, NOW
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, FakeSessionStore, fake_stores

THIRTY = timedelta(minutes=30)
MORNING = NOW - timedelta(hours=6)  # the offline day's first event
META = RequestMeta(request_id="req-1", source_ip="203.0.113.7", user_agent=FIREFOX)


def at(minutes: float) -> datetime:
    return MORNING + timedelta(minutes=minutes)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- the splitter ------------------------------------------------------------------------------------------------


def test_a_gap_over_the_timeout_splits_a_devices_events_and_a_gap_of_exactly_the_timeout_does_not() -> None:
    events = [BackdatedEvent(i, "d1", at(m)) for i, m in enumerate([0, 10, 39, 70, 100, 100.5])]
    sessions = split_backdated(events, THIRTY, "nonce")
    # 0 → 10 → 39 (29 min gaps and less); 39 → 70 is 31 min: a new session; 70 → 100 is exactly 30: the same one
    assert [session.indexes for session in sessions] == [(0, 1, 2), (3, 4, 5)]
    assert {session.device_id for session in sessions} == {"d1"}


def test_events_are_split_per_device_by_their_own_times_whatever_their_order_in_the_batch() -> None:
    events = [
        BackdatedEvent(0, "phone", at(50)),
        BackdatedEvent(1, "laptop", at(0)),
        BackdatedEvent(2, "phone", at(0)),
        BackdatedEvent(3, "laptop", at(5)),
        BackdatedEvent(4, "phone", at(10)),
        BackdatedEvent(5, "phone", at(10)),  # the same time as 4: the batch order breaks the tie
    ]
    sessions = split_backdated(events, THIRTY, "nonce")
    assert [(session.device_id, session.indexes) for session in sessions] == [
        ("laptop", (1, 3)),
        ("phone", (2, 4, 5)),
        ("phone", (0,)),
    ]


def test_the_configured_timeout_is_the_gap() -> None:
    events = [BackdatedEvent(i, "d1", at(m)) for i, m in enumerate([0, 4, 10])]
    assert [s.indexes for s in split_backdated(events, timedelta(minutes=5), "n")] == [(0, 1), (2,)]


def test_session_ids_are_uuids_derived_from_the_claim_the_device_and_the_first_event() -> None:
    events = [BackdatedEvent(0, "d1", at(0)), BackdatedEvent(1, "d1", at(90))]
    first, again, other = (split_backdated(events, THIRTY, seed) for seed in ("n1", "n1", "n2"))
    assert [s.session_id for s in first] == [s.session_id for s in again]
    assert {s.session_id for s in first}.isdisjoint(s.session_id for s in other)
    assert uuid.UUID(first[0].session_id).version == 4
    assert first[1].session_id == backdated_session_id("n1", "d1", 1)


# -- the batch ---------------------------------------------------------------------------------------------------


def offline_day() -> list[dict[str, Any]]:
    """An app's day offline: two visits, hours apart, then one event sent live."""

    def view(path: str, minutes: float, **extra: Any) -> dict[str, Any]:
        properties = {"__path": f"https://app.example{path}", "__timestamp": stamp(at(minutes)), **extra}
        return {"type": "track", "payload": {"name": "screen_view", "properties": properties}}

    return [
        view("/home?utm_source=push", 0),
        view("/settings", 12),
        {"type": "track", "payload": {"name": "saved", "properties": {"__timestamp": stamp(at(20))}}},
        view("/home", 180),  # three hours later: another visit, a bounce
        {"type": "track", "payload": {"name": "back_online", "properties": {}}},
    ]


def run(stores: Stores, items: list[Any], key: str = "batch#day") -> BatchOutcome:
    return ingest_batch(batch_of(items, key), RequestContext(CALLER, META, NOW), stores, UNIT_TEST_ENRICHER)


def test_a_day_of_offline_events_gets_the_sessions_that_happened() -> None:
    events = FakeEventStore()
    stores = fake_stores(events)
    # When the app uploads its day
    outcome = run(stores, offline_day())
    # Then every item is stored; the back-dated ones in two sessions, the live one in a live session of its own
    answers = dict(outcome.results)
    assert sorted(answers) == [0, 1, 2, 3, 4] and outcome.not_stored == [] and outcome.rejected == []
    morning, later, live = answers[0].session_id, answers[3].session_id, answers[4].session_id
    assert answers[1].session_id == answers[2].session_id == morning
    assert len({morning, later, live}) == 3 and "" not in {morning, later, live}
    assert {answer.device_id for answer in answers.values()} == {answers[0].device_id}
    # And each back-dated session has its session_start 1 ms before its first event, its session_end 1 s after its
    # last, with the duration and the bounce flag as the reaper writes them
    by_session: dict[str, list[Any]] = {}
    for event in sorted(events.events, key=lambda e: e.created_at):
        by_session.setdefault(event.session_id, []).append(event)
    first_visit = by_session[morning]
    assert [e.name for e in first_visit] == ["session_start", "screen_view", "screen_view", "saved", "session_end"]
    assert first_visit[0].created_at == at(0) - timedelta(milliseconds=1)
    assert first_visit[-1].created_at == at(20) + timedelta(seconds=1)
    assert first_visit[-1].properties == {"__duration": 20 * 60 * 1000, "__bounce": False}
    assert first_visit[-1].path == "/settings"  # the exit page: the last event with a page
    # And its later events inherit how the visit began
    assert [e.referrer_name for e in first_visit[1:4]] == ["push", "push", "push"]
    second_visit = by_session[later]
    assert [e.name for e in second_visit] == ["session_start", "screen_view", "session_end"]
    assert second_visit[-1].properties == {"__duration": 0, "__bounce": True}
    # And each has its record, ended when received, with the visit's entry and exit pages and counts
    records = {record.session_id: record for record in stores.sessions.records}  # type: ignore[attr-defined]
    assert set(records) == {morning, later}
    record = records[morning]
    assert (record.entry_path, record.exit_path, record.event_count, record.screen_view_count) == (
        "/home",
        "/settings",
        3,
        2,
    )
    assert (record.started_at, record.first_event_at, record.ended_at) == (at(0), at(0), NOW)
    # And the live session holds only the live event: the back-dated ones neither opened nor extended it
    assert [e.name for e in by_session[live]] == ["session_start", "back_online"]


def test_a_batch_of_only_back_dated_events_opens_no_live_session() -> None:
    events = FakeEventStore()
    stores = fake_stores(events)
    run(stores, offline_day()[:4])
    sessions = stores.sessions
    assert isinstance(sessions, FakeSessionStore) and sessions.sessions == {}


def test_a_retry_of_the_batch_rebuilds_the_same_sessions_and_stores_nothing_twice() -> None:
    events = FakeEventStore()
    stores = fake_stores(events)
    first = run(stores, offline_day())
    stored = sorted((e.id, e.session_id, e.name) for e in events.events)
    # When the same batch is sent again (the SDK did not see the answer)
    again = run(stores, offline_day())
    # Then it is answered as the first was, and the events are the same ones, each once
    assert again.results == first.results
    assert sorted((e.id, e.session_id, e.name) for e in events.events) == stored
    assert len(stores.sessions.records) == 2  # type: ignore[attr-defined]


def test_a_retry_writes_the_back_dated_session_parts_the_first_attempt_lost() -> None:
    # Given the first attempt stored everything but one session_end
    events = FakeEventStore()
    stores = fake_stores(events)
    first = run(stores, offline_day())
    ends = [e for e in events.events if e.name == "session_end"]
    events.events.remove(ends[0])
    # When the batch is retried
    again = run(stores, offline_day())
    # Then the missing session_end is written again, identical
    assert again.results == first.results
    assert [e for e in events.events if e.name == "session_end" and e.id == ends[0].id] == [ends[0]]
