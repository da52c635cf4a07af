"""Event times Beacon can store, whatever `__timestamp` says (issue 15, finding 5): from 2000-01-01 to a minute
after receipt, the receipt time otherwise, on /track and in batches alike; read queries outside the range are 400s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from beacon.domain.ports import Readers
from tests.unit.support.fakes import FakeEventStore, tracked
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function
from tests.unit.support.read_fakes import FakeEntityReader, FakeEventReader, cursor_codec

EXTREMES = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "0999-06-01T00:00:00Z", "1969-12-31T23:59:59Z"]


def send(track_app: ModuleType, body: dict[str, Any], path: str = "/track") -> tuple[int, Any]:
    event = load_event("track")
    event["body"], event["path"], event["resource"] = json.dumps(body), path, path
    response = track_app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def assert_receipt_time_kept_and_well_formed(store: FakeEventStore, before: datetime, sent: str) -> None:
    for event in store.events:  # the session_start too, 1 ms before its event
        assert event.created_at >= before - timedelta(milliseconds=1)
        assert int(event.id[:12], 16) > 0 and len(event.id) == 28
    [stored] = tracked(store)
    assert stored.client_timestamp == sent and not stored.from_past


@pytest.mark.parametrize("timestamp", EXTREMES)
def test_an_event_time_before_2000_on_a_sessions_first_event_is_the_receipt_time(
    track_app: ModuleType, store: FakeEventStore, timestamp: str
) -> None:
    # Given a fresh device's first event, with a time before 2000 and an identify (once a 503 after the profile write)
    before = datetime.now(UTC)
    properties = {"__timestamp": timestamp, "__identify": {"profileId": "u1", "firstName": "Ada"}}

    # When it is sent
    status, answer = send(track_app, {"type": "track", "payload": {"name": "signup", "properties": properties}})

    # Then it is stored at the receipt time (the sent time kept beside it), its session_start too
    assert status == 200, answer
    assert_receipt_time_kept_and_well_formed(store, before, timestamp)


@pytest.mark.parametrize("timestamp", EXTREMES)
def test_an_event_time_before_2000_in_a_batch_is_the_receipt_time_and_stores_the_batch(
    track_app: ModuleType, store: FakeEventStore, timestamp: str
) -> None:
    before = datetime.now(UTC)
    item = {"type": "track", "payload": {"name": "signup", "properties": {"__timestamp": timestamp}}}
    status, answer = send(track_app, {"batch": [item]}, "/track/batch")
    assert (status, answer.get("accepted")) == (200, 1), answer
    assert_receipt_time_kept_and_well_formed(store, before, timestamp)


@pytest.fixture(scope="module")
def read_app() -> ModuleType:
    env = {"EVENTS_TABLE": "beacon-unit-events", "ENTITIES_TABLE": "beacon-unit-entities", "CURSOR_SECRET": "unit"}
    env |= {"REPLAYS_TABLE": "beacon-unit-replays", "REPLAY_BUCKET": "beacon-unit-replays"}
    return load_function("read", env)


@pytest.mark.parametrize(
    ("name", "value"),
    [("start", "0001-01-01T00:00:00+01:00"), ("end", "9999-12-31T23:59:59-01:00"), ("start", "1999-12-31T23:59:59Z")],
)
def test_read_times_outside_the_range_are_a_400_naming_the_parameter(read_app: ModuleType, name: str, value: str):
    # Given an export query with a time no event can have (once a 503: the time could not be converted to UTC)
    event = load_event("export_events")
    event["queryStringParameters"] = {name: value}
    event["multiValueQueryStringParameters"] = {name: [value]}

    # When the read function answers it
    response = read_app.lambda_handler(event, FakeLambdaContext())

    # Then it is a 400 naming the parameter, before any read
    body = json.loads(response["body"])
    assert response["statusCode"] == 400, body
    assert [detail["field"] for detail in body["details"]] == [name]


@pytest.mark.parametrize("name", ["start", "end"])
def test_an_empty_read_time_is_absent_not_an_error(
    read_app: ModuleType, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Given `?start=` or `?end=` (clients send every parameter they know of), and a project with no events
    monkeypatch.setattr(read_app, "readers", lambda: Readers(FakeEventReader([]), FakeEntityReader()))
    monkeypatch.setattr(read_app, "cursors", cursor_codec)
    event = load_event("export_events")
    event["queryStringParameters"] = {name: ""}
    event["multiValueQueryStringParameters"] = {name: [""]}

    # When the read function answers, then the parameter is taken as not given: an empty page
    response = read_app.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200, response["body"]
