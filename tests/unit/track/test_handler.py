"""The track function in-process, on the committed API Gateway events, with a fake event store."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import beacon
from beacon.domain.ports import Stores
from beacon.models.requests import MAX_STRING_LENGTH
from tests.constants import GOOGLEBOT
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeProjectSettingsStore,
    UnavailableEventStore,
    UnavailableSessionStore,
    fake_stores,
    tracked,
)
from tests.unit.support.handlers import FakeLambdaContext, load_event, response_header


def invoke(track_app: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    return response


def with_body(event: dict[str, Any], body: str) -> dict[str, Any]:
    event["body"] = body
    return event


def track_body_of_size(size: int) -> str:
    """A track body that is valid under every property rule and exactly `size` bytes long."""
    chunks: list[str] = []
    while True:
        properties = {f"p{i}": chunk for i, chunk in enumerate([*chunks, ""])}
        missing = size - len(json.dumps({"type": "track", "payload": {"name": "big", "properties": properties}}))
        if missing <= MAX_STRING_LENGTH:
            chunks.append("x" * missing)
            properties = {f"p{i}": chunk for i, chunk in enumerate(chunks)}
            body = json.dumps({"type": "track", "payload": {"name": "big", "properties": properties}})
            assert len(body.encode()) == size
            return body
        chunks.append("x" * MAX_STRING_LENGTH)


@pytest.mark.parametrize("name", ["track", "identify", "increment", "group"])
def test_a_committed_event_as_api_gateway_sends_it_base64_is_answered_200(
    track_app: ModuleType, store: FakeEventStore, name: str
) -> None:
    # Given a committed proxy event exactly as it is in events/ (a base64 body, isBase64Encoded true)
    event = load_event(name, as_sent=True)
    assert event["isBase64Encoded"] is True
    # When the function handles it
    response = invoke(track_app, event)
    # Then it is decoded and handled like any request
    assert response["statusCode"] == 200, response["body"]


def test_track_event_is_stored_and_answered_with_device_and_session(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given the committed track event
    event = load_event("track")

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers 200 with the device and session ids of the one event it stored
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert len(tracked(store)) == 1
    stored = tracked(store)[0]
    assert body == {"deviceId": stored.device_id, "sessionId": stored.session_id}
    assert stored.name == "screen_view"
    assert stored.properties == {"path": "/home", "plan": "pro"}
    assert stored.profile_id == "user-1"


def test_stored_event_belongs_to_the_authorizers_project_never_to_one_the_request_names(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a request that names other projects in its headers and body
    event = load_event("track")
    event["requestContext"]["authorizer"]["projectId"] = "project-from-authorizer"
    for name in ("openpanel-project-id", "projectId", "x-project-id"):
        event["headers"][name] = "project-from-header"
        event["multiValueHeaders"][name] = ["project-from-header"]
    with_body(event, json.dumps({"type": "track", "projectId": "project-from-body", "payload": {"name": "click"}}))

    # When the function handles it
    response = invoke(track_app, event)

    # Then the event is stored for the project the authorizer established, and only that one
    assert response["statusCode"] == 200
    assert [e.project_id for e in tracked(store)] == ["project-from-authorizer"]
    assert tracked(store)[0].client_id == event["requestContext"]["authorizer"]["clientId"]


def test_invalid_body_is_a_400_with_details_and_stores_nothing(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a track event whose name is empty
    event = with_body(load_event("track"), json.dumps({"type": "track", "payload": {"name": ""}}))

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers 400 in the API's error shape, pointing at payload.name, and stores nothing
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["status"] == 400
    assert body["error"] == "Invalid request body"
    assert [detail["field"] for detail in body["details"]] == ["payload.name"]
    assert set(body["details"][0]) == {"field", "message", "type"}
    assert store.events == []


def test_invalid_json_is_a_400_invalid_json_body(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a body that is not JSON
    event = with_body(load_event("track"), '{"type": "track", "payload": ')

    # When the function handles it
    response = invoke(track_app, event)

    # Then the client is told its JSON is invalid, and nothing is stored
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "Invalid JSON body"
    assert store.events == []


def test_body_larger_than_the_limit_is_a_413_and_stores_nothing(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a body that would be valid but is one byte over the configured limit
    limit = track_app.settings.max_body_bytes
    event = with_body(load_event("track"), track_body_of_size(limit + 1))

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers 413 in the API's error shape and stores nothing
    assert response["statusCode"] == 413
    assert json.loads(response["body"]) == {"error": f"Request body exceeds {limit} bytes", "status": 413}
    assert store.events == []


def test_body_of_exactly_the_limit_is_accepted(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a valid body of exactly the configured limit
    event = with_body(load_event("track"), track_body_of_size(track_app.settings.max_body_bytes))

    # When the function handles it
    response = invoke(track_app, event)

    # Then it is stored
    assert response["statusCode"] == 200
    assert len(tracked(store)) == 1


def test_identify_is_accepted_and_stores_no_event(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given the committed identify event
    event = load_event("identify")

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers like every type (device and session ids), and no event is stored for it
    assert response["statusCode"] == 200
    assert set(json.loads(response["body"])) == {"deviceId", "sessionId"}
    assert store.events == []


def test_unavailable_store_is_a_503_with_retry_after(track_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an event store that is throttling
    down = Stores(
        events=UnavailableEventStore(),
        profiles=FakeProfileStore(),
        sessions=UnavailableSessionStore(),
        projects=FakeProjectSettingsStore(),
        idempotency=FakeEventStore(),
    )
    monkeypatch.setattr(track_app, "stores", lambda: down)
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)

    # When the function handles the committed track event
    response = invoke(track_app, load_event("track"))

    # Then it answers 503 in the API's error shape (JSON, like every answer), telling the client when to retry
    assert response["statusCode"] == 503
    assert response_header(response, "Content-Type") == "application/json"
    body = json.loads(response["body"])
    assert body["status"] == 503 and body["error"]
    retry_after = response_header(response, "Retry-After")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) > 0


def test_unknown_route_is_a_json_404(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a request for a path the function does not serve
    event = load_event("track")
    event["path"] = event["resource"] = "/nope"

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers 404 in the API's error shape
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"error": "Not found", "status": 404}
    assert store.events == []


def _ok(event: dict[str, Any], limit: int) -> dict[str, Any]:
    return event


def _invalid(event: dict[str, Any], limit: int) -> dict[str, Any]:
    return with_body(event, '{"type": "track", "payload": {"name": ""}}')


def _not_json(event: dict[str, Any], limit: int) -> dict[str, Any]:
    return with_body(event, "not json")


def _too_large(event: dict[str, Any], limit: int) -> dict[str, Any]:
    return with_body(event, "x" * (limit + 1))


def _refused_by_domain(event: dict[str, Any], limit: int) -> dict[str, Any]:
    return with_body(event, json.dumps({"type": "alias", "payload": {"profileId": "u", "alias": "u"}}))


def _unknown_route(event: dict[str, Any], limit: int) -> dict[str, Any]:
    event["path"] = event["resource"] = "/nope"
    return event


@pytest.mark.parametrize(
    ("change", "expected_status"),
    [
        pytest.param(_ok, 200, id="accepted"),
        pytest.param(_invalid, 400, id="invalid body"),
        pytest.param(_not_json, 400, id="not json"),
        pytest.param(_refused_by_domain, 400, id="alias of itself"),
        pytest.param(_unknown_route, 404, id="unknown route"),
        pytest.param(_too_large, 413, id="too large"),
    ],
)
def test_every_response_is_json_with_content_type_application_json(
    track_app: ModuleType,
    store: FakeEventStore,
    change: Callable[[dict[str, Any], int], dict[str, Any]],
    expected_status: int,
) -> None:
    # Given a request leading to one of the function's answers
    event = change(load_event("track"), track_app.settings.max_body_bytes)

    # When the function handles it
    response = invoke(track_app, event)

    # Then the answer is JSON, labelled as JSON, and errors carry their status in the body
    assert response["statusCode"] == expected_status
    assert response_header(response, "Content-Type") == "application/json"
    body = json.loads(response["body"])
    if expected_status >= 400:
        assert body["status"] == expected_status
        assert isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize("name", ["track", "identify", "alias", "increment", "decrement", "group", "assign_group"])
def test_every_committed_sample_event_is_served(
    track_app: ModuleType, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Given the committed sample event of one request type (the ones `make invoke` and `sam local invoke` use)
    events = FakeEventStore()
    stores = fake_stores(events)
    monkeypatch.setattr(track_app, "stores", lambda: stores)
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    # When the function handles it
    response = invoke(track_app, load_event(name))
    # Then it answers 200 with ids, and only a track event is stored as an event
    assert response["statusCode"] == 200, response["body"]
    assert set(json.loads(response["body"])) == {"deviceId", "sessionId"}
    assert len(tracked(events)) == (1 if name == "track" else 0)


@pytest.mark.parametrize(("secret_auth", "expected_status"), [("false", 202), ("true", 200)])
def test_bots_are_dropped_only_on_requests_without_a_secret(
    track_app: ModuleType, store: FakeEventStore, secret_auth: str, expected_status: int
) -> None:
    # Given the committed track event sent by Googlebot, with or without a client secret
    event = load_event("track")
    event["headers"]["User-Agent"] = GOOGLEBOT
    event["requestContext"]["authorizer"]["secretAuth"] = secret_auth
    # When the function handles it
    response = invoke(track_app, event)
    # Then without a secret it is a 202 naming the bot, and nothing is stored; with a secret it is an event
    assert response["statusCode"] == expected_status
    if expected_status == 202:
        assert json.loads(response["body"]) == {"bot": {"name": "Googlebot", "type": "crawler"}}
        assert store.events == []
    else:
        assert [event.name for event in tracked(store)] == ["screen_view"]


@pytest.mark.parametrize("path", ["/healthcheck", "/healthcheck/"])
def test_the_healthcheck_answers_ok_without_an_authorizer_context_or_any_store(
    track_app: ModuleType, store: FakeEventStore, path: str
) -> None:
    # Given GET /healthcheck as API Gateway sends it on a route without the authorizer (no requestContext.authorizer)
    event = load_event("track")
    event.update(httpMethod="GET", path=path, resource="/healthcheck", body=None, isBase64Encoded=False)
    del event["requestContext"]["authorizer"]

    # When the function handles it
    response = invoke(track_app, event)

    # Then it answers OpenPanel's `ready` beside `ok`, as JSON, without CORS echo and without touching a store
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True, "ready": True, "version": beacon.__version__}
    assert response_header(response, "Content-Type") == "application/json"
    assert response_header(response, "Access-Control-Allow-Origin") is None
    assert tracked(store) == []
