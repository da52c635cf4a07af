"""The batch fast path against DynamoDB Local: a retry of a stored batch stores nothing and answers the same ids; a
retry after BatchWriteItem left events unprocessed completes the batch without duplicates; a batch mixing plain
events, __id events, an identify and bad items; two racing copies store each event once; and the write units a
plain batch costs per event (ReturnConsumedCapacity)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

import beacon.store.events
from beacon.config import TrackSettings
from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.entities import Caller, ClientType, RequestContext
from beacon.domain.ports import Stores
from beacon.store.factory import track_stores
from beacon.store.profiles import DynamoDBProfileStore
from local.capacity import CapacityRecorder
from local.stack import LocalStack
from tests.constants import CLIENT_ID, META
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import UNIT_TEST_ENRICHER

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


def item(name: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "payload": {"name": name, "properties": properties}}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._data


class UnprocessedEvents:
    """A `before-send` hook on BatchWriteItem: the events named in `failing` come back as UnprocessedItems, on
    every attempt, as a throttled partition would return them; the rest is written to DynamoDB Local."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer  # a client without the hook
        self.failing: set[str] = set()

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        if not event_name.endswith(".BatchWriteItem") or not self.failing:
            return None
        body = json.loads(request.body)
        unprocessed: dict[str, list[Any]] = {}
        kept: dict[str, list[Any]] = {}
        for table, writes in body["RequestItems"].items():
            for write in writes:
                failing = write["PutRequest"]["Item"]["name"]["S"] in self.failing
                (unprocessed if failing else kept).setdefault(table, []).append(write)
        if kept:
            self.writer.batch_write_item(RequestItems=kept)
        answer = json.dumps({"UnprocessedItems": unprocessed}).encode()
        headers: Any = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, 200, headers, _Body(answer))


@pytest.fixture
def stores(dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return track_stores(TrackSettings.from_env(template_env), dynamodb)


def send(stores: Stores, project_id: str, items: list[Any], key: str = "batch#b1", at: datetime = NOW) -> BatchOutcome:
    caller = Caller(project_id, CLIENT_ID, ClientType.WRITE, True)
    return ingest_batch(batch_of(items, key), RequestContext(caller, META, at), stores, UNIT_TEST_ENRICHER)


def test_a_stored_batch_sent_again_stores_nothing_new_and_answers_the_same_ids(stores, project_id, stored_events):
    # Given a batch of 30 events from a device never seen, stored
    items = [item("page_view", n=i) for i in range(30)]
    first = send(stores, project_id, items)
    stored = stored_events(project_id, with_session_starts=True)

    # When it is sent again a minute later
    repeat = send(stores, project_id, items, at=NOW + timedelta(minutes=1))

    # Then the table holds exactly what it held (one session_start, 30 events, nothing rewritten differently)
    assert stored_events(project_id, with_session_starts=True) == stored
    assert len(stored) == 31
    # and every index is answered with the same device and session
    assert repeat.results == first.results and len(first.results) == 30
    sessions = {event["sessionId"] for event in stored}
    assert {result.session_id for _, result in first.results} == sessions


def test_a_retry_after_unprocessed_items_completes_the_batch_without_duplicates(
    local_stack: LocalStack, dynamodb, template_env, project_id, stored_events, monkeypatch
):
    # Given stores whose BatchWriteItem leaves 3 of 60 events unprocessed on every attempt, on a live session
    monkeypatch.setattr(beacon.store.events, "UNPROCESSED_RETRY_DELAYS", (0, 0, 0))
    client = local_stack.boto3_client("dynamodb")
    fault = UnprocessedEvents(dynamodb)
    hook: Any = fault
    client.meta.events.register("before-send.dynamodb", hook)
    stores = track_stores(TrackSettings.from_env(template_env), client)
    send(stores, project_id, [item("warm_up")], key="batch#warm")
    items = [item(f"e{i}", n=i) for i in range(60)]
    fault.failing = {"e3", "e30", "e59"}

    # When the batch is sent (answered with those 3 not stored), then sent again once the table recovers
    first = send(stores, project_id, items)
    after_failure = Counter(event["name"] for event in stored_events(project_id))
    fault.failing = set()
    retry = send(stores, project_id, items, at=NOW + timedelta(seconds=5))

    # Then the first attempt stored all but those 3, and named exactly them
    assert first.not_stored == [3, 30, 59]
    assert sum(after_failure.values()) == 1 + 57
    # and the retry stored them, each event once, every index answered as the first attempt answered it
    assert retry.not_stored == []
    names = Counter(event["name"] for event in stored_events(project_id))
    assert names == Counter({"warm_up": 1, **{f"e{i}": 1 for i in range(60)}})
    assert dict(retry.results) | dict(first.results) == dict(retry.results)
    assert len({event["sessionId"] for event in stored_events(project_id)}) == 1


def test_a_batch_of_plain_events_id_events_an_identify_and_bad_items_is_stored_and_repeated_once(
    stores, dynamodb, template_env, project_id, stored_events
):
    # Given a batch mixing plain events, events with __id, an identify, an __identify and bad items
    items = [
        item("plain0", n=0),
        item("order", __id="order-1"),
        {"type": "identify", "payload": {"profileId": "u1", "firstName": "Ada"}},
        item(""),  # invalid name
        item("plain4", n=4, __identify={"profileId": "u2", "email": "grace@example.com"}),
        item("order", __id="order-1"),  # the same __id again
        item("bad6", __identify={"firstName": "no profile id"}),
        "not an object",
        item("plain8", n=8),
    ]

    # When it is sent, and sent again
    first = send(stores, project_id, items)
    repeat = send(stores, project_id, items, at=NOW + timedelta(seconds=10))

    # Then each bad item is rejected alone, the rest stored and answered by index
    assert [(index, error.status) for index, error in first.rejected] == [(3, 400), (6, 400), (7, 400)]
    assert [index for index, _ in first.results] == [0, 1, 2, 4, 5, 8]
    assert first.not_stored == []
    names = Counter(event["name"] for event in stored_events(project_id))
    assert names == Counter({"plain0": 1, "order": 1, "plain4": 1, "plain8": 1})
    profiles = DynamoDBProfileStore(template_env["ENTITIES_TABLE"], client=dynamodb)
    assert (profiles.get_profile(project_id, "u1") or {})["firstName"] == "Ada"
    assert (profiles.get_profile(project_id, "u2") or {})["email"] == "grace@example.com"
    # and the repeat stored nothing more and answered the same
    assert Counter(event["name"] for event in stored_events(project_id)) == names
    assert repeat.rejected == first.rejected
    # (the identify too: it runs after the batch's events took their session, so it answers that session)
    assert repeat.results == first.results


def test_two_copies_of_a_batch_sent_at_once_store_each_event_once(stores, project_id, stored_events):
    # Given a batch of 40 events from a device never seen
    items = [item("page_view", n=i) for i in range(40)]

    # When two copies arrive at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: send(stores, project_id, items), range(2)))

    # Then each event is stored once, with one session_start, and both copies answered alike where they answered
    events = stored_events(project_id, with_session_starts=True)
    assert Counter(event["name"] for event in events) == Counter({"page_view": 40, "session_start": 1})
    assert sorted(event["properties"]["n"] for event in events if event["name"] == "page_view") == list(range(40))
    complete = [answer for answer in answers if not answer.not_stored]
    assert complete, [answer.not_stored for answer in answers]
    assert all(answer.results == complete[0].results for answer in complete)
    # and a copy that could not finish (lost a session race) completes on its retry, storing nothing more
    for answer in answers:
        if answer.not_stored:
            assert send(stores, project_id, items).results == complete[0].results
    assert len(stored_events(project_id, with_session_starts=True)) == 41


@pytest.mark.parametrize("warm", [pytest.param(True, id="running-session"), pytest.param(False, id="new-session")])
def test_a_batch_of_50_plain_events_from_one_device_costs_at_most_1_5_write_units_per_event(
    local_stack: LocalStack, template_env, project_id, stored_events, warm
):
    # Given stores on a client that asks DynamoDB Local for the capacity every call consumes
    client = local_stack.boto3_client("dynamodb")
    recorder = CapacityRecorder(client)
    stores = track_stores(TrackSettings.from_env(template_env), client)
    if warm:
        send(stores, project_id, [item("warm_up")], key="batch#warm")
    recorder.take()

    # When a batch of 50 typical events from one device is stored
    outcome = send(stores, project_id, [item("screen_view", n=i, path=f"/docs/{i}", plan="pro") for i in range(50)])

    # Then it cost at most 1.5 write units per event (5 each when every event was its own transaction)
    read, write = recorder.take()
    assert len(outcome.results) == 50
    assert write / 50 <= 1.5, (read, write)
    assert read <= 2, (read, write)
