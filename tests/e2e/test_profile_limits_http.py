"""A full profile over HTTP: a clear 409 naming the limit, never a 5xx (which means a dependency is down)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_track_http import auth_headers, post

pytestmark = pytest.mark.e2e


def test_identify_past_the_profile_bound_is_a_409_and_counters_still_work(gateway_url, create_client, project_id):
    # Given a profile identified with about 60 KB at a time (each body under the 64 KiB limit) past 256 KB
    client = create_client(project_id)
    headers = auth_headers(client)
    for batch in range(5):
        properties = {f"k{batch}_{index}": "x" * 4_000 for index in range(15)}
        body = {"type": "identify", "payload": {"profileId": "u-1", "properties": properties}}
        status, _, answer = post(f"{gateway_url}/track", json.dumps(body), headers)
        assert status == 200, answer
    # When it is identified once more
    body = {"type": "identify", "payload": {"profileId": "u-1", "firstName": "Joe"}}
    status, _, answer = post(f"{gateway_url}/track", json.dumps(body), headers)
    # Then the answer is a 409 that says the profile is full and names the bound
    assert status == 409, answer
    assert answer["error"].startswith("The profile is full") and "256 KB" in answer["error"]
    assert [detail["type"] for detail in answer["details"]] == ["profile_full"]
    # And its counters still work
    body = {"type": "increment", "payload": {"profileId": "u-1", "property": "visits"}}
    status, _, answer = post(f"{gateway_url}/track", json.dumps(body), headers)
    assert status == 200, answer
