"""Ingestion: a validated request becomes exactly one stored event, attributed to the authenticated caller."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.models.requests import TrackRequest, parse_track_request
from tests.constants import SAFARI
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, accepted, fake_stores, tracked

NOW = datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)  # to the millisecond, not tests.constants.NOW
# an agent other than SAFARI (an older Chrome than tests.constants.CHROME)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@cache
def stores(events: FakeEventStore) -> Stores:
    """One set of stores per test (each test makes its own event store)."""
    return fake_stores(events)


def caller(project_id: str = "project-a") -> Caller:
    return Caller(
        project_id=project_id,
        client_id="3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
        client_type=ClientType.WRITE,
        secret_auth=True,
    )


def meta(user_agent: str = SAFARI, source_ip: str = "203.0.113.7") -> RequestMeta:
    return RequestMeta(request_id="req-1", source_ip=source_ip, user_agent=user_agent)


def request(type_: str = "track", **payload: Any) -> TrackRequest:
    if type_ == "track":
        payload = {"name": "screen_view", **payload}
    return parse_track_request(json.dumps({"type": type_, "payload": payload}))


def test_track_stores_exactly_one_event_with_the_payload_and_the_callers_identity() -> None:
    # Given a track request with properties, a numeric profile id and groups
    store = FakeEventStore()
    track = request(properties={"path": "/home", "price": 9.5}, profileId=42, groups=["org-1"])

    # When it is ingested for a caller of project-a
    ingest(track, RequestContext(caller("project-a"), meta(), NOW), stores(store), UNIT_TEST_ENRICHER)

    # Then exactly one event is stored, carrying the payload and the caller's project and client
    assert len(tracked(store)) == 1
    event = tracked(store)[0]
    assert event.name == "screen_view"
    assert event.properties == {"path": "/home", "price": 9.5}
    assert event.profile_id == "42"  # one profile, however the SDK typed its id
    assert event.groups == ["org-1"]
    assert event.project_id == "project-a"
    assert event.client_id == "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11"
    assert event.received_at == NOW
    assert event.created_at == NOW
    assert event.id


def test_track_without_profile_or_groups_stores_none_for_them() -> None:
    # Given a track request with only a name
    store = FakeEventStore()

    # When it is ingested
    ingest(request(), RequestContext(caller(), meta(), NOW), stores(store), UNIT_TEST_ENRICHER)

    # Then the event has no profile and no groups (never filled in automatically)
    assert tracked(store)[0].profile_id is None
    assert tracked(store)[0].groups is None
    assert tracked(store)[0].properties == {}


def test_track_returns_the_device_and_session_ids_of_the_stored_event() -> None:
    # Given a track request
    store = FakeEventStore()

    # When it is ingested
    result = accepted(ingest(request(), RequestContext(caller(), meta(), NOW), stores(store), UNIT_TEST_ENRICHER))

    # Then the ids handed back are the ones stored with the event
    assert result.device_id == tracked(store)[0].device_id
    assert result.session_id == tracked(store)[0].session_id
    assert result.device_id and result.session_id


def test_same_user_agent_ip_and_project_get_the_same_device_and_session() -> None:
    # Given two requests from the same browser, address and project, a minute apart
    store = FakeEventStore()

    # When both are ingested
    first = accepted(
        ingest(request(), RequestContext(caller(), meta(SAFARI, "203.0.113.7"), NOW), stores(store), UNIT_TEST_ENRICHER)
    )
    second = accepted(
        ingest(
            request(),
            RequestContext(caller(), meta(SAFARI, "203.0.113.7"), NOW.replace(minute=35)),
            stores(store),
            UNIT_TEST_ENRICHER,
        )
    )

    # Then they belong to one device and one session (cookieless identification)
    assert first.device_id == second.device_id
    assert first.session_id == second.session_id


@pytest.mark.parametrize(
    ("other_meta", "other_project"),
    [
        pytest.param(meta(CHROME, "203.0.113.7"), "project-a", id="different user agent"),
        pytest.param(meta(SAFARI, "198.51.100.9"), "project-a", id="different ip"),
        pytest.param(meta(SAFARI, "203.0.113.7"), "project-b", id="different project"),
    ],
)
def test_a_different_user_agent_ip_or_project_gets_a_different_device(
    other_meta: RequestMeta, other_project: str
) -> None:
    # Given a device seen in project-a
    store = FakeEventStore()
    seen = accepted(
        ingest(
            request(),
            RequestContext(caller("project-a"), meta(SAFARI, "203.0.113.7"), NOW),
            stores(store),
            UNIT_TEST_ENRICHER,
        )
    )

    # When a request differing in one input is ingested
    other = accepted(
        ingest(request(), RequestContext(caller(other_project), other_meta, NOW), stores(store), UNIT_TEST_ENRICHER)
    )

    # Then it is another device (and devices are never linkable across projects)
    assert other.device_id != seen.device_id


def test_every_stored_event_gets_its_own_id() -> None:
    # Given two requests of the same device at the same instant
    store = FakeEventStore()

    # When both are ingested
    ingest(request(name="first"), RequestContext(caller(), meta(), NOW), stores(store), UNIT_TEST_ENRICHER)
    ingest(request(name="second"), RequestContext(caller(), meta(), NOW), stores(store), UNIT_TEST_ENRICHER)

    # Then they are two events, neither overwriting the other
    assert len({event.id for event in tracked(store)}) == 2


def test_an_identical_request_within_two_seconds_is_a_double_send_stored_once() -> None:
    # Given a request, When exactly the same one arrives again a second later (OpenPanel's double-send rule)
    store = FakeEventStore()
    first = accepted(ingest(request(), RequestContext(caller(), meta(), NOW), stores(store), UNIT_TEST_ENRICHER))
    again = accepted(
        ingest(
            request(), RequestContext(caller(), meta(), NOW + timedelta(seconds=1)), stores(store), UNIT_TEST_ENRICHER
        )
    )
    # Then it is answered as the first was, and stored once; after the window it is a new event
    assert (again.device_id, again.session_id) == (first.device_id, first.session_id)
    assert len(tracked(store)) == 1
    ingest(request(), RequestContext(caller(), meta(), NOW + timedelta(seconds=3)), stores(store), UNIT_TEST_ENRICHER)
    assert len(tracked(store)) == 2
