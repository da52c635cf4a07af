"""Server-side and late events against DynamoDB Local (issue 17 items 4 and 5, DESIGN.md §49): a server event joins
its profile's live browser session through the `byLiveProfile` index, or carries none; a late `/track` event is
stored outside every session and extends none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta, TrackResult
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.models.requests import parse_track_request
from beacon.store.factory import track_stores
from tests.constants import FIREFOX
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, accepted

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
SERVER = "Go-http-client/1.1"


@pytest.fixture
def stores(dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return track_stores(TrackSettings.from_env(template_env), dynamodb)


def send(stores: Stores, project_id: str, at: datetime, user_agent: str, source_ip: str, **payload: Any) -> TrackResult:
    request = parse_track_request(json.dumps({"type": "track", "payload": payload}))
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    meta = RequestMeta("r", source_ip, user_agent)
    return accepted(ingest(request, RequestContext(caller, meta, at), stores, UNIT_TEST_ENRICHER))


def visit(stores: Stores, project_id: str, profile_id: str, ip: str, at: datetime = NOW) -> TrackResult:
    properties = {"__path": "https://shop.example/checkout?utm_campaign=spring", "__referrer": "https://news.example/"}
    return send(stores, project_id, at, FIREFOX, ip, name="screen_view", profileId=profile_id, properties=properties)


def test_a_server_event_joins_the_live_browser_session_of_its_profile(stores, project_id, stored_events):
    # Given profile u-1's browser visit (a campaign link from a news site), and u-2's on another browser
    mine = visit(stores, project_id, "u-1", "203.0.113.7")
    visit(stores, project_id, "u-2", "203.0.113.8")
    # When the backend reports u-1's payment a minute later
    paid = send(
        stores, project_id, NOW + timedelta(minutes=1), SERVER, "198.51.100.20", name="invoice_paid", profileId="u-1"
    )
    # Then it is in u-1's session, with the visit's page, source, device and geo
    assert (paid.device_id, paid.session_id) == (mine.device_id, mine.session_id)
    stored = {event["name"]: event for event in stored_events(project_id) if event["profileId"] == "u-1"}
    event = stored["invoice_paid"]
    assert (event["sessionId"], event["deviceId"]) == (mine.session_id, mine.device_id)
    assert (event["path"], event["referrer"]) == ("/checkout", stored["screen_view"]["referrer"])
    assert event["properties"]["__query"] == {"utm_campaign": "spring"}
    assert event["device"]["browser"] == "Firefox"
    # And no session_start beyond the two visits'
    starts = [e for e in stored_events(project_id, with_session_starts=True) if e["name"] == "session_start"]
    assert len(starts) == 2


def test_server_events_of_two_profiles_without_a_browser_session_share_nothing(stores, project_id, stored_events):
    # Given no browser session for u-3 and u-4, When one server reports for both
    first = send(stores, project_id, NOW, SERVER, "198.51.100.20", name="invoice_paid", profileId="u-3")
    second = send(
        stores, project_id, NOW + timedelta(seconds=1), SERVER, "198.51.100.20", name="invoice_paid", profileId="u-4"
    )
    # Then neither has a session or a device, and nothing started a session
    assert [(first.device_id, first.session_id), (second.device_id, second.session_id)] == [("", ""), ("", "")]
    events = stored_events(project_id, with_session_starts=True)
    assert [(e["name"], e["sessionId"], e["deviceId"]) for e in events] == [("invoice_paid", "", "")] * 2
    assert events[0]["device"]["device"] == "server"


def test_a_server_event_finds_no_session_once_the_visit_went_quiet(stores, project_id, template_env):
    timeout = timedelta(seconds=TrackSettings.from_env(template_env).session_timeout_seconds)
    visit(stores, project_id, "u-5", "203.0.113.9")
    later = send(
        stores,
        project_id,
        NOW + timeout + timedelta(seconds=1),
        SERVER,
        "198.51.100.20",
        name="renewal",
        profileId="u-5",
    )
    assert (later.device_id, later.session_id) == ("", "")


def test_a_late_track_event_is_stored_outside_every_session_and_extends_none(
    stores, project_id, stored_events, dynamodb, template_env
):
    # Given a browser's live session
    live = send(stores, project_id, NOW, FIREFOX, "203.0.113.10", name="live")
    table = template_env["SESSIONS_TABLE"]
    key = {"pk": {"S": f"{project_id}#{live.device_id}"}}
    before = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    # When the same browser sends an event from an hour ago
    stamp = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    late = send(
        stores,
        project_id,
        NOW + timedelta(minutes=1),
        FIREFOX,
        "203.0.113.10",
        name="late",
        properties={"__timestamp": stamp},
    )
    # Then it is stored with no session, under the device's id, and the session item is untouched
    assert (late.device_id, late.session_id) == (live.device_id, "")
    stored = {event["name"]: event for event in stored_events(project_id)}
    assert stored["late"]["sessionId"] == "" and stored["late"]["deviceId"] == live.device_id
    after = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert after == before
