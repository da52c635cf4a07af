"""POST /track/batch with fakes: each item stands alone (a bad one rejects only itself), a retried batch stores
nothing twice, a partial failure names what was not stored, and sentAt removes the client clock's error."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.concurrency import BATCH_WORKERS
from beacon.domain.enrich import Enricher
from beacon.domain.entities import Caller, ClientType, Event, RequestContext, RequestMeta
from beacon.domain.event_time import resolve_event_time
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.domain.rejections import MAX_KEPT_PAYLOAD_BYTES
from beacon.errors import DependencyUnavailableError, InvalidRequestError
from beacon.models.requests import MAX_BATCH_EVENTS, MAX_STRING_LENGTH, parse_batch_request, parse_track_request
from tests.constants import CALLER, NOW, SAFARI
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeRejectedEventStore,
    accepted,
    fake_stores,
    tracked,
)
from tests.unit.support.handlers import FakeLambdaContext, load_event, response_header

META = RequestMeta(request_id="req-1", source_ip="203.0.113.7", user_agent=SAFARI)


def item(name: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "payload": {"name": name, "properties": properties}}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class FlakyEventStore(FakeEventStore):
    """An event store that is throttled, once, for the events named in `failing`, as DynamoDB can be for some writes
    of a large batch: a single write raises, a group write leaves them unprocessed."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self.failing = set(failing)

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        if event.name in self.failing:
            self.failing.discard(event.name)
            raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")
        super().put_claimed_event(event, idempotency_key)

    def put_events(self, events: list[Event]) -> list[Event]:
        unprocessed = [event for event in events if event.name in self.failing]
        self.failing -= {event.name for event in unprocessed}
        return unprocessed + super().put_events([event for event in events if event not in unprocessed])


class SerialisedEventStore(FakeEventStore):
    """A FakeEventStore whose claims are atomic, as DynamoDB's conditional writes are, under the batch's threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        with self._lock:
            super().put_claimed_event(event, idempotency_key)


def run_batch(
    stores: Stores, items: list[Any], batch_key: str = "batch#b1", sent_at: str | None = None, at: datetime = NOW
) -> BatchOutcome:
    context = RequestContext(CALLER, META, at, sent_at=sent_at)
    return ingest_batch(batch_of(items, batch_key, sent_at), context, stores, UNIT_TEST_ENRICHER)


def warm_session(stores: Stores) -> None:
    """The device already has an active session, so every batch item goes through the event store."""
    accepted(
        ingest(
            parse_track_request(json.dumps(item("warm_up"))),
            RequestContext(CALLER, META, NOW),
            stores,
            UNIT_TEST_ENRICHER,
        )
    )


# -- the batch domain -----------------------------------------------------------------------------------
def test_mixed_batch_stores_the_valid_items_and_rejects_each_invalid_one_with_details() -> None:
    # Given a batch of valid items among an empty name, a non-object and an unknown type
    store = FakeEventStore()
    items = [item("first"), item(""), item("third"), "hello", {"type": "nope"}, item("sixth")]

    # When it is ingested
    outcome = run_batch(fake_stores(store), items)

    # Then the valid items are stored, and each invalid one is rejected by index with the field at fault
    assert sorted(e.name for e in tracked(store)) == ["first", "sixth", "third"]
    assert [index for index, _ in outcome.results] == [0, 2, 5]
    assert [(index, error.status) for index, error in outcome.rejected] == [(1, 400), (3, 400), (4, 400)]
    fields = {index: [detail.field for detail in error.details or []] for index, error in outcome.rejected}
    assert fields == {1: ["payload.name"], 3: ["body"], 4: ["type"]}
    assert outcome.not_stored == []


def test_results_give_each_stored_item_its_device_and_session() -> None:
    # Given a batch of three events from one device
    store = FakeEventStore()

    # When it is ingested
    outcome = run_batch(fake_stores(store), [item("a"), item("b"), item("c")])

    # Then every result names the device and session its event was stored under
    stored = {event.name: event for event in tracked(store)}
    for index, result in outcome.results:
        event = stored["abc"[index]]
        assert (result.device_id, result.session_id) == (event.device_id, event.session_id)


class ThreadRecordingEventStore(SerialisedEventStore):
    """Remembers the thread each event was stored on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        self.threads.add(threading.current_thread().name)
        super().put_claimed_event(event, idempotency_key)

    def put_events(self, events: list[Event]) -> list[Event]:
        self.threads.add(threading.current_thread().name)
        return super().put_events(events)


def test_batches_are_stored_on_one_pool_of_threads_per_container() -> None:
    # Given a device with an active session, so every item is stored by the event store
    store = ThreadRecordingEventStore()
    stores = fake_stores(store)
    warm_session(stores)

    # When three batches of 40 are ingested one after the other
    for number in range(3):
        run_batch(stores, [item(f"e{index}") for index in range(40)], batch_key=f"batch#pool{number}")

    # Then every item was stored on the container's batch pool, never on more threads than it holds
    assert len(tracked(store)) == 121
    assert store.threads
    assert all(name.startswith("beacon-batch") for name in store.threads)
    assert len(store.threads) <= BATCH_WORKERS
    assert sum(1 for thread in threading.enumerate() if thread.name.startswith("beacon-batch")) <= BATCH_WORKERS


def test_items_of_one_batch_are_enriched_once_per_distinct_set_of_overrides() -> None:
    # Given a batch of 30 plain items and 10 that override the device's os, counting how often the device ids
    # (and with them everything else the request gives) are derived
    derivations: list[bool] = []

    def stack_secret() -> bytes:
        derivations.append(True)
        return b"unit-test-stack-secret"

    enricher = Enricher(stack_secret=stack_secret)
    items = [item(f"plain{index}") for index in range(30)] + [item(f"os{index}", __os="Plan 9") for index in range(10)]
    store = FakeEventStore()

    # When it is ingested
    batch = batch_of(items, "batch#shared")
    outcome = ingest_batch(batch, RequestContext(CALLER, META, NOW), fake_stores(store), enricher)

    # Then each set of overrides was enriched once, and every item carries its own set's device
    assert len(outcome.results) == 40
    assert len(derivations) == 2
    systems = {event.name: event.device.get("os") for event in tracked(store)}
    assert {systems[f"os{index}"] for index in range(10)} == {"Plan 9"}
    assert {systems[f"plain{index}"] for index in range(30)} == {"macOS"}
    assert len({event.device_id for event in tracked(store)}) == 1


def test_item_refused_by_the_domain_rejects_only_itself() -> None:
    # Given a batch where one item is valid JSON but refused by Beacon (a profile aliased to itself)
    store = FakeEventStore()
    items = [item("before"), {"type": "alias", "payload": {"profileId": "u1", "alias": "u1"}}, item("after")]

    # When it is ingested
    outcome = run_batch(fake_stores(store), items)

    # Then the other items are stored, and the refused one is rejected with the domain's message and details
    assert sorted(e.name for e in tracked(store)) == ["after", "before"]
    [(index, error)] = outcome.rejected
    assert (index, error.status, error.error) == (1, 400, "A profile cannot be its own alias")
    assert [detail.field for detail in error.details or []] == ["payload.alias"]


def test_same_batch_again_stores_nothing_and_answers_the_same() -> None:
    # Given a batch that was stored
    store = FakeEventStore()
    stores = fake_stores(store)
    items = [item("a", n=1), item("b", n=2), item("c", n=3)]
    first = run_batch(stores, items)

    # When the same batch (same key) is sent again a minute later
    repeat = run_batch(stores, items, at=NOW + timedelta(minutes=1))

    # Then nothing more is stored, and every item is answered as the first time
    assert sorted(e.name for e in tracked(store)) == ["a", "b", "c"]
    assert sorted(repeat.results, key=lambda pair: pair[0]) == sorted(first.results, key=lambda pair: pair[0])


def test_identical_items_in_one_batch_are_distinct_events() -> None:
    # Given a batch holding the same payload twice (no __id): two real clicks, sent together
    store = FakeEventStore()

    # When it is ingested
    outcome = run_batch(fake_stores(store), [item("click"), item("click")])

    # Then both are stored: within a batch, the double-send rule does not apply
    assert len(tracked(store)) == 2
    assert len(outcome.results) == 2


def test_items_with_the_same_id_in_a_batch_are_stored_once() -> None:
    # Given a batch holding two items with one __id (a client that queued the same event twice)
    store = SerialisedEventStore()
    stores = fake_stores(store)
    warm_session(stores)

    # When it is ingested
    outcome = run_batch(stores, [item("order", __id="o-1"), item("order", __id="o-1"), item("other")])

    # Then the event is stored once, and both items are answered as stored
    assert sorted(e.name for e in tracked(store) if e.name != "warm_up") == ["order", "other"]
    assert [index for index, _ in outcome.results] == [0, 1, 2]


def test_items_not_stored_are_listed_and_the_retry_stores_each_event_exactly_once() -> None:
    # Given an event store that is throttled, once, for the writes of items 2 and 5
    store = FlakyEventStore(failing={"e2", "e5"})
    stores = fake_stores(store)
    warm_session(stores)
    items = [item(f"e{i}") for i in range(8)]

    # When the batch is ingested, and retried
    first = run_batch(stores, items)
    retry = run_batch(stores, items, at=NOW + timedelta(seconds=5))

    # Then the first attempt names items 2 and 5 as not stored; after the retry every event is stored once
    assert first.not_stored == [2, 5]
    assert sorted(index for index, _ in first.results) == [0, 1, 3, 4, 6, 7]
    assert retry.not_stored == []
    assert sorted(index for index, _ in retry.results) == list(range(8))
    names = [e.name for e in tracked(store) if e.name != "warm_up"]
    assert sorted(names) == [f"e{i}" for i in range(8)]


def test_counter_in_a_batch_retried_after_a_partial_failure_counts_once() -> None:
    # Given an event store throttled once for item 1, and a batch with an increment beside it
    store = FlakyEventStore(failing={"visit"})
    profiles = FakeProfileStore()
    stores = fake_stores(store, profiles)
    warm_session(stores)
    items = [{"type": "increment", "payload": {"profileId": "u1", "property": "visits"}}, item("visit")]

    # When the batch is ingested, and retried as the 503 asks
    first = run_batch(stores, items)
    retry = run_batch(stores, items, at=NOW + timedelta(seconds=5))

    # Then the counter was added to once, though the increment was sent twice, and both answers agree
    assert (first.not_stored, retry.not_stored) == ([1], [])
    assert profiles.profiles[("project-a", "u1")]["properties"] == {"visits": 1}
    assert dict(retry.results)[0] == dict(first.results)[0]


def test_a_batch_event_larger_than_a_track_body_is_rejected_alone() -> None:
    events = FakeEventStore()
    caller = Caller("p", "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    big = {"type": "track", "payload": {"name": "big", "properties": {f"k{i}": "v" * 3000 for i in range(40)}}}
    small = {"type": "track", "payload": {"name": "small"}}
    outcome = ingest_batch(
        batch_of([big, small], "b"),
        RequestContext(caller, RequestMeta("r", "203.0.113.7", "curl/8.5.0"), NOW),
        fake_stores(events),
        UNIT_TEST_ENRICHER,
    )
    assert [(index, error.status) for index, error in outcome.rejected] == [(0, 413)]
    assert [event.name for event in tracked(events)] == ["small"]


def test_a_batch_nested_thousands_deep_is_a_400_not_a_crash() -> None:
    # Deeper than any interpreter's JSON recursion limit: Python 3.13's json parses 3000 levels (3.11's stops at
    # about 1000), so a shallower body would test pydantic rather than the parser's RecursionError on Lambda's 3.13.
    with pytest.raises(InvalidRequestError):
        parse_batch_request("[" * 100_000 + "]" * 100_000)


# -- sentAt: clock-skew correction ----------------------------------------------------------------------
def test_client_clock_two_hours_ahead_is_corrected_and_its_timestamp_kept() -> None:
    # Given a client whose clock is 2 hours fast, sending 30 s after the event (both times on its clock)
    store = FakeEventStore()
    client_clock = timedelta(hours=2)
    timestamp = iso(NOW - timedelta(seconds=30) + client_clock)
    request = parse_track_request(json.dumps(item("purchase", __timestamp=timestamp)))

    # When it arrives at NOW with sentAt from the same clock
    ingest(
        request,
        RequestContext(CALLER, META, NOW, sent_at=iso(NOW + client_clock)),
        fake_stores(store),
        UNIT_TEST_ENRICHER,
    )

    # Then the event time is the receipt time minus the real 30 s delay, and the client's timestamp is kept
    [event] = tracked(store)
    assert event.created_at == NOW - timedelta(seconds=30)
    assert event.received_at == NOW
    assert event.client_timestamp == timestamp
    assert event.from_past is False


def test_client_clock_two_hours_behind_is_corrected_to_an_event_from_the_past() -> None:
    # Given a client whose clock is 2 hours slow, sending an event queued 20 minutes earlier (offline)
    store = FakeEventStore()
    client_clock = -timedelta(hours=2)
    timestamp = iso(NOW - timedelta(minutes=20) + client_clock)
    request = parse_track_request(json.dumps(item("screen_view", __timestamp=timestamp)))

    # When it arrives at NOW with sentAt from the same clock
    ingest(
        request,
        RequestContext(CALLER, META, NOW, sent_at=iso(NOW + client_clock)),
        fake_stores(store),
        UNIT_TEST_ENRICHER,
    )

    # Then it happened 20 minutes ago, not 2 h 20 min ago, and counts as from the past (over 15 minutes)
    [event] = tracked(store)
    assert event.created_at == NOW - timedelta(minutes=20)
    assert event.from_past is True
    assert event.client_timestamp == timestamp


def test_without_sent_at_a_timestamp_two_hours_ahead_falls_back_to_the_receipt_time() -> None:
    # Given an event stamped by a clock 2 hours fast, and no sentAt to measure the clock by
    store = FakeEventStore()
    timestamp = iso(NOW + timedelta(hours=2))
    request = parse_track_request(json.dumps(item("purchase", __timestamp=timestamp)))

    # When it is ingested
    ingest(request, RequestContext(CALLER, META, NOW), fake_stores(store), UNIT_TEST_ENRICHER)

    # Then a future time is not believed: the event time is the receipt time, the client's stamp kept beside it
    [event] = tracked(store)
    assert event.created_at == NOW
    assert event.client_timestamp == timestamp


@pytest.mark.parametrize(
    ("timestamp", "sent_at"), [("0001-01-01T00:00:00+01:00", None), ("0001-01-01T00:00:00", "2028-01-01T00:00:00Z")]
)
def test_extreme_timestamps_fall_back_to_the_receipt_time(timestamp: str, sent_at: str | None) -> None:
    assert resolve_event_time(timestamp, NOW, sent_at) == (NOW, False)


def test_batch_sent_at_corrects_every_item_by_the_same_clock_error() -> None:
    # Given a batch from a client 2 hours fast: events 3 min, 1 min and 0 s before sending
    store = FakeEventStore()
    client_clock = timedelta(hours=2)
    delays = [timedelta(minutes=3), timedelta(minutes=1), timedelta(0)]
    items = [item(f"e{i}", __timestamp=iso(NOW - delay + client_clock)) for i, delay in enumerate(delays)]

    # When it is ingested with the batch's sentAt
    run_batch(fake_stores(store), items, sent_at=iso(NOW + client_clock))

    # Then each event keeps its real distance from the send
    times = {event.name: event.created_at for event in tracked(store)}
    assert times == {f"e{i}": NOW - delay for i, delay in enumerate(delays)}


# -- through the track function -----------------------------------------------------------------------


Wire = Callable[[FakeEventStore], FakeEventStore]


@pytest.fixture
def wire(track_app: ModuleType, monkeypatch: pytest.MonkeyPatch, rejected: FakeRejectedEventStore) -> Wire:
    """Give the track function fake stores around an event store of the test's choosing."""

    def use(store: FakeEventStore) -> FakeEventStore:
        stores = fake_stores(store)
        monkeypatch.setattr(track_app, "stores", lambda: stores)
        return store

    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    monkeypatch.setattr(track_app, "rejected_store", lambda: rejected)
    return use


@pytest.fixture
def store(wire: Wire) -> FakeEventStore:
    return wire(FakeEventStore())


def batch_request(body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The committed track event, sent to /track/batch with `body` (JSON-encoded unless already text)."""
    event = load_event("track")
    event["path"] = event["resource"] = "/track/batch"
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def invoke(track_app: ModuleType, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]), response


def test_mixed_batch_answers_accepted_rejected_and_results_in_the_documented_shape(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a batch of two valid events around an invalid one
    body = {"batch": [item("signup"), item(""), item("purchase", plan="pro")]}

    # When the function handles it
    status, answer, _ = invoke(track_app, batch_request(body))

    # Then it answers 200: the count accepted, the rejection by index, and each stored item's ids by index
    assert status == 200, answer
    assert set(answer) == {"accepted", "rejected", "results"}
    assert answer["accepted"] == 2
    assert answer["rejected"] == [
        {
            "index": 1,
            "error": "Invalid request body",
            "status": 400,
            "details": [
                {
                    "field": "payload.name",
                    "message": "String should have at least 1 character",
                    "type": "string_too_short",
                }
            ],
        }
    ]
    stored = {event.name: event for event in tracked(store)}
    assert answer["results"] == [
        {"index": 0, "deviceId": stored["signup"].device_id, "sessionId": stored["signup"].session_id},
        {"index": 2, "deviceId": stored["purchase"].device_id, "sessionId": stored["purchase"].session_id},
    ]


def test_batch_of_1000_events_is_accepted(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch of exactly 1000 distinct events
    body = {"batch": [item("page_view", n=i) for i in range(MAX_BATCH_EVENTS)]}

    # When the function handles it
    status, answer, _ = invoke(track_app, batch_request(body))

    # Then all are accepted, each stored once, each answered by its index
    assert status == 200
    assert (answer["accepted"], answer["rejected"]) == (1000, [])
    assert [result["index"] for result in answer["results"]] == list(range(1000))
    assert sorted(event.properties["n"] for event in tracked(store)) == list(range(1000))


def test_batch_of_1001_events_is_a_413_and_stores_nothing(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch one event over the limit
    body = {"batch": [item("page_view", n=i) for i in range(MAX_BATCH_EVENTS + 1)]}

    # When the function handles it
    status, answer, _ = invoke(track_app, batch_request(body))

    # Then it answers 413 in the API's error shape, and nothing is stored
    assert (status, answer) == (413, {"error": "A batch holds at most 1000 events", "status": 413})
    assert store.events == []


def test_same_batch_sent_twice_is_stored_once_and_answered_the_same(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a batch that was accepted
    body = {"batch": [item("a", n=1), item("b", n=2), item("", n=3)]}
    first = invoke(track_app, batch_request(body))[1]

    # When the same body is sent again (its answer was lost)
    repeat = invoke(track_app, batch_request(body))[1]

    # Then nothing more is stored, and the answer is the same
    assert sorted(e.name for e in tracked(store)) == ["a", "b"]
    assert repeat == first


def test_batch_with_an_idempotency_key_is_a_repeat_even_when_its_bytes_differ(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a batch accepted under an Idempotency-Key
    items = [item("a"), item("b")]
    invoke(track_app, batch_request({"batch": items}, {"Idempotency-Key": "batch-77"}))

    # When it is resent with the same key, re-serialised with a sentAt (other bytes, same items)
    status, answer, _ = invoke(
        track_app, batch_request({"sentAt": iso(NOW), "batch": items}, {"Idempotency-Key": "batch-77"})
    )

    # Then it is answered 200 and nothing more is stored
    assert (status, answer["accepted"]) == (200, 2)
    assert sorted(e.name for e in tracked(store)) == ["a", "b"]


def test_rejected_and_truncated_items_are_kept_with_project_client_reason_details_and_a_truncated_payload(
    track_app: ModuleType, store: FakeEventStore, rejected: FakeRejectedEventStore
) -> None:
    # Given a batch with a valid event, an empty name, and an event whose properties break the limits (and
    # whose payload is larger than what is kept)
    oversized = item("big", **{f"p{i}": "x" * (MAX_STRING_LENGTH + 1) for i in range(3)})
    request = batch_request({"batch": [item("ok"), item(""), oversized]})

    # When the function handles it
    status, answer, _ = invoke(track_app, request)

    # Then the oversized event is stored with its strings cut, and only the empty name is refused
    assert (status, answer["accepted"]) == (200, 2)
    big = next(event for event in tracked(store) if event.name == "big")
    assert [len(big.properties[f"p{i}"]) for i in range(3)] == [MAX_STRING_LENGTH] * 3
    assert big.properties["__truncated"] == ["p0", "p1", "p2"]
    # and both are kept for the authorizer's project and client: the refused one with its 400, the cut one with
    # its 200 and the cut paths
    authorizer = request["requestContext"]["authorizer"]
    assert [(r.project_id, r.client_id) for r in rejected.rejected] == [
        (authorizer["projectId"], authorizer["clientId"])
    ] * 2
    assert [(r.index, r.reason, r.status) for r in rejected.rejected] == [
        (1, "Invalid request body", 400),
        (2, "Stored with properties cut to the bounds", 200),
    ]
    assert rejected.rejected[0].details == [
        {"field": "payload.name", "message": "String should have at least 1 character", "type": "string_too_short"}
    ]
    assert [detail["field"] for detail in rejected.rejected[1].details] == [
        f"payload.properties.p{i}" for i in range(3)
    ]
    assert {detail["type"] for detail in rejected.rejected[1].details} == {"truncated"}
    # the item itself is the payload, bounded
    assert json.loads(rejected.rejected[0].payload) == item("")
    assert len(rejected.rejected[1].payload.encode()) == MAX_KEPT_PAYLOAD_BYTES
    assert rejected.rejected[1].payload.startswith('{"type": "track", "payload": {"name": "big"')
    # and nothing from the request's headers is kept (the client id is kept from the authorizer's context)
    kept = repr(rejected.rejected)
    for name, value in request["headers"].items():
        assert name == "openpanel-client-id" or value not in kept, name


def test_invalid_track_request_is_kept_as_a_rejected_event_without_its_headers(
    track_app: ModuleType, store: FakeEventStore, rejected: FakeRejectedEventStore
) -> None:
    # Given a POST /track whose event has no name, sent with a client secret
    request = load_event("track")
    request["body"] = json.dumps({"type": "track", "payload": {"properties": {"path": "/"}}})

    # When the function handles it
    status, _, _ = invoke(track_app, request)

    # Then the 400 is kept with the body as sent, its details, and no index; no header value is kept
    assert status == 400
    [kept] = rejected.rejected
    assert (kept.reason, kept.status, kept.index) == ("Invalid request body", 400, None)
    assert kept.payload == request["body"]
    assert [detail["field"] for detail in kept.details] == ["payload.name"]
    assert "sec_example-not-a-real-secret" not in repr(kept)


def test_a_track_event_stored_with_properties_cut_is_counted_and_kept_with_its_cut_paths(
    track_app: ModuleType, store: FakeEventStore, rejected: FakeRejectedEventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a POST /track whose property is a string over the bound
    request = load_event("track")
    request["body"] = json.dumps(
        {"type": "track", "payload": {"name": "long", "properties": {"note": "n" * (MAX_STRING_LENGTH + 10)}}}
    )

    # When the function handles it
    status, _, _ = invoke(track_app, request)

    # Then it is stored (200) with the string cut and the path listed
    assert status == 200
    [event] = [event for event in tracked(store) if event.name == "long"]
    assert event.properties["note"] == "n" * MAX_STRING_LENGTH
    assert event.properties["__truncated"] == ["note"]
    # and it is kept beside the refused events, with status 200 and the cut path
    [kept] = rejected.rejected
    assert (kept.reason, kept.status, kept.index) == ("Stored with properties cut to the bounds", 200, None)
    assert [detail["field"] for detail in kept.details] == ["payload.properties.note"]
    # and counted in the EventsTruncated metric
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [metric.get("EventsTruncated") for metric in emitted if "EventsTruncated" in metric] == [[1.0]]


def test_a_blocklisted_event_name_is_refused_and_kept_as_a_rejected_event(
    track_app: ModuleType, store: FakeEventStore, rejected: FakeRejectedEventStore
) -> None:
    # Given a POST /track whose event name is a scanner's probe
    request = load_event("track")
    request["body"] = json.dumps({"type": "track", "payload": {"name": "/wp-login.php"}})

    # When the function handles it
    status, answer, _ = invoke(track_app, request)

    # Then it is a 400, nothing is stored, and the refusal is kept with its reason
    assert (status, answer["status"]) == (400, 400)
    assert [event for event in tracked(store) if event.name == "/wp-login.php"] == []
    [kept] = rejected.rejected
    assert (kept.reason, kept.status) == ("Invalid request body", 400)
    assert [(detail["field"], detail["type"]) for detail in kept.details] == [("payload.name", "event_name_blocked")]


def test_accepted_batch_keeps_no_rejected_events(
    track_app: ModuleType, store: FakeEventStore, rejected: FakeRejectedEventStore
) -> None:
    # Given a batch of valid events
    # When the function handles it
    status, _, _ = invoke(track_app, batch_request({"batch": [item("a"), item("b")]}))

    # Then nothing is kept as rejected
    assert status == 200
    assert rejected.rejected == []


def test_batch_partly_not_stored_is_a_503_naming_the_indexes_and_its_retry_stores_each_once(
    track_app: ModuleType, wire: Wire
) -> None:
    # Given a device with an active session, and an event store throttled once for items 1 and 3
    store = wire(FlakyEventStore(failing={"e1", "e3"}))
    invoke(track_app, batch_request({"batch": [item("warm_up")]}))
    body = {"batch": [item(f"e{i}") for i in range(5)]}

    # When the batch is sent, and then sent again as the 503 asks
    status, answer, response = invoke(track_app, batch_request(body))
    retry_status, retry_answer, _ = invoke(track_app, batch_request(body))

    # Then the first answer is a 503 naming items 1 and 3, with Retry-After
    assert status == 503
    assert answer["status"] == 503 and answer["error"]
    assert answer["notStored"] == [1, 3]
    retry_after = response_header(response, "Retry-After")
    assert retry_after is not None and int(retry_after) > 0
    # and the retry is accepted whole, each event stored exactly once
    assert (retry_status, retry_answer["accepted"]) == (200, 5)
    assert sorted(e.name for e in tracked(store) if e.name != "warm_up") == [f"e{i}" for i in range(5)]


def test_batch_sent_at_corrects_a_client_clock_two_hours_ahead(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch from a client 2 hours fast, its event stamped 10 s before sentAt on the same clock
    client_now = datetime.now(UTC) + timedelta(hours=2)
    timestamp = iso(client_now - timedelta(seconds=10))
    body = {"sentAt": iso(client_now), "batch": [item("purchase", __timestamp=timestamp)]}

    # When the function handles it
    status, _, _ = invoke(track_app, batch_request(body))

    # Then the event is placed 10 s before its receipt, and the client's own timestamp is kept
    assert status == 200
    [event] = tracked(store)
    assert event.received_at - event.created_at == timedelta(seconds=10)
    assert event.client_timestamp == timestamp


def test_sent_at_header_on_track_corrects_a_client_clock_two_hours_ahead(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a POST /track from a client 2 hours fast, with openpanel-sent-at 4 s after the event's __timestamp
    client_now = datetime.now(UTC) + timedelta(hours=2)
    timestamp = iso(client_now - timedelta(seconds=4))
    request = load_event("track")
    request["body"] = json.dumps(item("purchase", __timestamp=timestamp))
    request["headers"]["openpanel-sent-at"] = iso(client_now)

    # When the function handles it
    status, _, _ = invoke(track_app, request)

    # Then the event is placed 4 s before its receipt, and the client's own timestamp is kept
    assert status == 200
    [event] = tracked(store)
    assert event.received_at - event.created_at == timedelta(seconds=4)
    assert event.client_timestamp == timestamp


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"batch": [', id="truncated"),
        pytest.param('{"batch": [1,]}', id="trailing-comma"),
        pytest.param("", id="empty"),
    ],
)
def test_a_malformed_batch_body_is_a_400_invalid_json_never_a_crash(
    track_app: ModuleType, store: FakeEventStore, body: str
) -> None:
    status, answer, _ = invoke(track_app, batch_request(body))
    assert (status, answer["error"]) == (400, "Invalid JSON body")
    assert store.events == []


def test_a_batch_body_that_is_not_utf8_is_a_400(track_app: ModuleType, store: FakeEventStore) -> None:
    event = batch_request("")
    event["body"], event["isBase64Encoded"] = base64.b64encode(b'{"batch": [\xff]}').decode(), True
    status, answer, _ = invoke(track_app, event)
    assert (status, answer["error"]) == (400, "Invalid JSON body")


def test_1001_events_after_leading_whitespace_are_still_a_413(track_app: ModuleType, store: FakeEventStore) -> None:
    body = " \n" + json.dumps({"batch": [item(f"e{i}") for i in range(1001)]})
    status, answer, _ = invoke(track_app, batch_request(body))
    assert (status, answer["status"]) == (413, 413)
    assert store.events == []
