"""POST /track over HTTP through the local gateway, the authorizer and the track function, into DynamoDB Local."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.constants import ROOT

pytestmark = pytest.mark.e2e


def post(url: str, body: bytes | str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def auth_headers(client: dict[str, str]) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": "curl/8.5.0",
    }


TRACK_BODY = {"type": "track", "payload": {"name": "my_event", "properties": {"foo": "bar"}}}


def test_track_stores_the_event_and_answers_device_and_session(gateway_url, create_client, project_id, stored_events):
    # Given a client of a fresh project
    client = create_client(project_id)
    # When the README's curl example is sent
    status, headers, body = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), auth_headers(client))
    # Then it answers 200 with ids, and the event is stored under the client's project with both times
    assert status == 200, body
    assert set(body) == {"deviceId", "sessionId"}
    assert headers["Content-Type"] == "application/json"
    [event] = stored_events(project_id)
    assert (event["name"], event["properties"], event["clientId"]) == ("my_event", {"foo": "bar"}, client["clientId"])
    assert event["deviceId"] == body["deviceId"] and event["sessionId"] == body["sessionId"]
    assert event["createdAt"] and event["receivedAt"]


def test_same_caller_gets_the_same_device_id(gateway_url, create_client, project_id):
    client = create_client(project_id)
    first = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), auth_headers(client))[2]
    second = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), auth_headers(client))[2]
    assert first["deviceId"] == second["deviceId"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"openpanel-client-secret": "sec_wrong"}, id="wrong-secret"),
        pytest.param({"openpanel-client-secret": ""}, id="empty-secret"),
        pytest.param({"openpanel-client-id": "8b0c7f0e-2f4e-4d8e-9a55-000000000000"}, id="unknown-client"),
        pytest.param({"openpanel-client-id": "not-a-uuid"}, id="malformed-client-id"),
    ],
)
def test_bad_credentials_are_401_and_store_nothing(gateway_url, create_client, project_id, stored_events, change):
    # Given a valid client whose credentials are then spoiled
    headers = {**auth_headers(create_client(project_id)), **change}
    # When it sends an event
    status, response_headers, body = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), headers)
    # Then the gateway's UNAUTHORIZED response answers, and nothing is stored
    assert (status, body) == (401, {"error": "Invalid client credentials", "status": 401})
    assert response_headers["Content-Type"] == "application/json"
    assert stored_events(project_id) == []


def test_missing_credentials_are_401(gateway_url):
    status, _, body = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), {"Content-Type": "application/json"})
    assert (status, body) == (401, {"error": "Invalid client credentials", "status": 401})


def test_a_secret_of_another_client_is_refused(gateway_url, create_client, project_id, stored_events):
    # Given clients of two projects
    mine, theirs = create_client(project_id), create_client(project_id + "-other")
    # When my id is sent with their secret
    headers = {**auth_headers(mine), "openpanel-client-secret": theirs["clientSecret"]}
    status, _, _ = post(f"{gateway_url}/track", json.dumps(TRACK_BODY), headers)
    # Then it is refused
    assert status == 401
    assert stored_events(project_id) == [] and stored_events(project_id + "-other") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param("{not json", "body", id="invalid-json"),
        pytest.param(json.dumps({"type": "page", "payload": {}}), "type", id="unknown-type"),
        pytest.param(json.dumps({"payload": {"name": "x"}}), "type", id="missing-type"),
        pytest.param(json.dumps({"type": "track", "payload": {}}), "payload.name", id="missing-name"),
        pytest.param(json.dumps({"type": "track", "payload": {"name": ""}}), "payload.name", id="empty-name"),
        pytest.param(json.dumps({"type": "track", "payload": {"name": 42}}), "payload.name", id="name-not-string"),
        pytest.param(
            json.dumps({"type": "track", "payload": {"name": "x", "properties": ["a"]}}),
            "payload.properties",
            id="properties-not-object",
        ),
        pytest.param(
            json.dumps({"type": "track", "payload": {"name": "session_start"}}), "payload.name", id="reserved-name"
        ),
    ],
)
def test_invalid_bodies_are_400_with_details_and_store_nothing(
    gateway_url, create_client, project_id, stored_events, body, field
):
    # Given a valid client, When it sends an invalid body
    status, _, answer = post(f"{gateway_url}/track", body, auth_headers(create_client(project_id)))
    # Then the answer names the field, and nothing is stored
    assert status == 400
    assert answer["status"] == 400 and answer["error"]
    assert field in [detail["field"] for detail in answer["details"]]
    assert stored_events(project_id) == []


def test_oversized_body_is_413_and_stores_nothing(gateway_url, create_client, project_id, stored_events):
    big = {"type": "track", "payload": {"name": "x", "properties": {f"k{i}": "v" * 3000 for i in range(30)}}}
    status, _, answer = post(f"{gateway_url}/track", json.dumps(big), auth_headers(create_client(project_id)))
    assert (status, answer["status"]) == (413, 413)
    assert stored_events(project_id) == []


def test_unknown_route_is_404_json(gateway_url, create_client, project_id):
    status, _, answer = post(f"{gateway_url}/nope", "{}", auth_headers(create_client(project_id)))
    assert (status, answer) == (404, {"error": "Not found", "status": 404})


def test_make_invoke_runs_the_track_function_on_the_sample_event(aws_env, stored_events):
    # Given the committed sample proxy event (its authorizer context names the project)
    event = json.loads((ROOT / "events" / "track.json").read_text())
    project = event["requestContext"]["authorizer"]["projectId"]
    before = len(stored_events(project))
    # When it is invoked the way `make invoke` does, Docker-free
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", "track", "events/track.json"],
        cwd=ROOT,
        env=aws_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Then the function answers 200 and stores one event
    assert json.loads(result.stdout)["statusCode"] == 200, result.stderr
    assert len(stored_events(project)) == before + 1
