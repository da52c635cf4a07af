"""DynamoDB throttling, injected on the wire: the track function answers a JSON 503 with Retry-After, leaves
nothing half-written, and a retry stores the event exactly once.

The track function runs in-process with its real stores (functions/track/app.py builds them) on a botocore
client configured with the production CLIENT_CONFIG and pointed at DynamoDB Local. A `before-send` hook
answers chosen operations with DynamoDB's own throttling error responses before they leave the client, so
botocore parses and retries them exactly as it would AWS's; every other call reaches DynamoDB Local.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff

import beacon.store.dynamodb
from beacon.store.aws import CLIENT_CONFIG
from beacon.store.dynamodb import deserialize_item as item_to_dict
from beacon.store.events import EVENT_SHARDS
from local.stack import LocalStack
from tests.unit.support.fakes import UNIT_TEST_ENRICHER
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function, response_header

pytestmark = pytest.mark.integration
THROTTLING_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class Fault:
    code: str
    remaining: int | None  # None: every attempt fails


class WireFaults:
    """A `before-send` hook: the chosen DynamoDB operations get an error response; it counts every attempt."""

    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}
        self.attempts: Counter[str] = Counter()
        self.total_attempts = 0  # what the client's retry configuration allows per call

    def fail(self, operation: str, code: str, times: int | None = None) -> None:
        self.faults[operation] = Fault(code, times)

    def clear(self) -> None:
        self.faults.clear()
        self.attempts.clear()

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        fault = self.faults.get(operation)
        if fault is None or fault.remaining == 0:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
        body = {"__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}", "message": "injected by the test"}
        headers: Any = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))


@pytest.fixture(scope="module")
def track_app(template_env: dict[str, str]) -> ModuleType:
    return load_function("track", template_env)


@pytest.fixture
def faults(track_app: ModuleType, local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[WireFaults]:
    hook = WireFaults()
    client = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=CLIENT_CONFIG,  # the production timeouts and retries
    )
    handler: Any = hook  # a before-send handler may answer in place of the endpoint
    client.meta.events.register("before-send.dynamodb", handler)
    # botocore reads the config's max_attempts as retries, so a call makes one attempt more.
    config: Any = client.meta.config
    hook.total_attempts = config.retries["total_max_attempts"]
    # The function's own stores, built on this client; retries keep their count but lose their sleep.
    monkeypatch.setattr(beacon.store.dynamodb, "dynamodb_client", lambda: client)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    track_app.stores.cache_clear()
    track_app.rejected_store.cache_clear()
    yield hook
    track_app.stores.cache_clear()
    track_app.rejected_store.cache_clear()


def track(
    track_app: ModuleType, project_id: str, name: str, properties: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    event = load_event("track")
    event["requestContext"]["authorizer"]["projectId"] = project_id
    event["headers"].update(headers)
    event["body"] = json.dumps({"type": "track", "payload": {"name": name, "properties": properties or {}}})
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    return response


def assert_unavailable(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 503, response
    assert response_header(response, "Content-Type") == "application/json"
    assert (response_header(response, "Retry-After") or "").isdigit()
    body = json.loads(response["body"])
    assert body["status"] == 503 and body["error"]


def stored(dynamodb: Any, template_env: dict[str, str], project_id: str) -> list[dict[str, Any]]:
    items = []
    for shard in range(EVENT_SHARDS):
        response = dynamodb.query(
            TableName=template_env["EVENTS_TABLE"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{project_id}#{shard}"}},
            ConsistentRead=True,
        )
        items += [item_to_dict(item) for item in response["Items"]]
    return sorted(items, key=lambda item: item["sk"])


def sessions(dynamodb: Any, template_env: dict[str, str], project_id: str) -> list[dict[str, Any]]:
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=template_env["SESSIONS_TABLE"],
        FilterExpression="begins_with(pk, :project)",
        ExpressionAttributeValues={":project": {"S": f"{project_id}#"}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


@pytest.mark.parametrize("code", THROTTLING_CODES)
@pytest.mark.parametrize(
    ("operation", "warm_session"),
    [
        pytest.param("GetItem", False, id="project-filters-read"),
        pytest.param("UpdateItem", False, id="session-continue-new-device"),
        pytest.param("TransactWriteItems", False, id="session-start-with-events"),
        pytest.param("UpdateItem", True, id="session-continue"),
        pytest.param("PutItem", True, id="event-write-after-continue"),
    ],
)
def test_throttled_dynamodb_is_a_503_with_retry_after_and_stores_no_event(
    track_app, faults, dynamodb, template_env, project_id, code, operation, warm_session
):
    # Given a project with (or without) a live session, and DynamoDB throttling one operation on every attempt
    if warm_session:
        assert track(track_app, project_id, "warm")["statusCode"] == 200
    before = stored(dynamodb, template_env, project_id)
    faults.clear()
    faults.fail(operation, code)

    # When an event is sent
    response = track(track_app, project_id, "throttled")

    # Then the answer is a JSON 503 with Retry-After, after the client's configured attempts
    assert_unavailable(response)
    assert faults.attempts[operation] == faults.total_attempts
    # And no event was written: the project holds what it held before
    assert stored(dynamodb, template_env, project_id) == before
    # And no session was started without its events (a new session and its events are one transaction)
    assert len(sessions(dynamodb, template_env, project_id)) == (1 if warm_session else 0)


@pytest.mark.parametrize(
    "keyed",
    [
        pytest.param({"headers": {"Idempotency-Key": "retry-key-1"}}, id="idempotency-key-header"),
        pytest.param({"properties": {"__id": "event-id-1"}}, id="event-__id"),
    ],
)
def test_keyed_event_whose_write_failed_after_a_session_continue_is_stored_once_on_an_immediate_retry(
    track_app, faults, dynamodb, template_env, project_id, keyed
):
    # Given a live session, and the keyed event's write (event + key claim, one transaction) throttled once
    assert track(track_app, project_id, "warm")["statusCode"] == 200
    faults.fail("TransactWriteItems", "ProvisionedThroughputExceededException", times=faults.total_attempts)
    properties, headers = keyed.get("properties", {}), keyed.get("headers", {})

    # When the event is sent, answered 503, and sent again at once
    first = track(track_app, project_id, "retried", properties, **headers)
    second = track(track_app, project_id, "retried", properties, **headers)
    third = track(track_app, project_id, "retried", properties, **headers)

    # Then the retry stores it, exactly once, and a further repeat stores nothing more
    assert_unavailable(first)
    assert (second["statusCode"], third["statusCode"]) == (200, 200)
    assert json.loads(third["body"]) == json.loads(second["body"])
    assert names(stored(dynamodb, template_env, project_id)).count("retried") == 1


def test_event_whose_write_failed_after_a_session_continue_is_stored_once_by_a_retry_after_retry_after(
    track_app, faults, dynamodb, template_env, project_id, monkeypatch
):
    # Given a live session, and the event write that follows the session continue throttled once
    assert track(track_app, project_id, "warm")["statusCode"] == 200
    faults.fail("PutItem", "ThrottlingException", times=faults.total_attempts)

    # When the event (no idempotency key) is answered 503, and the client retries after Retry-After
    first = track(track_app, project_id, "retried", {"n": 1})
    retry_after = int(response_header(first, "Retry-After") or 0)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz or UTC) + timedelta(seconds=retry_after + 1)

    monkeypatch.setattr(track_app, "datetime", Later)
    second = track(track_app, project_id, "retried", {"n": 1})

    # Then the retry stores the event exactly once, in the same session
    assert_unavailable(first)
    assert second["statusCode"] == 200
    events = stored(dynamodb, template_env, project_id)
    assert names(events).count("retried") == 1
    assert len({event["sessionId"] for event in events}) == 1
