"""Enrichment over HTTP: what the local gateway's proxy events carry ends up on stored events and profiles."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from beacon.store.profiles import DynamoDBProfileStore
from tests.constants import CHROME

pytestmark = pytest.mark.e2e
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
VIEWER_HEADERS = {
    "CloudFront-Viewer-Country": "BR",
    "CloudFront-Viewer-Country-Name": "Brazil",
    "CloudFront-Viewer-Country-Region": "SP",
    "CloudFront-Viewer-City": "S%C3%A3o%20Paulo",
    "CloudFront-Viewer-Latitude": "-23.55050",
    "CloudFront-Viewer-Longitude": "-46.63330",
    "CloudFront-Viewer-Time-Zone": "America/Sao_Paulo",
}


def call(url: str, client: dict[str, str], body: Any = None, method: str = "POST", **headers: str):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - 127.0.0.1 only
    for name, value in {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        **headers,
    }.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def track(gateway_url: str, client: dict[str, str], name: str = "page_view", **headers: str):
    return call(f"{gateway_url}/track", client, {"type": "track", "payload": {"name": name}}, **headers)


def test_events_carry_device_and_geo_from_the_request(gateway_url, create_client, project_id, stored_events):
    client = create_client(project_id)
    status, _ = track(gateway_url, client, **{"User-Agent": IPHONE, **VIEWER_HEADERS})
    assert status == 200
    [event] = stored_events(project_id)
    assert (event["device"]["device"], event["device"]["os"], event["device"]["brand"]) == ("mobile", "iOS", "Apple")
    assert event["geo"]["city"] == "São Paulo" and event["geo"]["country"] == "BR"
    assert event["geo"]["timeZone"] == "America/Sao_Paulo"
    assert "ip" not in event  # raw IPs are stored only for projects that opt in


def test_a_server_sending_for_a_user_does_not_get_its_own_location_attributed(
    gateway_url, create_client, project_id, stored_events
):
    # Given a server that forwards its user's IP; CloudFront's viewer headers describe the server
    client = create_client(project_id)
    track(
        gateway_url, client, **{"User-Agent": "node-fetch/1.0", "openpanel-client-ip": "203.0.113.50", **VIEWER_HEADERS}
    )
    # Then no location is attributed (no GeoIP database configured), and the agent is a server
    [event] = stored_events(project_id)
    assert "geo" not in event
    assert event["device"]["device"] == "server"


def test_first_event_starts_a_session_and_device_id_endpoint_reports_it(
    gateway_url, create_client, project_id, stored_events
):
    client = create_client(project_id)
    _, tracked = track(gateway_url, client, **{"User-Agent": CHROME})
    names = [event["name"] for event in stored_events(project_id, with_session_starts=True)]
    assert names == ["session_start", "page_view"]
    # When the device-id endpoint is asked from the same browser and address
    status, ids = call(f"{gateway_url}/track/device-id", client, method="GET", **{"User-Agent": CHROME})
    # Then it answers the same device and session, and stores nothing
    assert (status, ids) == (200, tracked)
    assert len(stored_events(project_id, with_session_starts=True)) == 2


def test_different_browsers_are_different_devices(gateway_url, create_client, project_id):
    client = create_client(project_id)
    first = track(gateway_url, client, **{"User-Agent": CHROME})[1]
    again = track(gateway_url, client, **{"User-Agent": CHROME})[1]
    other = track(gateway_url, client, **{"User-Agent": IPHONE})[1]
    assert first == again
    assert other["deviceId"] != first["deviceId"]


def test_identify_stores_the_device_and_location_on_the_profile(
    gateway_url, create_client, project_id, dynamodb, template_env
):
    client = create_client(project_id)
    body = {"type": "identify", "payload": {"profileId": "u-1", "firstName": "Ada"}}
    status, _ = call(f"{gateway_url}/track", client, body, **{"User-Agent": CHROME, **VIEWER_HEADERS})
    assert status == 200
    profile = DynamoDBProfileStore(template_env["ENTITIES_TABLE"], client=dynamodb).get_profile(project_id, "u-1")
    assert profile is not None
    assert profile["device"]["browser"] == "Chrome" and profile["geo"]["city"] == "São Paulo"
