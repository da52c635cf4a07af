"""The track function's one log line per request: route, status, latency, events; nothing from the request."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.unit.support.fakes import FakeEventStore
from tests.unit.support.handlers import FakeLambdaContext, load_event, request_log_line


def send(
    track_app: ModuleType, event: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    caplog.clear()
    capsys.readouterr()
    response: dict[str, Any] = track_app.lambda_handler(event, FakeLambdaContext())
    line = request_log_line(caplog.records, capsys.readouterr().out)  # exactly one per request
    assert line["status"] == response["statusCode"]
    return line


def test_a_tracked_event_logs_one_line_with_route_status_latency_and_count_and_nothing_it_carried(
    track_app: ModuleType,
    store: FakeEventStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the committed track event, from a known address with known credentials
    event = load_event("track")
    # When it is sent
    line = send(track_app, event, caplog, capsys)
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
    track_app: ModuleType,
    store: FakeEventStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a batch of two events and an invalid item
    batch = load_event("track")
    batch["path"] = batch["resource"] = "/track/batch"
    good = {"type": "track", "payload": {"name": "a"}}
    batch["body"] = json.dumps({"batch": [good, good, {"type": "track", "payload": {}}]})
    # When it is sent, then its line counts both
    line = send(track_app, batch, caplog, capsys)
    assert (line["route"], line["events"], line["rejected"]) == ("POST /track/batch", 2, 1)
    # And a request refused whole logs its status and no count left over from the batch before it
    invalid = load_event("track")
    invalid["body"] = "{not json"
    line = send(track_app, invalid, caplog, capsys)
    assert line["status"] == 400 and "events" not in line and "rejected" not in line


def test_a_tracked_events_line_is_the_metrics_line_and_a_request_without_metrics_gets_the_loggers(
    track_app: ModuleType,
    store: FakeEventStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a tracked event: its one line is the EMF line, carrying its metric and its request fields together
    caplog.clear()
    capsys.readouterr()
    track_app.lambda_handler(load_event("track"), FakeLambdaContext())
    [emf] = [json.loads(text) for text in capsys.readouterr().out.splitlines() if text.startswith('{"_aws"')]
    assert emf["EventsAccepted"] == [1.0] and (emf["message"], emf["route"], emf["events"]) == (
        "request",
        "POST /track",
        1,
    )
    assert emf["correlation_id"] == load_event("track")["requestContext"]["requestId"]
    assert emf["function_request_id"] == FakeLambdaContext().aws_request_id
    assert not [record for record in caplog.records if record.getMessage() == "request"]
    # And a healthcheck, which publishes no metric, still gets one line: the logger's
    health = load_event("track")
    health.update(httpMethod="GET", path="/healthcheck", resource="/healthcheck", body=None)
    line = send(track_app, health, caplog, capsys)
    assert (line["route"], line["status"]) == ("GET /healthcheck", 200)


def test_with_metrics_switched_off_the_request_line_is_the_loggers(
    track_app: ModuleType,
    store: FakeEventStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Powertools' metrics disabled (no EMF line will be printed)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When an event is tracked, Then its request line is still written, by the logger
    line = send(track_app, load_event("track"), caplog, capsys)
    assert (line["route"], line["events"]) == ("POST /track", 1)
    assert [record.getMessage() for record in caplog.records].count("request") == 1
