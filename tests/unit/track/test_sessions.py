"""Device and session ids: cookieless, daily-salted, sessions end after 30 minutes of silence."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from beacon.domain.auth import hash_secret
from beacon.domain.entities import RequestContext, RequestMeta
from beacon.domain.ids import derive_device_id, derive_device_ids
from beacon.domain.ingest import current_ids, ingest
from beacon.models.requests import parse_track_request
from tests.constants import CALLER, META
from tests.constants import NOVEMBER_NOON as NOON
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeSessionStore,
    accepted,
    fake_stores,
    tracked,
)

SECRET = b"unit-test-stack-secret"


class Device:
    def __init__(self) -> None:
        self.events = FakeEventStore()
        self.stores = fake_stores(self.events)

    def track(self, at: datetime, name: str = "page_view", meta: RequestMeta = META):
        request = parse_track_request(json.dumps({"type": "track", "payload": {"name": name}}))
        return accepted(ingest(request, RequestContext(CALLER, meta, at), self.stores, UNIT_TEST_ENRICHER))

    def names(self) -> list[str]:
        return [event.name for event in self.events.events]


def test_first_event_starts_a_session_with_a_session_start_event():
    device = Device()
    result = device.track(NOON)
    assert device.names() == ["session_start", "page_view"]
    start, event = device.events.events
    assert start.session_id == event.session_id == result.session_id
    assert start.created_at < event.created_at  # session_start sorts first


def test_activity_within_30_minutes_keeps_the_session():
    device = Device()
    first = device.track(NOON)
    second = device.track(NOON + timedelta(minutes=29))
    third = device.track(NOON + timedelta(minutes=58))  # 29 minutes after the second
    assert first.session_id == second.session_id == third.session_id
    assert device.names().count("session_start") == 1


def test_31_minutes_of_silence_start_a_new_session():
    device = Device()
    first = device.track(NOON)
    second = device.track(NOON + timedelta(minutes=31))
    assert first.session_id != second.session_id
    assert first.device_id == second.device_id
    assert device.names().count("session_start") == 2


def test_device_ids_rotate_daily_and_need_the_stack_secret():
    today = derive_device_ids(SECRET, "p", "ua", "203.0.113.7", NOON)
    tomorrow = derive_device_ids(SECRET, "p", "ua", "203.0.113.7", NOON + timedelta(days=1))
    other_stack = derive_device_ids(b"another stack", "p", "ua", "203.0.113.7", NOON)
    assert tomorrow.yesterday == today.today != tomorrow.today
    assert other_stack.today != today.today
    assert len(today.today) == 32 and "203.0.113.7" not in today.today


def test_a_visit_spanning_midnight_keeps_yesterdays_device_id():
    device = Device()
    before = device.track(datetime(2026, 11, 22, 23, 50, tzinfo=UTC))
    after = device.track(datetime(2026, 11, 23, 0, 10, tzinfo=UTC))
    assert (after.device_id, after.session_id) == (before.device_id, before.session_id)
    # and once that visit ends, the new day's id takes over
    later = device.track(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert later.device_id != before.device_id


def test_device_id_endpoint_answers_the_active_session_and_stores_nothing():
    device = Device()
    tracked_result = device.track(NOON)
    stored = len(device.events.events)
    peek = current_ids(RequestContext(CALLER, META, NOON + timedelta(minutes=5)), device.stores, UNIT_TEST_ENRICHER)
    assert (peek.device_id, peek.session_id) == (tracked_result.device_id, tracked_result.session_id)
    assert len(device.events.events) == stored


def test_device_id_endpoint_without_an_active_session_does_not_start_one():
    device = Device()
    peek = current_ids(RequestContext(CALLER, META, NOON), device.stores, UNIT_TEST_ENRICHER)
    assert peek.session_id and device.stores.sessions.active_session("project-a", peek.device_id, NOON) is None


def test_device_id_override_is_used_as_is():
    device = Device()
    request = parse_track_request(
        json.dumps({"type": "track", "payload": {"name": "a", "properties": {"__deviceId": "dev-1"}}})
    )
    result = accepted(ingest(request, RequestContext(CALLER, META, NOON), device.stores, UNIT_TEST_ENRICHER))
    assert result.device_id == "dev-1" == tracked(device.events)[0].device_id


def test_a_lone_surrogate_in_a_header_is_hashed_not_a_crash() -> None:
    assert derive_device_id(b"salt", "p", "\ud800", "203.0.113.7")
    assert hash_secret("sec_\ud800", "00" * 16)


@pytest.mark.parametrize("user_agent", ["curl/8.5.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"])
def test_same_agent_and_ip_same_device_different_agent_different_device(user_agent):
    device = Device()
    first = device.track(NOON)
    again = device.track(NOON + timedelta(minutes=1))
    other = device.track(NOON + timedelta(minutes=1), meta=RequestMeta("r", "203.0.113.7", user_agent))
    assert first.device_id == again.device_id != other.device_id


class RacedSessionStore(FakeSessionStore):
    """The first session start loses the race to an identical request (same body, same client: the same
    fingerprint) that started the session, with its own event, a moment earlier in another container."""

    def __init__(self, events: FakeEventStore) -> None:
        super().__init__(events)
        self.raced = False

    def start_session(
        self, project_id, device_id, session_id, now, events, idempotency_key=None, fingerprint=None, activity=None
    ):
        if not self.raced:
            self.raced = True
            twin = [replace(event, id=f"twin-{index}", session_id="s-winner") for index, event in enumerate(events)]
            super().start_session(project_id, device_id, "s-winner", now, twin, idempotency_key, fingerprint, activity)
        return super().start_session(
            project_id, device_id, session_id, now, events, idempotency_key, fingerprint, activity
        )


def test_a_double_send_that_loses_the_session_race_is_answered_as_the_winner_and_not_stored_again():
    # Given a fresh device whose first event is sent twice at once (no key): the copy reaching the other container
    # starts the session first (issue 15, finding 10)
    events = FakeEventStore()
    stores = replace(fake_stores(events), sessions=RacedSessionStore(events))
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "purchase"}}))

    # When this copy finds the session started and joins it
    result = accepted(ingest(request, RequestContext(CALLER, META, NOON), stores, UNIT_TEST_ENRICHER))

    # Then it answers the winner's session and stores nothing: the purchase is stored once
    assert result.session_id == "s-winner"
    assert [event.name for event in tracked(events)] == ["purchase"]
