"""Sessions against DynamoDB Local: conditional writes, one transaction per new session, no races."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.entities import NO_SOURCE, ActiveSession, Caller, ClientType, Event, RequestContext, TrafficSource
from beacon.domain.ids import new_event_id
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.models.requests import parse_track_request
from beacon.store.factory import track_stores
from tests.constants import META
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, accepted

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def stores(dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return track_stores(TrackSettings.from_env(template_env), dynamodb)


def track(stores: Stores, project_id: str, at: datetime, name: str = "page_view"):
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": name}}))
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    return ingest(request, RequestContext(caller, META, at), stores, UNIT_TEST_ENRICHER)


def test_first_event_stores_session_start_and_event_together(stores, project_id, stored_events):
    result = track(stores, project_id, NOW)
    events = stored_events(project_id, with_session_starts=True)
    assert [event["name"] for event in events] == ["session_start", "page_view"]
    assert {event["sessionId"] for event in events} == {result.session_id}


def test_session_continues_then_ends_after_31_minutes_of_silence(stores, project_id, stored_events):
    first = track(stores, project_id, NOW)
    second = track(stores, project_id, NOW + timedelta(minutes=20))
    third = track(stores, project_id, NOW + timedelta(minutes=51))
    assert first.session_id == second.session_id != third.session_id
    assert [event["name"] for event in stored_events(project_id, with_session_starts=True)].count("session_start") == 2


def test_20_parallel_first_events_of_one_device_make_exactly_one_session_start(stores, project_id, stored_events):
    # Given a device never seen, When 20 events arrive at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: track(stores, project_id, NOW, f"e{i}"), range(20)))
    # Then all share one session, and one session_start was stored beside the 20 events
    events = stored_events(project_id, with_session_starts=True)
    assert len({result.session_id for result in results}) == 1
    assert [event["name"] for event in events].count("session_start") == 1
    assert len(events) == 21


def test_active_session_is_read_without_writing(stores, project_id):
    result = track(stores, project_id, NOW)
    sessions = stores.sessions
    assert sessions.active_session(project_id, result.device_id, NOW + timedelta(minutes=10)) == result.session_id
    assert sessions.active_session(project_id, result.device_id, NOW + timedelta(minutes=31)) is None


@pytest.mark.parametrize("trial", range(5))
def test_four_copies_of_a_first_event_sent_at_once_store_it_once(stores, project_id, stored_events, trial):
    # Given a fresh device whose first event (no key) is sent four times at the same instant, as a retrying SDK
    # can, reaching four containers (issue 15, finding 10)
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "purchase"}}))
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    start = threading.Barrier(4)

    def send(_: int) -> str:
        start.wait()
        return accepted(ingest(request, RequestContext(caller, META, NOW), stores, UNIT_TEST_ENRICHER)).session_id

    # When they race
    with ThreadPoolExecutor(max_workers=4) as pool:
        sessions = set(pool.map(send, range(4)))

    # Then all four answer one session, and the event is stored exactly once
    names = [event["name"] for event in stored_events(project_id, with_session_starts=True)]
    assert len(sessions) == 1
    assert sorted(names) == ["purchase", "session_start"]


def _event(project_id: str, device_id: str, session_id: str, at: datetime, source: TrafficSource) -> Event:
    return Event(
        id=new_event_id(at),
        project_id=project_id,
        client_id="c-1",
        name="screen_view",
        properties={"__query": dict(source.campaign)} if source.campaign else {},
        profile_id=None,
        groups=None,
        device_id=device_id,
        session_id=session_id,
        created_at=at,
        received_at=at,
        referrer=source.referrer,
        referrer_name=source.referrer_name,
        referrer_type=source.referrer_type,
    )


def test_a_session_remembers_its_first_events_source_and_a_new_one_forgets_the_old(stores, project_id):
    # Given a session opened by an event from a search engine
    sessions = stores.sessions
    google = TrafficSource("https://www.google.com", "Google", "search")
    assert sessions.start_session(project_id, "d-1", "s-1", NOW, [_event(project_id, "d-1", "s-1", NOW, google)])

    # When a later event continues it, Then the update's answer carries that source (no extra read)
    later = NOW + timedelta(minutes=5)
    assert sessions.continue_session(project_id, "d-1", later) == ActiveSession("s-1", google)

    # And when the device comes back after the timeout with no referrer, the new session has no source of its own
    back = NOW + timedelta(hours=2)
    assert sessions.start_session(project_id, "d-1", "s-2", back, [_event(project_id, "d-1", "s-2", back, NO_SOURCE)])
    assert sessions.continue_session(project_id, "d-1", back + timedelta(minutes=1)) == ActiveSession("s-2")


def test_a_session_remembers_its_campaign_parameters_and_a_new_one_forgets_them(stores, project_id):
    # Given a session opened by a campaign page view
    sessions = stores.sessions
    campaign = TrafficSource("", "newsletter", "", (("utm_campaign", "winter"), ("utm_source", "Newsletter")))
    assert sessions.start_session(project_id, "d-2", "s-1", NOW, [_event(project_id, "d-2", "s-1", NOW, campaign)])

    # When a later event continues it, Then the answer carries the campaign too
    assert sessions.continue_session(project_id, "d-2", NOW + timedelta(minutes=5)) == ActiveSession("s-1", campaign)

    # And a new session after the timeout without one has none
    back = NOW + timedelta(hours=2)
    assert sessions.start_session(project_id, "d-2", "s-2", back, [_event(project_id, "d-2", "s-2", back, NO_SOURCE)])
    assert sessions.continue_session(project_id, "d-2", back + timedelta(minutes=1)) == ActiveSession("s-2")
