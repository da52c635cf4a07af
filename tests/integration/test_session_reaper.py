"""Session records and session_end against DynamoDB Local: the reaper, the boundary case, races (issue 17).

Every test runs at its own minute, days away from the wall clock, so that its reaper runs see only its sessions'
minutes; the reaper's shared cursor is replaced by a store that always starts a few minutes back.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import ReaperSettings, TrackSettings
from beacon.domain.entities import Caller, ClientType, RequestContext, TrackResult
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.domain.sessions import ReapOutcome, reap_sessions, session_end_event
from beacon.models.requests import parse_track_request
from beacon.store.factory import reaper_store, track_stores
from beacon.store.sessions import DynamoDBSessionStore
from tests.constants import META
from tests.unit.support.fakes import UNIT_TEST_ENRICHER

pytestmark = pytest.mark.integration
TIMEOUT = timedelta(minutes=30)


class WindowedReaper(DynamoDBSessionStore):
    """The real store without the shared cursor: each run looks at the last few minutes of the test's own project
    (tests share a table, and another test's idle sessions may fall into the same minutes)."""

    project_id = ""

    def idle_in_bucket(self, bucket: int) -> Iterator[tuple[str, str]]:
        return ((p, d) for p, d in super().idle_in_bucket(bucket) if p == self.project_id)

    def reaped_through(self) -> int | None:
        return None

    def mark_reaped(self, bucket: int) -> None:
        pass


@pytest.fixture
def base() -> datetime:
    # A random day, and a time that leaves the tests' hour of events inside it: across midnight a device's id
    # changes (today's salt; yesterday's still finds its session), which the midnight test below covers on its own.
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=random.randint(2, 300))
    return day + timedelta(minutes=random.randint(0, 1440 - 60), seconds=5)


@pytest.fixture
def stores(dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return track_stores(TrackSettings.from_env(template_env), dynamodb)


@pytest.fixture
def reaper(dynamodb: Any, template_env: dict[str, str], project_id: str) -> WindowedReaper:
    settings = ReaperSettings.from_env(template_env)
    events = reaper_store(settings, dynamodb)._events
    windowed = WindowedReaper(settings.sessions_table, events, dynamodb, TIMEOUT)
    windowed.project_id = project_id
    return windowed


def reap(reaper: WindowedReaper, now: datetime) -> ReapOutcome:
    return reap_sessions(reaper, now, TIMEOUT, max_buckets=5)


def track(stores: Stores, project_id: str, at: datetime, name: str = "screen_view", path: str = "", **extra: Any):
    properties = {"__path": path, **extra} if path else extra
    body = {"type": "track", "payload": {"name": name, "properties": properties}}
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    return ingest(parse_track_request(json.dumps(body)), RequestContext(caller, META, at), stores, UNIT_TEST_ENRICHER)


def ends(stored_events, project_id: str) -> list[dict[str, Any]]:
    return [event for event in stored_events(project_id, with_session_ends=True) if event["name"] == "session_end"]


def test_the_session_item_records_entry_exit_counts_and_revenue(stores, reaper, project_id, base):
    # Given a visit of three events: two page views and a purchase with revenue
    track(stores, project_id, base, path="https://shop.example/landing?utm_source=news")
    track(stores, project_id, base + timedelta(seconds=30), path="https://shop.example/pricing")
    result = track(stores, project_id, base + timedelta(seconds=90), name="purchase", __revenue=1200)
    # Then its record holds the entry and exit pages, counts, revenue and first/last event times
    record = reaper.read_record(project_id, result.device_id)
    assert record is not None and record.session_id == result.session_id
    assert (record.entry_path, record.exit_path) == ("/landing", "/pricing")
    assert (record.entry_origin, record.exit_origin) == ("https://shop.example", "https://shop.example")
    assert (record.event_count, record.screen_view_count, record.revenue) == (3, 2, 1200)
    assert record.duration_ms == 90_000 and not record.bounce
    assert record.source.campaign == (("utm_source", "news"),)
    assert record.device  # the first event's parsed user agent


def test_the_reaper_writes_one_session_end_after_the_timeout_and_a_second_run_writes_nothing(
    stores, reaper, project_id, base, stored_events
):
    # Given a session whose last event was at base + 40 s
    track(stores, project_id, base, path="/a")
    result = track(stores, project_id, base + timedelta(seconds=40), path="/b")
    # When the reaper runs before the timeout, then twice after it
    assert reap(reaper, base + timedelta(minutes=29)).ended == 0
    first = reap(reaper, base + TIMEOUT + timedelta(minutes=2))
    second = reap(reaper, base + TIMEOUT + timedelta(minutes=3))
    # Then exactly one session_end, 1 s after the last event, with duration, exit path and bounce flag
    assert (first.ended, second.ended) == (1, 0)
    [end] = ends(stored_events, project_id)
    assert end["sessionId"] == result.session_id
    assert end["createdAt"].startswith((base + timedelta(seconds=41)).isoformat(timespec="milliseconds")[:23])
    assert end["properties"] == {"__duration": 40_000, "__bounce": False}
    assert end["path"] == "/b"
    # And the ended session's record is kept as its own item
    ended = reaper.read_record(project_id, result.device_id)
    assert ended is not None and ended.ended_at is not None


def test_concurrent_reapers_write_exactly_one_session_end_per_session(stores, reaper, project_id, base, stored_events):
    # Given 12 sessions of 12 devices (one event each: bounces)
    sessions = set()
    for index in range(12):
        sessions.add(track(stores, project_id, base, path=f"/p{index}", __deviceId=f"device-{index}").session_id)
    # When 6 reapers run at once, twice over
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda _: reap(reaper, base + TIMEOUT + timedelta(minutes=2)), range(12)))
    # Then each session has exactly one session_end, and the runs ended 12 between them
    found = ends(stored_events, project_id)
    assert sorted(end["sessionId"] for end in found) == sorted(sessions)
    assert sum(outcome.ended for outcome in outcomes) == 12
    assert all(end["properties"] == {"__duration": 0, "__bounce": True} for end in found)


def test_a_session_extended_after_the_reaper_read_it_gets_no_session_end(
    stores, reaper, project_id, base, stored_events
):
    # Given a session idle for the timeout, read by the reaper
    result = track(stores, project_id, base, path="/a")
    late = base + TIMEOUT + timedelta(seconds=30)
    record = reaper.read_record(project_id, result.device_id)
    assert record is not None and record.idle(late, TIMEOUT)
    # When an event extends it before the reaper writes (the same session while within the start condition:
    # a start over it writes the end itself, so extend it as the continue does, at an earlier receipt time)
    track(stores, project_id, base + timedelta(minutes=29), path="/b")
    # Then the reaper's conditional end fails, and nothing is written
    closed = record.__class__(**{**record.__dict__, "ended_at": late})
    assert reaper.end_session(closed, session_end_event(closed)) is False
    assert ends(stored_events, project_id) == []


def test_a_new_session_over_an_idle_one_not_yet_reaped_writes_its_session_end_once(
    stores, reaper, project_id, base, stored_events
):
    # Given a session idle for the timeout that no reaper has ended
    first = track(stores, project_id, base, path="/a")
    track(stores, project_id, base + timedelta(seconds=10), path="/exit")
    # When 8 events open the next session at once, then the reaper runs
    later = base + TIMEOUT + timedelta(minutes=1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: track(stores, project_id, later, name=f"e{i}"), range(8)))
    assert reap(reaper, later + timedelta(minutes=1)).ended == 0
    # Then the old session got exactly one session_end, with its own exit page and duration, and the new one none
    [end] = ends(stored_events, project_id)
    assert end["sessionId"] == first.session_id
    assert end["path"] == "/exit" and end["properties"]["__duration"] == 10_000
    assert len({result.session_id for result in results}) == 1 != first.session_id
    starts = [e for e in stored_events(project_id, with_session_starts=True) if e["name"] == "session_start"]
    assert len(starts) == 2


def test_a_session_idle_over_midnight_still_ends_once_when_the_device_comes_back(
    stores, reaper, project_id, base, stored_events
):
    # Given a session that went idle at 23:40, and the same device back at 00:11 (a new day's device id)
    evening = base.replace(hour=23, minute=40)
    first = track(stores, project_id, evening, path="/a")
    track(stores, project_id, evening + timedelta(seconds=10), path="/exit")
    later = evening + TIMEOUT + timedelta(minutes=1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: track(stores, project_id, later, name=f"e{i}"), range(8)))
    # When the reaper runs after them
    reap(reaper, later + timedelta(minutes=1))
    # Then the old session has exactly one session_end (at the boundary or from the reaper), with its exit page,
    # and the returning events share one new session
    [end] = ends(stored_events, project_id)
    assert end["sessionId"] == first.session_id and end["path"] == "/exit"
    assert len({result.session_id for result in results}) == 1 != first.session_id


def test_events_racing_a_reaper_at_the_boundary_end_the_old_session_once(
    stores, reaper, project_id, base, stored_events
):
    # Given an idle session
    first = track(stores, project_id, base, path="/a")
    later = base + TIMEOUT + timedelta(minutes=2)

    # When new events and reapers run at once
    def work(index: int) -> object:
        return reap(reaper, later) if index % 2 else track(stores, project_id, later, name=f"e{index}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(16)))
    # Then the old session ended exactly once, and every new event is in one new session
    assert [end["sessionId"] for end in ends(stored_events, project_id)] == [first.session_id]
    news = {event["sessionId"] for event in stored_events(project_id) if event["name"].startswith("e")}
    assert len(news) == 1 and first.session_id not in news


def test_repeated_group_ids_are_counted_once_in_the_record(stores, reaper, project_id, base):
    # Given events whose groups repeat an id (stored as sent), continuing and starting a session
    track(stores, project_id, base, path="/a")
    body_groups = ["org", "org", "team"]
    request = {"type": "track", "payload": {"name": "click", "groups": body_groups}}
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    answer = ingest(
        parse_track_request(json.dumps(request)),
        RequestContext(caller, META, base + timedelta(seconds=1)),
        stores,
        UNIT_TEST_ENRICHER,
    )
    # Then the record's string set holds each id once
    assert isinstance(answer, TrackResult)
    record = reaper.read_record(project_id, answer.device_id)
    assert record is not None and record.groups == ("org", "team")
