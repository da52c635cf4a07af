"""OpenPanel's other ways in, over HTTP through the local gateway, the authorizer and the functions: the legacy
mixan- credential headers, GET /healthcheck without credentials, a trailing slash on the routes, and allowed origins
with OpenPanel's www. tolerance (issue 16, items 8 and 10)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest

import beacon
from beacon.domain.auth import create_client
from beacon.domain.entities import ClientType
from beacon.store.clients import SecretsManagerClientStore
from tests.constants import CHROME

pytestmark = pytest.mark.e2e
INVALID_CREDENTIALS = {"error": "Invalid client credentials", "status": 401}
TRACK_BODY = {"type": "track", "payload": {"name": "legacy_event", "properties": {"plan": "pro"}}}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: Any  # parsed JSON; None for an empty body


def call(url: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw, status, response_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, response_headers = error.read(), error.code, error.headers
    return Answer(status, response_headers, json.loads(raw) if raw else None)


def secret_headers(client: dict[str, str], prefix: str = "openpanel") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        f"{prefix}-client-id": client["clientId"],
        f"{prefix}-client-secret": client["clientSecret"],
        "User-Agent": "curl/8.5.0",
    }


@pytest.fixture
def create_browser_client(
    secretsmanager: Any, template_env: dict[str, str], client_id_key: bytes
) -> Callable[..., dict[str, str]]:
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)

    def make(project: str, origins: tuple[str, ...]) -> dict[str, str]:
        record, secret = create_client(
            project, ClientType.WRITE, datetime.now(UTC), origins=origins, id_key=client_id_key
        )
        store.put_client(record)
        return {"clientId": record.client_id, "clientSecret": secret, "projectId": project}

    return make


# -- the legacy mixan- headers --------------------------------------------------------------------------------
def test_the_legacy_mixan_headers_store_the_event_like_the_openpanel_ones(
    gateway_url, create_client, project_id, stored_events
):
    # Given a client, and an integration written before OpenPanel renamed its headers
    client = create_client(project_id)

    # When it sends an event with mixan-client-id and mixan-client-secret
    answer = call(f"{gateway_url}/track", body=TRACK_BODY, headers=secret_headers(client, "mixan"))

    # Then it is stored under the client's project, as with the openpanel- headers
    assert answer.status == 200, answer.body
    [event] = stored_events(project_id)
    assert (event["name"], event["clientId"]) == ("legacy_event", client["clientId"])
    assert event["properties"] == {"plan": "pro"}
    assert event["deviceId"] == answer.body["deviceId"]


def test_a_wrong_legacy_secret_is_the_gateways_401_and_stores_nothing(
    gateway_url, create_client, project_id, stored_events
):
    client = create_client(project_id)
    headers = {**secret_headers(client, "mixan"), "mixan-client-secret": "sec_wrong"}
    answer = call(f"{gateway_url}/track", body=TRACK_BODY, headers=headers)
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert stored_events(project_id) == []


def test_a_browser_may_preflight_the_legacy_headers(gateway_url):
    # When a page preflights a request that carries mixan-client-id
    answer = call(
        f"{gateway_url}/track",
        "OPTIONS",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,mixan-client-id",
        },
    )
    # Then the gateway allows both legacy headers
    assert answer.status == 200
    allowed = answer.headers["Access-Control-Allow-Headers"].split(",")
    assert {"mixan-client-id", "mixan-client-secret"} <= set(allowed)


# -- GET /healthcheck ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/healthcheck", "/healthcheck/"])
def test_the_healthcheck_answers_json_without_credentials(gateway_url, path):
    # When an uptime monitor calls GET /healthcheck with no credentials at all
    answer = call(f"{gateway_url}{path}", "GET")
    # Then it answers 200 with OpenPanel's `ready` beside `ok`, as JSON
    assert answer.status == 200
    assert answer.body == {"ok": True, "ready": True, "version": beacon.__version__}
    assert answer.headers["Content-Type"] == "application/json"


def test_the_healthcheck_ignores_credentials_and_opens_no_other_route(gateway_url, create_client, project_id):
    # Given wrong credentials, the healthcheck still answers (no authorizer runs on it)
    wrong = {"openpanel-client-id": "00000000-0000-4000-8000-000000000000", "openpanel-client-secret": "x"}
    assert call(f"{gateway_url}/healthcheck", "GET", headers=wrong).status == 200
    # But its neighbours still need credentials: POST on it is no route, and /track without them is a 401
    posted = call(f"{gateway_url}/healthcheck", "POST", body={})
    assert (posted.status, posted.body) == (404, {"error": "Not found", "status": 404})
    answer = call(f"{gateway_url}/track", body=TRACK_BODY, headers={"Content-Type": "application/json"})
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)


# -- a trailing slash -------------------------------------------------------------------------------------------
def test_track_with_a_trailing_slash_stores_the_event(gateway_url, create_client, project_id, stored_events):
    client = create_client(project_id)
    answer = call(f"{gateway_url}/track/", body=TRACK_BODY, headers=secret_headers(client))
    assert answer.status == 200, answer.body
    [event] = stored_events(project_id)
    assert event["name"] == "legacy_event" and event["sessionId"] == answer.body["sessionId"]


def test_batch_and_device_id_with_a_trailing_slash(gateway_url, create_client, project_id, stored_events):
    client = create_client(project_id)
    batch = {"batch": [TRACK_BODY, {"type": "track", "payload": {"name": "second"}}]}
    answer = call(f"{gateway_url}/track/batch/", body=batch, headers=secret_headers(client))
    assert answer.status == 200, answer.body
    assert answer.body["accepted"] == 2
    assert sorted(event["name"] for event in stored_events(project_id)) == ["legacy_event", "second"]
    ids = call(f"{gateway_url}/track/device-id/", "GET", headers=secret_headers(client))
    assert ids.status == 200 and ids.body["deviceId"] == answer.body["results"][0]["deviceId"]


@pytest.mark.parametrize("path", ["/track/", "/track/batch/"])
def test_a_trailing_slash_still_needs_credentials(gateway_url, create_client, project_id, stored_events, path):
    answer = call(f"{gateway_url}{path}", body=TRACK_BODY, headers={"Content-Type": "application/json"})
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert stored_events(project_id) == []


def test_a_browser_may_preflight_track_with_a_trailing_slash(gateway_url):
    headers = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    answer = call(f"{gateway_url}/track/", "OPTIONS", headers=headers)
    assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"


# -- allowed origins with OpenPanel's www. tolerance --------------------------------------------------------------
def browser_track(gateway_url: str, client: dict[str, str], origin: str) -> Answer:
    headers = {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-sdk-name": "web",
        "User-Agent": CHROME,
        "Origin": origin,
    }
    return call(f"{gateway_url}/track", body={"type": "track", "payload": {"name": "page_view"}}, headers=headers)


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("https://shop.example.com", "https://www.shop.example.com"),
        ("https://www.shop.example.com", "https://shop.example.com"),
        ("shop.example.com", "http://www.shop.example.com"),
        ("shop.example.com", "https://shop.example.com"),
    ],
)
def test_a_page_on_the_other_www_spelling_is_allowed_and_echoed(
    gateway_url, create_browser_client, project_id, stored_events, entry, origin
):
    # Given a browser client that allows one spelling of its site
    client = create_browser_client(project_id, (entry,))
    # When a page on the other spelling sends an event with only the client id
    answer = browser_track(gateway_url, client, origin)
    # Then it is stored, and the page may read the answer (its own origin echoed)
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert [event["name"] for event in stored_events(project_id)] == ["page_view"]


@pytest.mark.parametrize(
    "origin", ["http://www.shop.example.com", "https://api.shop.example.com", "https://www.shop.example.com.evil.test"]
)
def test_the_www_tolerance_allows_nothing_else(gateway_url, create_browser_client, project_id, stored_events, origin):
    client = create_browser_client(project_id, ("https://shop.example.com",))
    answer = browser_track(gateway_url, client, origin)
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert stored_events(project_id) == []
