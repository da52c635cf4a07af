"""The whole track function in-process, fed garbage: whatever arrives, the answer is a well-formed JSON body
with a 2xx or 4xx status (never a 5xx, never an unhandled exception), its headers carry no injected line,
and a refused request stores nothing. Stores are in-memory fakes that serialize every event the way the
DynamoDB event store does, so an accepted event that could not be stored would show up too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from beacon.domain.entities import Event
from beacon.gateway.read_responses import replay_response
from beacon.models.reads import ExportEvent
from beacon.store.events import event_to_item
from beacon.store.reads import event_from_item
from tests.fuzz.strategies import (
    Encoded,
    as_proxy_body,
    batch_bodies,
    content_types,
    encodings,
    examples,
    header_texts,
    header_values,
    hostile_items,
    hostile_replays,
    plausible_replays,
    texts,
    track_bodies,
)
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeProjectSettingsStore,
    FakeRejectedEventStore,
    FakeReplayStore,
    FakeSessionStore,
)
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function

TABLES = {
    "EVENTS_TABLE": "fuzz-events",
    "ENTITIES_TABLE": "fuzz-entities",
    "SESSIONS_TABLE": "fuzz-sessions",
    "IDEMPOTENCY_TABLE": "fuzz-idempotency",
    "REJECTED_EVENTS_TABLE": "fuzz-rejected",
    "REPLAYS_TABLE": "fuzz-replays",
    "REPLAY_BUCKET": "fuzz-replays",
    "DEVICE_SALT_SECRET": "fuzz-salt",
}


class SerializingEventStore(FakeEventStore):
    def put_event(self, event: Event) -> None:
        event_to_item(event, retention_days=400)  # what DynamoDBEventStore would send; must not raise
        super().put_event(event)


class SerializingSessionStore(FakeSessionStore):
    def start_session(
        self, project_id: str, device_id: str, session_id: str, now: Any, events: list[Event], *args: Any
    ) -> bool:
        for started in events:
            event_to_item(started, retention_days=400)
        return super().start_session(project_id, device_id, session_id, now, events, *args)


@dataclass
class Fakes:
    events: SerializingEventStore
    profiles: FakeProfileStore
    sessions: SerializingSessionStore
    rejected: FakeRejectedEventStore
    replays: FakeReplayStore

    def stored_nothing(self) -> bool:
        profiles = self.profiles
        return not (
            self.events.events
            or self.events.claims
            or profiles.profiles
            or profiles.aliases
            or profiles.groups
            or self.sessions.sessions
            or self.replays.chunks
        )


class Harness:
    """The track function loaded once (its cold start); fresh fakes for every example."""

    def __init__(self, app: ModuleType) -> None:
        self.app: Any = app  # its cached dependencies are replaced per example

    def fresh(self) -> Fakes:
        from beacon.domain.ports import Stores

        events = SerializingEventStore()
        profiles = FakeProfileStore()
        profiles.claims = events.claims
        sessions = SerializingSessionStore(events)
        fakes = Fakes(events, profiles, sessions, FakeRejectedEventStore(), FakeReplayStore())
        stores = Stores(events, profiles, sessions, FakeProjectSettingsStore(), events)
        self.app.stores = lambda: stores
        self.app.rejected_store = lambda: fakes.rejected
        self.app.replays = lambda: fakes.replays
        return fakes

    def invoke(self, proxy_event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.app.lambda_handler(proxy_event, FakeLambdaContext())
        return response


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    app: Any = load_function("track", TABLES)
    app.enricher = lambda: UNIT_TEST_ENRICHER
    yield Harness(app)


@st.composite
def proxy_events(draw: st.DrawFn, path: str, bodies: st.SearchStrategy[bytes]) -> dict[str, Any]:
    """An API Gateway proxy event for `path` as a hostile client could make API Gateway send it."""
    proxy = load_event("track")
    proxy["path"] = proxy["resource"] = proxy["requestContext"]["resourcePath"] = path
    encoded: Encoded = draw(encodings(draw(bodies)))
    proxy["body"], proxy["isBase64Encoded"] = as_proxy_body(encoded.body, draw(st.booleans()))
    headers = dict(proxy["headers"])
    if encoded.content_encoding is not None:
        headers["Content-Encoding"] = encoded.content_encoding
    headers["Content-Type"] = draw(content_types)
    for name in ("Idempotency-Key", "openpanel-sent-at", "User-Agent", "X-Forwarded-For", "openpanel-client-ip"):
        if draw(st.booleans()):
            headers[name] = draw(header_values)
    headers.update(draw(st.dictionaries(header_texts, header_values, max_size=3)))
    proxy["headers"] = headers
    proxy["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    # Browser SDKs send no secret: the function then drops likely bots and refuses secret-only features.
    proxy["requestContext"]["authorizer"]["secretAuth"] = draw(st.sampled_from(["true", "false"]))
    return proxy


def assert_readable(fakes: Fakes) -> None:
    """Read after write: everything stored reads back as the read API answers it. Every string is well-formed
    UTF-8 (a lone surrogate once stored broke every later read of its project), every event is an ExportEvent."""
    for stored in fakes.events.events:
        item = event_to_item(stored, retention_days=400)
        json.dumps(item, ensure_ascii=False).encode("utf-8")
        ExportEvent.model_validate(event_from_item(item)).model_dump_json()
    entities: list[dict[Any, Any]] = [fakes.profiles.profiles, fakes.profiles.groups, fakes.profiles.aliases]
    json.dumps([list(map(repr, store.items())) for store in entities], ensure_ascii=False).encode("utf-8")


def assert_well_formed(response: dict[str, Any], fakes: Fakes) -> None:
    status = response["statusCode"]
    assert 200 <= status < 500, response
    body = json.loads(response["body"])
    headers = {**(response.get("headers") or {}), **(response.get("multiValueHeaders") or {})}
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            assert "\r" not in f"{name}{value}" and "\n" not in f"{name}{value}", (name, value)
    assert {name.lower() for name in headers} <= {"content-type", "access-control-allow-origin", "vary", "retry-after"}
    if status >= 400:
        assert body["status"] == status and isinstance(body["error"], str) and body["error"]
        assert fakes.stored_nothing(), "a refused request stored something"
    event(f"status {status}")


@settings(max_examples=examples(400))
@given(proxy=proxy_events("/track", track_bodies()))
def test_track_answers_json_2xx_or_4xx_and_a_refusal_stores_nothing(harness: Harness, proxy: dict[str, Any]) -> None:
    fakes = harness.fresh()
    assert_well_formed(harness.invoke(proxy), fakes)
    assert_readable(fakes)


@settings(max_examples=examples(200))
@given(proxy=proxy_events("/track/batch", batch_bodies()))
def test_batch_answers_json_2xx_or_4xx_and_a_refusal_stores_nothing(harness: Harness, proxy: dict[str, Any]) -> None:
    fakes = harness.fresh()
    assert_well_formed(harness.invoke(proxy), fakes)
    assert_readable(fakes)


@settings(max_examples=examples(100))
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "POST"]),
    path=st.one_of(st.sampled_from(["/", "/track/", "/track/device-id", "/TRACK", "/track/batch/x"]), texts),
    headers=st.dictionaries(header_texts, header_values, max_size=4),
)
def test_any_other_route_answers_json(harness: Harness, method: str, path: str, headers: dict[str, str]) -> None:
    fakes = harness.fresh()
    proxy = load_event("track")
    proxy["httpMethod"] = proxy["requestContext"]["httpMethod"] = method
    proxy["path"] = proxy["resource"] = path
    proxy["headers"] = {**proxy["headers"], **headers}
    proxy["multiValueHeaders"] = {name: [value] for name, value in proxy["headers"].items()}
    response = harness.invoke(proxy)
    assert_well_formed(response, fakes)
    # A trailing slash reaches the route without it, as in API Gateway; everything else is a 404.
    routes = {("POST", "/track"), ("POST", "/track/batch"), ("GET", "/track/device-id")}
    if (method, path.rstrip("/")) not in routes:
        assert response["statusCode"] == 404 and fakes.stored_nothing()


def plain_proxy(path: str, document: Any) -> dict[str, Any]:
    """A well-behaved server's request (its secret, an ordinary agent) carrying `document` as JSON."""
    proxy = load_event("track")
    proxy["path"] = proxy["resource"] = proxy["requestContext"]["resourcePath"] = path
    proxy["body"], proxy["isBase64Encoded"] = json.dumps(document), False
    return proxy


@settings(max_examples=examples(200))
@given(items=st.lists(hostile_items, min_size=1, max_size=4), via_batch=st.booleans())
def test_hostile_items_are_answered_and_what_they_store_reads_back(
    harness: Harness, items: list[dict[str, Any]], via_batch: bool
) -> None:
    # Given lone surrogates, extreme dates, oversized and deeply nested items, in a batch or one by one
    fakes = harness.fresh()

    # When they are sent
    if via_batch:
        responses = [harness.invoke(plain_proxy("/track/batch", {"batch": items}))]
    else:
        responses = [harness.invoke(plain_proxy("/track", item)) for item in items]

    # Then every answer is a JSON 2xx/4xx, and everything stored reads back (issue 15, findings 1, 4, 5)
    for response in responses:
        status = response["statusCode"]
        assert 200 <= status < 500, response
        event(f"status {status}")
    assert_readable(fakes)


@settings(max_examples=examples(200))
@given(chunk=st.one_of(hostile_replays, plausible_replays))
def test_hostile_replay_chunks_are_answered_and_what_they_store_reads_back(
    harness: Harness, chunk: dict[str, Any]
) -> None:
    # Given a device whose first event opened a session
    fakes = harness.fresh()
    opened = harness.invoke(plain_proxy("/track", {"type": "track", "payload": {"name": "screen_view"}}))
    assert opened["statusCode"] == 200, opened
    # When it sends a hostile replay chunk
    response = harness.invoke(plain_proxy("/track", chunk))
    # Then the answer is a JSON 2xx/4xx; a refusal stores no chunk
    status = response["statusCode"]
    assert 200 <= status < 500, response
    body = json.loads(response["body"])
    if status >= 400:
        assert body["status"] == status and isinstance(body["error"], str) and body["error"]
        assert not fakes.replays.chunks, "a refused chunk was stored"
    # And every stored chunk reads back as GET /session/{id}/replay answers it, as UTF-8 JSON
    for (project_id, session_id), stored in fakes.replays.chunks.items():
        page = fakes.replays.session_chunks(project_id, session_id, None, 50, 4 * 1024 * 1024)
        assert len(page.chunks) == len(stored)
        replay_response(session_id, project_id, page).model_dump_json().encode("utf-8")
    event(f"status {status}")
