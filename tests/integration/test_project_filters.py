"""Project filters stored in the entities table, and enforced through the local gateway."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from beacon.store.projects import DynamoDBProjectSettingsStore

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBProjectSettingsStore:
    return DynamoDBProjectSettingsStore(template_env["ENTITIES_TABLE"], client=dynamodb, cache_seconds=0)


def test_filters_are_added_and_removed_as_sets(settings, project_id):
    settings.change_filters(project_id, block_ips=["203.0.113.0/24", "198.51.100.7/32"], block_profiles=["u1", "u2"])
    current = settings.change_filters(project_id, unblock_ips=["198.51.100.7/32"], unblock_profiles=["u2"])
    assert [str(network) for network in current.blocked_networks] == ["203.0.113.0/24"]
    assert current.blocked_profile_ids == {"u1"}


def test_a_project_without_settings_has_no_filters(settings, project_id):
    filters = settings.get_filters(project_id)
    assert filters.blocked_networks == () and filters.blocked_profile_ids == frozenset()


def test_filters_are_cached_per_container(dynamodb, template_env, project_id):
    ticks = [0.0]
    cached = DynamoDBProjectSettingsStore(template_env["ENTITIES_TABLE"], client=dynamodb, clock=lambda: ticks[0])
    writer = DynamoDBProjectSettingsStore(template_env["ENTITIES_TABLE"], client=dynamodb, cache_seconds=0)
    assert cached.get_filters(project_id).blocked_profile_ids == frozenset()
    writer.change_filters(project_id, block_profiles=["u1"])
    assert cached.get_filters(project_id).blocked_profile_ids == frozenset()  # still cached
    ticks[0] = 61.0
    assert cached.get_filters(project_id).blocked_profile_ids == {"u1"}


def test_a_blocked_ip_is_refused_through_the_gateway(gateway_url, create_client, settings, project_id, stored_events):
    # Given a project that blocks the documentation network its server forwards users from
    settings.change_filters(project_id, block_ips=["203.0.113.0/24"])
    client = create_client(project_id)
    body = json.dumps({"type": "track", "payload": {"name": "a"}}).encode()
    request = urllib.request.Request(f"{gateway_url}/track", data=body, method="POST")  # noqa: S310 - 127.0.0.1
    for name, value in {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "x-client-ip": "203.0.113.9",
    }.items():
        request.add_header(name, value)
    # When an event comes from that network, Then it is a 401 naming the filter and nothing is stored
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert refused.value.code == 401
    assert json.loads(refused.value.read()) == {"error": "Blocked by the project's IP filter", "status": 401}
    assert stored_events(project_id) == []
