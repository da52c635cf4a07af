"""Credentials in the JSON body, over HTTP through the local gateway, the authorizer and the track function
(BodyCredentials, docs/DESIGN.md §50): a gateway of the session's stack started with BEACON_BODY_CREDENTIALS=true,
beside the default one (parameter off)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.test_openpanel_entry_points import INVALID_CREDENTIALS, call, secret_headers

pytestmark = pytest.mark.e2e
JSON = {"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (compatible; Zaraz)"}


def zaraz_body(client: dict[str, str], name: str = "page_view", **extra: Any) -> dict[str, Any]:
    """As Cloudflare Zaraz's OpenPanel tool sends an event: the credentials at the top level of the body."""
    payload = {"name": name, "properties": {"__path": "https://shop.example.com/cart", "plan": "pro"}}
    return {
        "type": "track",
        "payload": payload,
        "clientId": client["clientId"],
        "clientSecret": client["clientSecret"],
        **extra,
    }


@pytest.fixture
def client(create_client: Callable[..., dict[str, str]], project_id: str) -> dict[str, str]:
    return create_client(project_id)


def test_a_zaraz_style_body_is_stored_under_the_clients_project_without_its_credentials(
    body_credentials_gateway_url: str, client: dict[str, str], project_id: str, stored_events: Any
) -> None:
    # When a Zaraz-style body is sent with no credential header
    answer = call(f"{body_credentials_gateway_url}/track", body=zaraz_body(client), headers=JSON)

    # Then it is accepted like any event, and stored under the client's project
    assert answer.status == 200, answer.body
    assert set(answer.body) == {"deviceId", "sessionId"}
    [stored] = stored_events(project_id)
    assert (stored["name"], stored["clientId"]) == ("page_view", client["clientId"])
    assert stored["properties"]["plan"] == "pro"
    # And neither credential field is a property, nor the secret anywhere in the stored item
    assert "clientId" not in stored["properties"] and "clientSecret" not in stored["properties"]
    assert client["clientSecret"] not in json.dumps(stored, default=str)


def test_a_trailing_slash_is_the_same_route(
    body_credentials_gateway_url: str, client: dict[str, str], project_id: str, stored_events: Any
) -> None:
    answer = call(f"{body_credentials_gateway_url}/track/", body=zaraz_body(client, "slashed"), headers=JSON)
    assert answer.status == 200, answer.body
    assert [event["name"] for event in stored_events(project_id)] == ["slashed"]


@pytest.mark.parametrize(
    "body",
    [
        lambda client: zaraz_body({**client, "clientSecret": "sec_wrong-secret-for-this-client"}),
        lambda client: {"type": "track", "payload": {"name": "no_credentials"}},
        lambda client: {"type": "track", "payload": {"name": "x"}, "clientId": "not-a-uuid", "clientSecret": "s"},
    ],
    ids=["wrong secret", "no credentials anywhere", "malformed id"],
)
def test_bodies_without_valid_credentials_are_401_json_and_store_nothing(
    body_credentials_gateway_url: str,
    client: dict[str, str],
    project_id: str,
    stored_events: Any,
    body: Callable[[dict[str, str]], Any],
) -> None:
    answer = call(f"{body_credentials_gateway_url}/track", body=body(client), headers=JSON)
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert answer.headers["Content-Type"] == "application/json"
    assert stored_events(project_id) == []


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/track/batch"), ("GET", "/track/device-id"), ("GET", "/export/events")]
)
def test_body_credentials_on_any_other_route_are_401(
    body_credentials_gateway_url: str,
    client: dict[str, str],
    project_id: str,
    stored_events: Any,
    method: str,
    path: str,
) -> None:
    # Given a body that would authenticate on POST /track
    body = {"batch": [{"type": "track", "payload": {"name": "x"}}], **zaraz_body(client)}
    # When it is sent to another route, then the authorizer refuses it as before
    answer = call(f"{body_credentials_gateway_url}{path}", method, body if method == "POST" else None, JSON)
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert stored_events(project_id) == []


def test_with_the_parameter_off_a_zaraz_style_body_is_401_as_today(
    gateway_url: str, client: dict[str, str], project_id: str, stored_events: Any
) -> None:
    answer = call(f"{gateway_url}/track", body=zaraz_body(client), headers=JSON)
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert stored_events(project_id) == []


def test_header_credentials_win_over_the_body_and_keep_working(
    body_credentials_gateway_url: str,
    client: dict[str, str],
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    stored_events: Any,
) -> None:
    # Given another project's client in the body, and this client's credentials in the headers
    other = create_client(f"{project_id}-other")
    body = zaraz_body(other, "header_client")
    # When both are sent, then the headers authenticate and the event is this client's (the body's are ignored)
    answer = call(f"{body_credentials_gateway_url}/track", body=body, headers=secret_headers(client))
    assert answer.status == 200, answer.body
    assert [event["clientId"] for event in stored_events(project_id)] == [client["clientId"]]
    assert stored_events(f"{project_id}-other") == []
    # And a wrong header with right body credentials is a 401: a header is never replaced by the body
    wrong = {**secret_headers(other), "openpanel-client-secret": "sec_wrong"}
    assert call(f"{body_credentials_gateway_url}/track", body=body, headers=wrong).status == 401


def test_an_invalid_event_is_kept_for_the_project_without_the_credentials(
    body_credentials_gateway_url: str, client: dict[str, str], project_id: str, dynamodb: Any, template_env: Any
) -> None:
    # When an authenticated body carries an event that fails validation
    body = zaraz_body(client)
    body["payload"]["name"] = ""
    answer = call(f"{body_credentials_gateway_url}/track", body=body, headers=JSON)
    assert answer.status == 400, answer.body
    # Then the rejected-events table keeps it for the project, with neither credential in the kept payload
    items = dynamodb.query(
        TableName=template_env["REJECTED_EVENTS_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": project_id}},
        ConsistentRead=True,
    )["Items"]
    assert len(items) == 1
    assert client["clientSecret"] not in json.dumps(items) and "clientSecret" not in json.dumps(items)
