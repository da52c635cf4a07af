"""The track function's one log line per request: route, status, latency, events; nothing from the request."""

from __future__ import annotations

import json
import logging
from types import ModuleType
from typing import Any

import pytest

from tests.unit.support.fakes import FakeEventStore
from tests.unit.support.handlers import FakeLambdaContext, load_event

# What Powertools adds to every record: the line's own fields are the rest.
STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "location", "timestamp"}


def send(track_app: ModuleType, event: dict[str, Any], caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    caplog.clear()
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    records = [record for record in caplog.records if record.getMessage() == "request"]
    [record] = records  # exactly one per request
    line = {key: value for key, value in record.__dict__.items() if key not in STANDARD}
    assert line["status"] == response["statusCode"]
    return line


def test_a_tracked_event_logs_one_line_with_route_status_latency_and_count_and_nothing_it_carried(
    track_app: ModuleType, store: FakeEventStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the committed track event, from a known address with known credentials
    event = load_event("track")
    # When it is sent
    line = send(track_app, event, caplog)
    # Then its line says which route answered what, how fast, for how many events
    assert (line["route"], line["status"], line["events"]) == ("POST /track", 200, 1)
    assert isinstance(line["latencyMs"], float) and line["latencyMs"] >= 0
    assert set(line) == {"route", "status", "latencyMs", "events"}
    # And nothing of the request's content: no address, no credential, no client id, no body
    text = json.dumps(line)
    for secret in (
        event["requestContext"]["identity"]["sourceIp"],
        event["headers"]["openpanel-client-secret"],
        event["headers"]["openpanel-client-id"],
        "screen_view",
    ):
        assert secret not in text


def test_a_batch_logs_its_accepted_and_rejected_counts_and_a_refused_request_none(
    track_app: ModuleType, store: FakeEventStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a batch of two events and an invalid item
    batch = load_event("track")
    batch["path"] = batch["resource"] = "/track/batch"
    good = {"type": "track", "payload": {"name": "a"}}
    batch["body"] = json.dumps({"batch": [good, good, {"type": "track", "payload": {}}]})
    # When it is sent, then its line counts both
    line = send(track_app, batch, caplog)
    assert (line["route"], line["events"], line["rejected"]) == ("POST /track/batch", 2, 1)
    # And a request refused whole logs its status and no count left over from the batch before it
    invalid = load_event("track")
    invalid["body"] = "{not json"
    line = send(track_app, invalid, caplog)
    assert line["status"] == 400 and "events" not in line and "rejected" not in line
