"""/insights/live's store against DynamoDB Local: devices whose session was active in the window, counted from the
sessions table's byProjectLastSeen index (a COUNT Query per shard), one project never counting another's."""

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
from beacon.store.live import LIVE_SHARDS, DynamoDBLiveVisitors, live_shard
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
    # Then the last 5 minutes count the 12, each once; the last 30 the 17
    assert live.count_seen_since(project_id, NOW - timedelta(minutes=5)) == 12
    assert live.count_seen_since(project_id, NOW - timedelta(minutes=30)) == 17
    assert live.count_seen_since(project_id, NOW + timedelta(seconds=1)) == 0
    assert len(devices) == 12


def test_the_index_shard_is_the_projects_and_stable_per_device():
    shards = {live_shard("shop", f"device-{n}") for n in range(200)}
    assert shards == {f"shop#{n}" for n in range(LIVE_SHARDS)}
    assert live_shard("shop", "device-7") == live_shard("shop", "device-7")
