"""/insights/live's store against DynamoDB Local: devices whose session was active in the window, counted from the
reaper's byIdleBucket index (a COUNT Query per minute and shard), one project never counting another's, and no
write added to a track event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.models.requests import parse_track_request
from beacon.store.factory import track_stores
from beacon.store.live import DynamoDBLiveVisitors
from beacon.store.sessions import IDLE_SHARDS, bucket_value
from tests.constants import FIREFOX
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, accepted

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def track(stores: Any, project_id: str, device: int, at: datetime) -> str:
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "screen_view"}}))
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    meta = RequestMeta("r", f"203.0.113.{device}", FIREFOX)
    return accepted(ingest(request, RequestContext(caller, meta, at), stores, UNIT_TEST_ENRICHER)).device_id


def test_live_counts_the_devices_of_the_project_seen_since_the_moment(dynamodb, template_env, project_id):
    stores = track_stores(TrackSettings.from_env(template_env), dynamodb)
    live = DynamoDBLiveVisitors(template_env["SESSIONS_TABLE"], dynamodb)
    # Given 12 devices active 2 minutes ago, 3 of them again just now, 5 others 20 minutes ago
    devices = {track(stores, project_id, device, NOW - timedelta(minutes=2)) for device in range(12)}
    for device in range(3):
        track(stores, project_id, device, NOW)
    for device in range(20, 25):
        track(stores, project_id, device, NOW - timedelta(minutes=20))
    # And another project's device active now
    track(stores, f"{project_id}x", 1, NOW)
    # Then the last 5 minutes count the 12, each once; the last 30 the 17 (the other project's device in neither)
    assert live.count_seen_since(project_id, NOW - timedelta(minutes=5), NOW) == 12
    assert live.count_seen_since(project_id, NOW - timedelta(minutes=30), NOW) == 17
    # And the minute after now has seen none of them (the index's resolution is the minute)
    later = NOW + timedelta(minutes=1)
    assert live.count_seen_since(project_id, later, later) == 0
    assert len(devices) == 12


def test_a_session_that_ended_is_not_live(dynamodb, template_env, project_id):
    stores = track_stores(TrackSettings.from_env(template_env), dynamodb)
    live = DynamoDBLiveVisitors(template_env["SESSIONS_TABLE"], dynamodb)
    # Given two devices active now, one of whose sessions the reaper then ends (it removes the index attribute)
    track(stores, project_id, 1, NOW)
    ended = track(stores, project_id, 2, NOW)
    dynamodb.update_item(
        TableName=template_env["SESSIONS_TABLE"],
        Key={"pk": {"S": f"{project_id}#{ended}"}},
        UpdateExpression="SET endedAt = :now REMOVE idleBucket",
        ExpressionAttributeValues={":now": {"S": NOW.isoformat()}},
    )
    # Then only the other counts
    assert live.count_seen_since(project_id, NOW - timedelta(minutes=5), NOW) == 1


def test_the_index_shards_spread_one_projects_devices_and_are_stable():
    shards = {bucket_value(f"shop#device-{n}", 7).split("#")[1] for n in range(200)}
    assert shards == {str(n) for n in range(IDLE_SHARDS)}
    assert bucket_value("shop#device-7", 7) == bucket_value("shop#device-7", 7)
