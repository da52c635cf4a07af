"""POST /track with the credentials in its JSON body (BodyCredentials, docs/DESIGN.md §50): the track function
in-process with an unauthenticated authorizer context, as the authorizer leaves it, and a fake client lookup."""

from __future__ import annotations

import json
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from beacon.domain.entities import ClientType
from beacon.gateway.body_credentials import authenticate_body, body_credentials, without_body_credentials
from tests.constants import CLIENT_ID, NOW
from tests.unit.support.fakes import FakeClientLookup, FakeEventStore, FakeRejectedEventStore, client_record, tracked
from tests.unit.support.handlers import (
    TRACK_ENV,
    FakeLambdaContext,
    load_event,
    load_function,
    response_header,
    wire_track_function,
)

SECRET = "sec_body-credentials-unit-secret"
WRONG = "sec_body-credentials-wrong-secret"
BODY_ENV = {
    **TRACK_ENV,
    "BODY_CREDENTIALS": "true",
    "CLIENT_SECRET_PREFIX": "beacon/unit/clients/",
    "CLIENT_ID_KEY_SECRET": "beacon/unit/client-id-key",
}
INVALID = {"error": "Invalid client credentials", "status": 401}


@pytest.fixture(scope="module")
def body_app() -> ModuleType:
    return load_function("track", BODY_ENV)


@pytest.fixture
def clients() -> FakeClientLookup:
    return FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="zaraz-site"))


@pytest.fixture
def kept() -> FakeRejectedEventStore:
    return FakeRejectedEventStore()


@pytest.fixture
def events(
    body_app: ModuleType, monkeypatch: pytest.MonkeyPatch, clients: FakeClientLookup, kept: FakeRejectedEventStore
) -> FakeEventStore:
    monkeypatch.setattr(body_app, "body_clients", lambda: clients)
    return wire_track_function(body_app, monkeypatch, kept)


def unauthenticated(
    body: dict[str, Any] | str, path: str = "/track", via_distribution: str = "false"
) -> dict[str, Any]:
    """A proxy event as API Gateway hands it on after the authorizer let it through without credential headers."""
    event = load_event("track")
    for name in ("openpanel-client-id", "openpanel-client-secret"):
        event["headers"].pop(name, None)
        (event.get("multiValueHeaders") or {}).pop(name, None)
    event["path"] = event["resource"] = path
    event["requestContext"]["authorizer"] = {
        "unauthenticated": "true",
        "viaDistribution": via_distribution,
        "principalId": "body-credentials",
    }
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def zaraz(name: str = "page_view", secret: str = SECRET, **extra: Any) -> dict[str, Any]:
    """A body as Zaraz's OpenPanel tool sends it: the event, and the credentials beside it at the top level."""
    payload = {"name": name, "properties": {"__path": "https://shop.example.com/cart"}}
    return {"type": "track", "payload": payload, "clientId": CLIENT_ID, "clientSecret": secret, **extra}


def invoke(app: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_credentials_in_the_body_authenticate_and_the_event_is_stored_under_the_clients_project(
    body_app: ModuleType, events: FakeEventStore
) -> None:
    # When a Zaraz-style body reaches the function unauthenticated
    status, answer = invoke(body_app, unauthenticated(zaraz()))

    # Then it is stored under the client's project, as from a server with the secret
    assert status == 200, answer
    [stored] = tracked(events)
    assert (stored.project_id, stored.client_id, stored.name) == ("zaraz-site", CLIENT_ID, "page_view")
    # And the credentials are no event property, nor anywhere in what was stored
    assert "clientId" not in stored.properties and "clientSecret" not in stored.properties
    assert SECRET not in repr(events.events)


@pytest.mark.parametrize(
    "body",
    [
        zaraz(secret=WRONG),
        {"type": "track", "payload": {"name": "x"}},  # no credentials anywhere
        {"type": "track", "payload": {"name": "x"}, "clientId": "not-a-uuid", "clientSecret": SECRET},
        {"type": "track", "payload": {"name": "x"}, "clientId": CLIENT_ID, "clientSecret": 12345},
        {"type": "track", "payload": {"name": "x"}, "clientId": ["x"], "clientSecret": SECRET},
        {"type": "track", "payload": {"name": "x"}, "clientId": CLIENT_ID},  # no secret, and no Origin
        "[1, 2]",
        "not json at all",
    ],
)
def test_bodies_without_valid_credentials_are_401_and_store_nothing(
    body_app: ModuleType, events: FakeEventStore, kept: FakeRejectedEventStore, body: Any
) -> None:
    # When the body's credentials are wrong, missing or malformed
    status, answer = invoke(body_app, unauthenticated(body))
    # Then the answer is the authorizer's 401, and nothing is stored or kept
    assert (status, answer) == (401, INVALID)
    assert events.events == [] and kept.rejected == []


def test_a_revoked_client_is_refused_from_the_body_as_from_headers(
    body_app: ModuleType, events: FakeEventStore, clients: FakeClientLookup
) -> None:
    clients.records[CLIENT_ID] = replace(clients.records[CLIENT_ID], revoked_at="2026-01-02T00:00:00+00:00")
    assert invoke(body_app, unauthenticated(zaraz())) == (401, INVALID)
    assert events.events == []


def test_without_a_secret_the_body_client_id_needs_one_of_the_clients_origins(
    body_app: ModuleType, events: FakeEventStore, clients: FakeClientLookup
) -> None:
    # Given a browser client of https://shop.example.com, and a body with only its id
    clients.records[CLIENT_ID] = replace(clients.records[CLIENT_ID], origins=("https://shop.example.com",))
    body = {"type": "track", "payload": {"name": "page_view"}, "clientId": CLIENT_ID}
    # When it comes from the allowed origin, then it is stored and the answer may be read by that page
    allowed = unauthenticated(body)
    allowed["headers"]["Origin"] = "https://shop.example.com"
    response = body_app.lambda_handler(allowed, FakeLambdaContext())
    assert response["statusCode"] == 200, response["body"]
    assert response_header(response, "Access-Control-Allow-Origin") == "https://shop.example.com"
    # And from another origin it is a 401
    other = unauthenticated(body)
    other["headers"]["Origin"] = "https://evil.example.net"
    assert invoke(body_app, other) == (401, INVALID)
    assert len(tracked(events)) == 1


def test_a_read_client_in_the_body_is_refused_as_with_headers(
    body_app: ModuleType, events: FakeEventStore, clients: FakeClientLookup
) -> None:
    clients.records[CLIENT_ID] = replace(clients.records[CLIENT_ID], client_type=ClientType.READ)
    assert invoke(body_app, unauthenticated(zaraz())) == (
        403,
        {"error": "Read clients cannot send events", "status": 403},
    )
    assert events.events == []


def test_an_invalid_event_from_a_body_client_is_kept_without_its_credentials(
    body_app: ModuleType, events: FakeEventStore, kept: FakeRejectedEventStore
) -> None:
    # When an authenticated body carries an event that fails validation
    body = zaraz()
    body["payload"]["name"] = ""
    status, _ = invoke(body_app, unauthenticated(body))
    # Then it is the usual 400, kept for the client's project, and the kept payload names no credential
    assert status == 400
    [record] = kept.rejected
    assert (record.project_id, record.client_id) == ("zaraz-site", CLIENT_ID)
    assert SECRET not in record.payload and "clientSecret" not in record.payload
    assert json.loads(record.payload)["payload"] == {"name": "", "properties": body["payload"]["properties"]}


@pytest.mark.parametrize(("method", "path"), [("POST", "/track/batch"), ("GET", "/track/device-id")])
def test_an_unauthenticated_context_on_any_other_route_is_401(
    body_app: ModuleType, events: FakeEventStore, method: str, path: str
) -> None:
    # Given a request the authorizer would never let through, reaching another route unauthenticated
    event = unauthenticated({"batch": [zaraz()], **zaraz()}, path=path)
    event["httpMethod"] = method
    # Then it is refused, whatever its body says
    assert invoke(body_app, event) == (401, INVALID)
    assert events.events == []


def test_with_body_credentials_off_the_function_refuses_an_unauthenticated_request(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given the default stack's track function (BODY_CREDENTIALS unset), and an unauthenticated context
    assert invoke(track_app, unauthenticated(zaraz())) == (401, INVALID)
    assert store.events == []


# -- the gateway module itself --------------------------------------------------------------------------------
def test_the_callers_context_replaces_the_unauthenticated_one_with_the_distribution_flag_kept() -> None:
    # Given a body-credential request that came through the stack's distribution
    event = unauthenticated(zaraz(), via_distribution="true")
    lookup = FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="zaraz-site"))
    # When its body is authenticated
    caller = authenticate_body(event, lookup, NOW, limit=64 * 1024)
    # Then the event's context is the one the authorizer gives header credentials, every value a string
    assert caller.via_distribution and caller.secret_auth
    assert event["requestContext"]["authorizer"] == {
        "projectId": "zaraz-site",
        "clientId": CLIENT_ID,
        "clientType": "write",
        "secretAuth": "true",
        "allowedOrigin": "",
        "viaDistribution": "true",
        "principalId": CLIENT_ID,
    }
    assert lookup.lookups == [CLIENT_ID]


def test_body_credentials_are_read_from_the_top_level_only() -> None:
    nested = json.dumps({"type": "track", "payload": {"clientId": CLIENT_ID, "clientSecret": SECRET}}).encode()
    assert body_credentials(nested) == body_credentials(b"{}")
    assert body_credentials(b"{}").client_id is None and body_credentials(b"{}").client_secret is None
    null_secret = json.dumps({"clientId": CLIENT_ID, "clientSecret": None}).encode()
    assert (body_credentials(null_secret).client_id, body_credentials(null_secret).client_secret) == (CLIENT_ID, None)


def test_a_kept_body_loses_its_credentials_and_any_other_body_is_kept_byte_for_byte() -> None:
    with_them = json.dumps(zaraz()).encode()
    assert json.loads(without_body_credentials(with_them)) == {
        "type": "track",
        "payload": zaraz()["payload"],
    }
    # Escaped key names are the same keys once parsed
    escaped = b'{"type": "track", "client\\u0053ecret": "' + SECRET.encode() + b'"}'
    assert SECRET.encode() not in without_body_credentials(escaped)
    plain = b'{"type":"track",  "payload": {"name": "x"}}'
    assert without_body_credentials(plain) is plain
    assert without_body_credentials(b"not json") == b"not json"
