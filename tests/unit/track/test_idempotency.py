"""Idempotency with fakes: an event's __id or a request's Idempotency-Key is stored once and answered as
the first time; without either, OpenPanel's double-send rule drops an identical payload within 2 seconds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from beacon.domain.entities import Caller, ClientType, Event, RequestContext, RequestMeta, TrackResult
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.domain.sessions import DUPLICATE_WINDOW
from beacon.errors import DependencyUnavailableError
from beacon.models.requests import TrackRequest, parse_track_request
from tests.constants import NOW, SAFARI
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeRejectedEventStore,
    accepted,
    fake_stores,
    tracked,
)
from tests.unit.support.handlers import FakeLambdaContext, load_event


def caller(project_id: str = "project-a") -> Caller:
    return Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, secret_auth=True)


def meta(source_ip: str = "203.0.113.7") -> RequestMeta:
    return RequestMeta(request_id="req-1", source_ip=source_ip, user_agent=SAFARI)


def event(name: str = "purchase", **properties: Any) -> TrackRequest:
    return parse_track_request(json.dumps({"type": "track", "payload": {"name": name, "properties": properties}}))


def send(
    stores: Stores,
    request: TrackRequest,
    at: datetime = NOW,
    project_id: str = "project-a",
    source_ip: str = "203.0.113.7",
    idempotency_key: str | None = None,
) -> TrackResult:
    result = ingest(
        request,
        RequestContext(caller(project_id), meta(source_ip), at, idempotency_key=idempotency_key),
        stores,
        UNIT_TEST_ENRICHER,
    )
    return accepted(result)


# -- properties.__id ----------------------------------------------------------------------------------
def test_same_id_twice_is_stored_once_and_the_repeat_answers_as_the_first() -> None:
    # Given an event carrying an __id that was stored
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event(__id="order-1042"))

    # When the same event is sent again a second later (a retry after a lost answer)
    repeat = send(stores, event(__id="order-1042"), at=NOW + timedelta(seconds=1))

    # Then one event is stored, and the repeat is answered with the first request's ids
    assert [e.name for e in tracked(store)] == ["purchase"]
    assert repeat == first


def test_same_id_after_the_session_ended_is_still_stored_once_and_answered_as_the_first() -> None:
    # Given an event with an __id stored in a session that has since timed out
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event(__id="order-1042"))

    # When it is retried 31 minutes later (when a new session would start)
    repeat = send(stores, event(__id="order-1042"), at=NOW + timedelta(minutes=31))

    # Then nothing more is stored (no second event, no second session_start), and it answers as the first did
    assert len(tracked(store)) == 1
    assert [e.name for e in store.events].count("session_start") == 1
    assert repeat == first


def test_the_id_decides_not_the_payload_a_changed_payload_with_a_used_id_is_not_stored() -> None:
    # Given an event stored with an __id
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event("purchase", __id="order-1042", amount=10))

    # When another payload arrives with the same __id
    repeat = send(stores, event("refund", __id="order-1042", amount=99), at=NOW + timedelta(seconds=5))

    # Then only the first is stored and the answer is the first one's
    assert [(e.name, e.properties) for e in tracked(store)] == [("purchase", {"amount": 10})]
    assert repeat == first


def test_different_ids_are_different_events() -> None:
    # Given two events with the same payload and different __ids
    store = FakeEventStore()
    stores = fake_stores(store)

    # When both are sent within the same second
    send(stores, event(__id="order-1"))
    send(stores, event(__id="order-2"), at=NOW + timedelta(milliseconds=500))

    # Then both are stored
    assert len(tracked(store)) == 2


def test_an_id_is_scoped_to_its_project() -> None:
    # Given an __id used in one project
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, event(__id="shared-id"), project_id="project-a")

    # When another project sends an event with the same __id
    send(stores, event(__id="shared-id"), project_id="project-b")

    # Then each project has its event
    assert sorted(e.project_id for e in tracked(store)) == ["project-a", "project-b"]


def test_the_id_is_not_kept_as_an_ordinary_property() -> None:
    # Given an event with an __id and an ordinary property
    store = FakeEventStore()

    # When it is stored
    send(fake_stores(store), event(__id="order-1042", amount=10))

    # Then only the ordinary property is stored with it
    assert tracked(store)[0].properties == {"amount": 10}


@pytest.mark.parametrize("bad_id", ["", "x" * 65], ids=["empty", "65 characters"])
def test_id_outside_1_to_64_characters_is_refused(bad_id: str) -> None:
    # Given an event whose __id is empty or longer than 64 characters
    body = json.dumps({"type": "track", "payload": {"name": "purchase", "properties": {"__id": bad_id}}})

    # When it is parsed, Then it is refused on payload.properties.__id
    with pytest.raises(ValidationError) as refused:
        parse_track_request(body)
    assert [error["loc"][-1] for error in refused.value.errors()] == ["__id"]


# -- the Idempotency-Key of a request ---------------------------------------------------------------------
def test_same_idempotency_key_twice_is_stored_once_and_the_repeat_answers_as_the_first() -> None:
    # Given a request stored under an Idempotency-Key
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event("signup"), idempotency_key="7f0e6a1c")

    # When the same request is retried with the same key, even after its session ended
    soon = send(stores, event("signup"), at=NOW + timedelta(seconds=10), idempotency_key="7f0e6a1c")
    later = send(stores, event("signup"), at=NOW + timedelta(hours=2), idempotency_key="7f0e6a1c")

    # Then one event is stored and every repeat answers as the first
    assert [e.name for e in tracked(store)] == ["signup"]
    assert soon == later == first


def test_different_idempotency_keys_store_the_same_payload_twice() -> None:
    # Given two requests with identical payloads and different Idempotency-Keys
    store = FakeEventStore()
    stores = fake_stores(store)

    # When both are sent within the double-send window
    send(stores, event("signup"), idempotency_key="key-1")
    send(stores, event("signup"), at=NOW + timedelta(milliseconds=300), idempotency_key="key-2")

    # Then both are stored: a key says which requests are repeats, the payload no longer does
    assert len(tracked(store)) == 2


# -- OpenPanel's double-send rule (no __id, no key) -----------------------------------------------------
def test_identical_payload_within_2_seconds_is_a_double_send_stored_once() -> None:
    # Given an event without __id that was stored
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event("add_to_cart", sku="A-1"))

    # When the identical payload arrives again from the same client and device 1.5 s later
    repeat = send(stores, event("add_to_cart", sku="A-1"), at=NOW + timedelta(milliseconds=1500))

    # Then it is dropped as an accidental double send, and answered with the same ids
    assert [e.name for e in tracked(store)] == ["add_to_cart"]
    assert repeat == first


def test_identical_payload_after_3_seconds_is_a_new_event() -> None:
    # Given an event without __id that was stored
    store = FakeEventStore()
    stores = fake_stores(store)
    first = send(stores, event("add_to_cart", sku="A-1"))

    # When the identical payload arrives again 3 s later, past the 2-second window
    again = send(stores, event("add_to_cart", sku="A-1"), at=NOW + timedelta(seconds=3))

    # Then it is a second event of the same session
    assert NOW + timedelta(seconds=3) - NOW > DUPLICATE_WINDOW
    assert len(tracked(store)) == 2
    assert again == first  # same device, same session


def test_different_payload_within_2_seconds_is_stored() -> None:
    # Given an event without __id that was stored
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, event("add_to_cart", sku="A-1"))

    # When a different payload arrives from the same device half a second later
    send(stores, event("add_to_cart", sku="B-2"), at=NOW + timedelta(milliseconds=500))

    # Then both are stored
    assert [e.properties["sku"] for e in tracked(store)] == ["A-1", "B-2"]


def test_identical_payload_from_another_device_within_2_seconds_is_stored() -> None:
    # Given an event without __id stored for one device
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, event("add_to_cart", sku="A-1"), source_ip="203.0.113.7")

    # When another device (another IP) sends the identical payload 100 ms later
    send(stores, event("add_to_cart", sku="A-1"), at=NOW + timedelta(milliseconds=100), source_ip="198.51.100.9")

    # Then both are stored: a double send is one device repeating itself
    assert len({e.device_id for e in tracked(store)}) == 2


def test_a_quick_retry_after_a_failed_event_write_is_stored_not_taken_for_a_double_send() -> None:
    class FailingOnce(FakeEventStore):
        failed = False

        def put_event(self, event: Event) -> None:
            if event.name == "again" and not self.failed:
                self.failed = True
                raise DependencyUnavailableError("DynamoDB is unavailable")
            super().put_event(event)

    events = FailingOnce()
    stores = fake_stores(events)
    caller = Caller("p", "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    meta = RequestMeta("r", "203.0.113.7", "curl/8.5.0")
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "again"}}))
    ingest(
        parse_track_request(json.dumps({"type": "track", "payload": {"name": "warm"}})),
        RequestContext(caller, meta, NOW),
        stores,
        UNIT_TEST_ENRICHER,
    )
    with pytest.raises(DependencyUnavailableError):
        ingest(request, RequestContext(caller, meta, NOW + timedelta(seconds=1)), stores, UNIT_TEST_ENRICHER)
    ingest(
        request, RequestContext(caller, meta, NOW + timedelta(seconds=1, milliseconds=500)), stores, UNIT_TEST_ENRICHER
    )
    assert [event.name for event in tracked(events)] == ["warm", "again"]


# -- Idempotency-Key through the track function ---------------------------------------------------------
def track_with_key(track_app: ModuleType, key: str, payload: dict[str, Any]) -> tuple[int, Any]:
    return send_with_key(track_app, key, {"type": "track", "payload": payload})


def send_with_key(track_app: ModuleType, key: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = load_event("track")
    request["body"] = json.dumps(body)
    request["headers"]["Idempotency-Key"] = key
    request["multiValueHeaders"]["Idempotency-Key"] = [key]
    response = track_app.lambda_handler(request, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_idempotency_key_header_twice_stores_once_and_answers_the_same(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a track request sent with an Idempotency-Key
    first = track_with_key(track_app, "c0ffee-1", {"name": "checkout", "properties": {"total": 42}})

    # When it is sent again with the same key
    repeat = track_with_key(track_app, "c0ffee-1", {"name": "checkout", "properties": {"total": 42}})

    # Then both answers are the same 200, and one event is stored
    assert first[0] == 200, first
    assert repeat == first
    assert [e.name for e in tracked(store)] == ["checkout"]


def test_idempotency_key_header_on_an_increment_counts_once_and_answers_the_same(
    track_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's stores, and an increment sent with an Idempotency-Key
    profiles = FakeProfileStore()
    stores = fake_stores(FakeEventStore(), profiles)
    monkeypatch.setattr(track_app, "stores", lambda: stores)
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    monkeypatch.setattr(track_app, "rejected_store", FakeRejectedEventStore)
    increment = {"type": "increment", "payload": {"profileId": "u1", "property": "credits", "value": 5}}
    first = send_with_key(track_app, "topup-9", increment)

    # When it is retried with the same key
    repeat = send_with_key(track_app, "topup-9", increment)

    # Then the counter moved once, and the retry was answered as the first
    assert first[0] == 200, first
    assert repeat == first
    assert profiles.profiles[("example-project", "u1")]["properties"] == {"credits": 5}


@pytest.mark.parametrize("key", ["", "k" * 129], ids=["empty", "129 characters"])
def test_idempotency_key_header_outside_1_to_128_characters_is_a_400(
    track_app: ModuleType, store: FakeEventStore, key: str
) -> None:
    # Given a track request whose Idempotency-Key is empty or too long
    # When the function handles it
    status, body = track_with_key(track_app, key, {"name": "checkout"})

    # Then it is refused, and nothing is stored
    assert (status, body) == (400, {"error": "Idempotency-Key must be 1-128 characters", "status": 400})
    assert store.events == []


# -- keys belong to their client and their kind (issue 15, finding 7) ----------------------------------------
BROWSER_CLIENT = "9b2f6c1e-0d3a-4f5e-8a7b-6c5d4e3f2a10"


def call_as(
    track_app: ModuleType, body: dict[str, Any], client_id: str, path: str = "/track", key: str | None = None
) -> tuple[int, Any]:
    """The track function's answer to `body` sent by `client_id` of the same project (a browser one: no secret)."""
    request = load_event("track")
    request["body"], request["path"], request["resource"] = json.dumps(body), path, path
    if client_id != request["requestContext"]["authorizer"]["clientId"]:
        request["requestContext"]["authorizer"].update(clientId=client_id, secretAuth="false", principalId=client_id)
    if key is not None:
        request["headers"]["Idempotency-Key"] = key
        request["multiValueHeaders"]["Idempotency-Key"] = [key]
    response = track_app.lambda_handler(request, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_an_event_id_of_one_client_never_answers_for_another_clients_event(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a browser client's event with __id order-1 (anyone who can read the page can send it)
    server = load_event("track")["requestContext"]["authorizer"]["clientId"]
    forged = {"type": "track", "payload": {"name": "purchase", "properties": {"__id": "order-1", "fake": True}}}
    assert call_as(track_app, forged, BROWSER_CLIENT)[0] == 200

    # When the site's server sends its own purchase with the same __id
    real = {"type": "track", "payload": {"name": "purchase", "properties": {"__id": "order-1", "total": 42}}}
    status, _ = call_as(track_app, real, server)

    # Then the server's purchase is stored too: the browser's key did not swallow it
    assert status == 200
    assert sorted(str(event.properties) for event in tracked(store)) == ["{'fake': True}", "{'total': 42}"]


def test_a_batch_under_another_clients_idempotency_key_is_stored(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a browser client's batch under Idempotency-Key K
    server = load_event("track")["requestContext"]["authorizer"]["clientId"]
    browser_batch = {"batch": [{"type": "track", "payload": {"name": "fake"}}]}
    assert call_as(track_app, browser_batch, BROWSER_CLIENT, "/track/batch", key="K")[0] == 200

    # When the server sends a different batch under the same key
    status, answer = call_as(
        track_app, {"batch": [{"type": "track", "payload": {"name": "real"}}]}, server, "/track/batch", key="K"
    )

    # Then the server's batch is stored: the two clients' keys are two keys
    assert (status, answer["accepted"]) == (200, 1)
    assert sorted(event.name for event in tracked(store)) == ["fake", "real"]


def test_a_request_key_cannot_mimic_a_batch_items_key(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch under Idempotency-Key K whose item 0 is an event with its own single-item claim (an increment)
    server = load_event("track")["requestContext"]["authorizer"]["clientId"]
    increment = {"type": "increment", "payload": {"profileId": "u1", "property": "visits"}}
    assert call_as(track_app, {"batch": [increment]}, server, "/track/batch", key="K")[0] == 200

    # When a POST /track increment comes with an Idempotency-Key spelled like that item's old key
    status, _ = call_as(track_app, increment, server, key="batch#K#0")

    # Then it is a request of its own: it counts
    assert status == 200
    profiles = track_app.stores().profiles
    assert profiles.profiles[("example-project", "u1")]["properties"]["visits"] == 2
