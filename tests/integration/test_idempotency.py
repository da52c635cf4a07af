"""Idempotency against DynamoDB Local: a claimed key is stored once, in the same transaction as its event; a
batch retried after a partial failure stores each event once; 20 racing copies of one __id store one event."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.entities import Caller, ClientType, Event, RequestContext, TrackResult
from beacon.domain.ids import new_event_id
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.domain.rejections import RejectedEvent
from beacon.errors import BeaconError, DependencyUnavailableError, DuplicateEventError
from beacon.models.requests import parse_track_request
from beacon.store.events import DynamoDBEventStore
from beacon.store.factory import track_stores
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.rejected import DynamoDBRejectedEventStore
from tests.constants import CLIENT_ID, META
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, accepted
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function, response_header

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def events_store(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBEventStore:
    return DynamoDBEventStore(
        template_env["EVENTS_TABLE"], 30, client=dynamodb, idempotency_table=template_env["IDEMPOTENCY_TABLE"]
    )


def real_stores(events: Any, dynamodb: Any, template_env: dict[str, str]) -> Stores:
    """The track function's stores on DynamoDB Local, with `events` (a real event store, or one wrapping it)."""
    return replace(track_stores(TrackSettings.from_env(template_env), dynamodb), events=events)


@pytest.fixture
def stores(events_store: DynamoDBEventStore, dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return real_stores(events_store, dynamodb, template_env)


def track(
    stores: Stores,
    project_id: str,
    at: datetime = NOW,
    name: str = "purchase",
    idempotency_key: str | None = None,
    **properties: Any,
) -> TrackResult:
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": name, "properties": properties}}))
    caller = Caller(project_id, CLIENT_ID, ClientType.WRITE, True)
    return accepted(
        ingest(request, RequestContext(caller, META, at, idempotency_key=idempotency_key), stores, UNIT_TEST_ENRICHER)
    )


# -- claims ---------------------------------------------------------------------------------------------
def test_claimed_event_twice_is_stored_once_and_the_repeat_is_answered_from_the_idempotency_table(
    stores, events_store, project_id, stored_events
):
    # Given an event with an __id that was stored (its session already running)
    track(stores, project_id, name="warm_up")
    first = track(stores, project_id, at=NOW + timedelta(seconds=1), __id="order-1042")

    # When it is sent again
    repeat = track(stores, project_id, at=NOW + timedelta(seconds=2), __id="order-1042")

    # Then one event is stored, the repeat answers as the first, and that answer is the idempotency record's
    assert [event["name"] for event in stored_events(project_id)] == ["warm_up", "purchase"]
    assert repeat == first
    assert stores.idempotency.previous_answer(project_id, f"{CLIENT_ID}#event#order-1042") == first
    # and a direct write claiming the same key is refused as a duplicate, storing nothing
    [stored] = [event for event in stored_events(project_id) if event["name"] == "purchase"]
    copy = Event(
        id=new_event_id(NOW),
        project_id=project_id,
        client_id=CLIENT_ID,
        name="purchase",
        properties={},
        profile_id=None,
        groups=None,
        device_id=stored["deviceId"],
        session_id=stored["sessionId"],
        created_at=NOW,
        received_at=NOW,
    )
    with pytest.raises(DuplicateEventError):
        events_store.put_claimed_event(copy, f"{CLIENT_ID}#event#order-1042")
    assert len(stored_events(project_id)) == 2


def test_claimed_event_retried_after_its_session_ended_starts_no_session_and_stores_nothing(
    stores, project_id, stored_events
):
    # Given an event with an __id that started a session
    first = track(stores, project_id, __id="order-7")

    # When it is retried 31 minutes later, when it would start a new session
    repeat = track(stores, project_id, at=NOW + timedelta(minutes=31), __id="order-7")

    # Then the new session's transaction was cancelled whole: one session_start, one event, the first answer
    assert [event["name"] for event in stored_events(project_id, with_session_starts=True)] == [
        "session_start",
        "purchase",
    ]
    assert repeat == first


def test_same_idempotency_key_is_stored_once_and_answered_as_the_first(stores, project_id, stored_events):
    # Given a request stored under an Idempotency-Key
    first = track(stores, project_id, name="signup", idempotency_key="req-5f2a")

    # When it is retried with the same key 10 s later
    repeat = track(stores, project_id, at=NOW + timedelta(seconds=10), name="signup", idempotency_key="req-5f2a")

    # Then one event is stored, and the answer is the first one's
    assert [event["name"] for event in stored_events(project_id)] == ["signup"]
    assert repeat == first


def test_double_send_within_2_seconds_is_dropped_by_the_session_items_condition(stores, project_id, stored_events):
    # Given an event without __id that was stored
    first = track(stores, project_id, name="add_to_cart", sku="A-1")

    # When the identical payload comes again 1 s later, then 3 s after the first, and a different one at 3.5 s
    double = track(stores, project_id, at=NOW + timedelta(seconds=1), name="add_to_cart", sku="A-1")
    track(stores, project_id, at=NOW + timedelta(seconds=3), name="add_to_cart", sku="A-1")
    track(stores, project_id, at=NOW + timedelta(milliseconds=3500), name="add_to_cart", sku="B-2")

    # Then the double send is answered as the first and not stored; the later ones are
    assert double == first
    assert [event["properties"]["sku"] for event in stored_events(project_id)] == ["A-1", "A-1", "B-2"]


def test_20_parallel_events_with_one_id_store_exactly_one_event(stores, project_id, stored_events):
    # Given a device never seen, When 20 copies of one event with one __id arrive at once
    def send(_: int) -> TrackResult | BeaconError:
        try:
            return track(stores, project_id, __id="racing-id")
        except DependencyUnavailableError as exc:  # a lost transaction race: the client would retry
            return exc

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))

    # Then exactly one event (and one session_start) is stored, and every answer given names it
    events = stored_events(project_id, with_session_starts=True)
    assert [event["name"] for event in events] == ["session_start", "purchase"]
    stored = TrackResult(events[1]["deviceId"], events[1]["sessionId"])
    given = [answer for answer in answers if isinstance(answer, TrackResult)]
    assert given and all(answer == stored for answer in given)
    # and every copy answered without an error was answered so; the rest may retry and get the same answer
    for answer in answers:
        if not isinstance(answer, TrackResult):
            assert track(stores, project_id, __id="racing-id") == stored
    assert len(stored_events(project_id)) == 1


# -- a batch retried after a partial failure ---------------------------------------------------------------
class ThrottledOnce:
    """The real event store, throttled once for the events named in `failing`: a partial failure of a large
    batch, as DynamoDB can cause (a single write raises; a group write leaves them unprocessed)."""

    def __init__(self, events: DynamoDBEventStore, failing: set[str]) -> None:
        self.events = events
        self.failing = set(failing)

    def put_event(self, event: Event) -> None:
        self.events.put_event(event)

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        if event.name in self.failing:
            self.failing.discard(event.name)
            raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")
        self.events.put_claimed_event(event, idempotency_key)

    def put_events(self, events: list[Event]) -> list[Event]:
        unprocessed = [event for event in events if event.name in self.failing]
        self.failing -= {event.name for event in unprocessed}
        return unprocessed + self.events.put_events([event for event in events if event not in unprocessed])

    def missing_events(self, events: list[Event]) -> list[Event]:
        return self.events.missing_events(events)


@pytest.fixture(scope="module")
def track_app(template_env: dict[str, str]) -> ModuleType:
    return load_function("track", template_env)


def batch_request(project_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    event = load_event("track")
    event["path"] = event["resource"] = "/track/batch"
    event["requestContext"]["authorizer"]["projectId"] = project_id
    event["body"] = json.dumps({"batch": items})
    return event


def invoke(track_app: ModuleType, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]), response


def test_batch_retried_after_a_partial_failure_stores_each_event_exactly_once(
    track_app, events_store, dynamodb, template_env, project_id, stored_events, monkeypatch
):
    # Given the track function on the real tables, its event writes throttled once for items 3, 7 and 18,
    # and a device whose session is already running
    throttled = ThrottledOnce(events_store, failing={"e3", "e7", "e18"})
    monkeypatch.setattr(track_app, "stores", lambda: real_stores(throttled, dynamodb, template_env))
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    invoke(track_app, batch_request(project_id, [{"type": "track", "payload": {"name": "warm_up"}}]))
    # 25 events, and a counter that must count once however often the batch is sent
    items = [{"type": "track", "payload": {"name": f"e{i}", "properties": {"n": i}}} for i in range(25)]
    items.append({"type": "increment", "payload": {"profileId": "u1", "property": "stats.purchases"}})

    # When the batch is sent, and then sent again
    status, answer, response = invoke(track_app, batch_request(project_id, items))
    stored_after_failure = len(stored_events(project_id))
    retry_status, retry_answer, _ = invoke(track_app, batch_request(project_id, items))

    # Then the first answer is a 503 naming the three items not stored, which alone are missing
    assert (status, answer["notStored"]) == (503, [3, 7, 18])
    assert response_header(response, "Retry-After") is not None
    assert stored_after_failure == 1 + 22
    # and the retry is accepted whole, with every event stored exactly once and the counter added to once
    assert (retry_status, retry_answer["accepted"], retry_answer["rejected"]) == (200, 26, [])
    names = Counter(event["name"] for event in stored_events(project_id))
    assert names == Counter({"warm_up": 1, **{f"e{i}": 1 for i in range(25)}})
    profile = DynamoDBProfileStore(template_env["ENTITIES_TABLE"], client=dynamodb).get_profile(project_id, "u1")
    assert profile is not None and profile["properties"] == {"stats": {"purchases": 1}}
    # and the answers name the sessions the events were stored in
    sessions = {event["name"]: event["sessionId"] for event in stored_events(project_id)}
    assert all(result["sessionId"] == sessions[f"e{result['index']}"] for result in retry_answer["results"][:25])


def test_batch_sent_three_times_stores_its_events_once(
    track_app, events_store, dynamodb, template_env, project_id, stored_events, monkeypatch
):
    # Given the track function on the real tables
    monkeypatch.setattr(track_app, "stores", lambda: real_stores(events_store, dynamodb, template_env))
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    items = [{"type": "track", "payload": {"name": "page_view", "properties": {"n": i}}} for i in range(40)]

    # When one batch of 40 events, from a device never seen, is sent three times
    answers = [invoke(track_app, batch_request(project_id, items))[:2] for _ in range(3)]

    # Then all three answers are the same 200, and 40 events and one session_start are stored
    assert answers[0][0] == 200 and answers[0][1]["accepted"] == 40
    assert answers[1] == answers[2] == answers[0]
    assert sorted(event["properties"]["n"] for event in stored_events(project_id)) == list(range(40))
    assert len(stored_events(project_id, with_session_starts=True)) == 41


# -- the rejected-events table -------------------------------------------------------------------------
def test_rejected_events_are_listed_newest_first_and_expire_after_14_days(dynamodb, template_env, project_id):
    # Given three rejected events of a project kept a second apart, and one of another project
    store = DynamoDBRejectedEventStore(template_env["REJECTED_EVENTS_TABLE"], client=dynamodb)
    kept = RejectedEvent(
        project_id=project_id,
        client_id=CLIENT_ID,
        reason="Invalid request body",
        status=400,
        received_at=NOW,
        payload='{"type": "track", "payload": {"name": ""}}',
        details=[{"field": "payload.name", "message": "too short", "type": "string_too_short"}],
        index=4,
    )
    later = [replace(kept, received_at=NOW + timedelta(seconds=s), index=s) for s in (1, 2)]
    store.put_rejected([kept, *later, replace(kept, project_id=f"{project_id}-other")])

    # When the project's rejected events are listed
    listed = store.list_rejected(project_id)

    # Then they come newest first, with every field, expiring 14 days after receipt
    assert [item["index"] for item in listed] == [2, 1, 4]
    oldest = listed[-1]
    assert oldest["projectId"] == project_id
    assert (oldest["clientId"], oldest["reason"], oldest["status"]) == (CLIENT_ID, "Invalid request body", 400)
    assert oldest["details"] == kept.details
    assert oldest["payload"] == kept.payload
    assert oldest["expiresAt"] == int((NOW + timedelta(days=14)).timestamp())
