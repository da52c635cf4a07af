"""Running a Lambda function's app.py in-process: loaded as its cold start would, invoked with a fake context."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
from types import ModuleType
from typing import Any

import pytest

from tests.constants import ROOT
from tests.unit.support.fakes import FakeEventStore

EVENTS_DIR = ROOT / "events"

# Tracing off (no X-Ray daemon in tests); a namespace so Powertools can flush metrics.
POWERTOOLS_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Beacon",
    "POWERTOOLS_SERVICE_NAME": "beacon",
}


class FakeLambdaContext:
    """The attributes of the Lambda context that Powertools reads."""

    function_name = "unit-test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:unit-test-function"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def load_function(name: str, env: dict[str, str]) -> ModuleType:
    """Import functions/<name>/app.py under its environment (settings are read once, at import)."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"beacon_unit_{name}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**POWERTOOLS_ENV, **env}.items():
            patch.setenv(key, value)
        spec.loader.exec_module(module)
    return module


def load_event(name: str, as_sent: bool = False) -> dict[str, Any]:
    """A fresh copy of a committed events/<name>.json (tests may change it). The committed proxy events carry base64
    bodies, as API Gateway sends them; unless `as_sent`, the body is given as text (`isBase64Encoded` false, which
    API Gateway also sends for a non-binary type), so a test can replace it with JSON text."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    if not as_sent and event.get("isBase64Encoded") and isinstance(event.get("body"), str):
        event["body"] = base64.b64decode(event["body"]).decode()
        event["isBase64Encoded"] = False
    return event


def response_header(response: dict[str, Any], name: str) -> str | None:
    """A header of a proxy response, whether the resolver put it in headers or multiValueHeaders."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ",".join(values)
    return None


# The track function's settings as template.yaml gives them, with table names no test ever reaches.
TRACK_ENV = {
    "EVENTS_TABLE": "beacon-unit-events",
    "ENTITIES_TABLE": "beacon-unit-entities",
    "SESSIONS_TABLE": "beacon-unit-sessions",
    "DEVICE_SALT_SECRET": "beacon-unit-salt",
    "IDEMPOTENCY_TABLE": "beacon-unit-idempotency",
    "REJECTED_EVENTS_TABLE": "beacon-unit-rejected",
    "REPLAYS_TABLE": "beacon-unit-replays",
    "REPLAY_BUCKET": "beacon-unit-replays",
}


def load_track_function() -> ModuleType:
    return load_function("track", TRACK_ENV)


def wire_track_function(
    track_app: ModuleType, monkeypatch: pytest.MonkeyPatch, rejected: object | None = None
) -> FakeEventStore:
    """Give the loaded track function in-memory stores, the unit-test enricher and a rejected-events fake;
    returns the fake event store."""
    from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, FakeRejectedEventStore, fake_stores

    events = FakeEventStore()
    stores = fake_stores(events)
    kept = rejected if rejected is not None else FakeRejectedEventStore()
    monkeypatch.setattr(track_app, "stores", lambda: stores)
    monkeypatch.setattr(track_app, "enricher", lambda: UNIT_TEST_ENRICHER)
    monkeypatch.setattr(track_app, "rejected_store", lambda: kept)
    return events


# What Powertools adds to every logger record: a logger line's own fields are the rest.
_LOGGER_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "location", "timestamp"}
# What an EMF line carries besides the request's fields (beacon/gateway/request_log.py): its own block, the service
# dimension, and the two keys the logger's line has too.
_EMF_STANDARD = {"_aws", "service", "message", "function_request_id", "correlation_id"}


def request_log_line(records: list[logging.LogRecord], stdout: str) -> dict[str, Any]:
    """The request's own fields from the one log line an invocation wrote for it: the EMF line Powertools printed
    (when the request published metrics) or the logger's "request" line; fails unless there is exactly one."""
    emf = [json.loads(text) for text in stdout.splitlines() if text.startswith('{"_aws"')]
    on_emf = [line for line in emf if line.get("message") == "request"]
    on_logger = [record for record in records if record.getMessage() == "request"]
    assert len(on_emf) + len(on_logger) == 1, (on_emf, on_logger)
    if on_logger:
        return {key: value for key, value in on_logger[0].__dict__.items() if key not in _LOGGER_STANDARD}
    [line] = on_emf
    metric_names = {m["Name"] for block in line["_aws"]["CloudWatchMetrics"] for m in block["Metrics"]}
    return {key: value for key, value in line.items() if key not in _EMF_STANDARD | metric_names}
