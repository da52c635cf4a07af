"""The reaper's rules (beacon/domain/sessions.py), on an in-memory store: which minutes a run walks, when its
cursor moves, what session_end says (issue 17). DynamoDB's conditions are in tests/integration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from beacon.domain.entities import Event
from beacon.domain.sessions import (
    SessionActivity,
    SessionRecord,
    due_bucket,
    idle_bucket,
    reap_sessions,
    session_end_event,
)

TIMEOUT = timedelta(minutes=30)
T0 = datetime(2026, 12, 2, 12, 0, 10, tzinfo=UTC)


def record(device: str, last_seen: datetime, **fields: object) -> SessionRecord:
    base = SessionRecord(
        project_id="p",
        device_id=device,
        session_id=f"s-{device}",
        client_id="c",
        started_at=last_seen - timedelta(minutes=1),
        last_seen_at=last_seen,
        first_event_at=last_seen - timedelta(minutes=1),
        last_event_at=last_seen,
        exit_path="/last",
        screen_view_count=2,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@dataclass
class MemoryReaperStore:
    records: dict[str, SessionRecord] = field(default_factory=dict)
    cursor: int | None = None
    ends: list[Event] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)  # devices whose end write fails (a throttled transaction)
    queried: list[int] = field(default_factory=list)

    def reaped_through(self) -> int | None:
        return self.cursor

    def idle_in_bucket(self, bucket: int) -> Iterable[tuple[str, str]]:
        self.queried.append(bucket)
        return [
            (r.project_id, r.device_id)
            for r in self.records.values()
            if r.ended_at is None and idle_bucket(r.last_seen_at) == bucket
        ]

    def read_record(self, project_id: str, device_id: str) -> SessionRecord | None:
        return self.records.get(device_id)

    def end_session(self, record: SessionRecord, end: Event) -> bool:
        if record.device_id in self.failing:
            raise RuntimeError("throttled")
        current = self.records[record.device_id]
        if current.ended_at is not None or current.last_seen_at != record.last_seen_at:
            return False
        self.records[record.device_id] = record
        self.ends.append(end)
        return True

    def mark_reaped(self, bucket: int) -> None:
        self.cursor = max(self.cursor or bucket, bucket)


def test_a_session_ends_only_once_its_whole_minute_has_been_idle_for_the_timeout() -> None:
    store = MemoryReaperStore({"d": record("d", T0)})
    # 30 minutes after its last event the minute is not all idle yet; a minute later it is
    assert reap_sessions(store, T0 + TIMEOUT + timedelta(seconds=5), TIMEOUT).ended == 0
    assert reap_sessions(store, T0 + TIMEOUT + timedelta(minutes=1), TIMEOUT).ended == 1
    assert [end.name for end in store.ends] == ["session_end"]


def test_session_end_is_one_second_after_the_last_event_with_duration_exit_path_and_bounce() -> None:
    closed = record("d", T0, exit_path="/checkout", screen_view_count=1, ended_at=T0 + TIMEOUT)
    end = session_end_event(closed)
    assert end.created_at == T0 + timedelta(seconds=1)
    assert end.properties == {"__duration": 60_000, "__bounce": True}
    assert (end.path, end.session_id, end.device_id) == ("/checkout", "s-d", "d")
    # the same session always gets the same id: a second writer's Put fails its condition
    assert session_end_event(closed).id == end.id


def test_runs_walk_each_minute_once_from_the_cursor_and_catch_up_in_steps_after_an_outage() -> None:
    store = MemoryReaperStore(cursor=due_bucket(T0, TIMEOUT))
    # Three hours without a run: the next runs walk 120 minutes each, oldest first, and skip none
    later = T0 + timedelta(hours=3)
    first = reap_sessions(store, later, TIMEOUT)
    second = reap_sessions(store, later, TIMEOUT)
    assert (first.buckets, second.buckets) == (120, 60)
    assert store.queried == list(range(due_bucket(T0, TIMEOUT) + 1, due_bucket(later, TIMEOUT) + 1))
    assert reap_sessions(store, later, TIMEOUT).buckets == 0  # nothing new is due: no query at all


def test_a_failed_end_leaves_its_minute_for_the_next_run_which_ends_it() -> None:
    store = MemoryReaperStore({"a": record("a", T0), "b": record("b", T0)}, failing={"b"})
    store.cursor = idle_bucket(T0) - 1
    with pytest.raises(RuntimeError):
        reap_sessions(store, T0 + TIMEOUT + timedelta(minutes=2), TIMEOUT)
    assert store.cursor == idle_bucket(T0) - 1  # not moved past the failed minute
    store.failing.clear()
    outcome = reap_sessions(store, T0 + TIMEOUT + timedelta(minutes=3), TIMEOUT)
    assert outcome.ended == 1 and sorted(end.device_id for end in store.ends) == ["a", "b"]


def test_a_session_active_again_when_read_is_skipped_and_counted_as_extended() -> None:
    store = MemoryReaperStore({"d": record("d", T0)})
    store.records["d"] = replace(store.records["d"], last_seen_at=T0 + TIMEOUT)  # moved on after the index said idle
    store.idle_in_bucket = lambda bucket: [("p", "d")] if bucket == idle_bucket(T0) else []  # type: ignore[method-assign]
    outcome = reap_sessions(store, T0 + TIMEOUT + timedelta(minutes=2), TIMEOUT)
    assert (outcome.ended, outcome.extended) == (0, 1) and store.ends == []


def test_activities_of_a_batch_combine_into_one_record_update() -> None:
    combined = SessionActivity.combine(
        [
            SessionActivity(at=T0 + timedelta(seconds=5), path="/b", screen_views=1),
            SessionActivity(at=T0, path="/a", screen_views=1, revenue=300, groups=("g1",)),
            SessionActivity(at=T0 + timedelta(seconds=9), profile_id="u1", groups=("g2",)),
        ]
    )
    assert combined == SessionActivity(
        at=T0 + timedelta(seconds=9),
        path="/b",
        events=3,
        screen_views=2,
        revenue=300,
        profile_id="u1",
        groups=("g1", "g2"),
        first_at=T0,
    )


def test_the_timeout_is_the_templates_minutes_unless_seconds_are_given() -> None:
    from beacon.config import ReaperSettings

    env = {"SESSIONS_TABLE": "s", "EVENTS_TABLE": "e"}
    assert ReaperSettings.from_env(env).session_timeout_seconds == 1800
    assert ReaperSettings.from_env({**env, "SESSION_TIMEOUT_MINUTES": "45"}).session_timeout_seconds == 2700
    both = {**env, "SESSION_TIMEOUT_MINUTES": "45", "SESSION_TIMEOUT_SECONDS": "5"}
    assert ReaperSettings.from_env(both).session_timeout_seconds == 5
