"""The read function in-process, on API Gateway proxy events, with in-memory readers."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from beacon.domain.ports import Readers
from beacon.errors import DependencyUnavailableError
from beacon.models.reads import EventsPageResponse, GroupResponse, ProfileResponse
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function, request_log_line, response_header
from tests.unit.support.read_fakes import FakeEntityReader, FakeEventReader, cursor_codec, stored_event

PROJECT = "example-project"  # the committed event's authorizer context


@pytest.fixture(scope="module")
def read_app() -> ModuleType:
    return load_function(
        "read",
        {
            "EVENTS_TABLE": "beacon-unit-events",
            "ENTITIES_TABLE": "beacon-unit-entities",
            "CURSOR_SECRET": "unit",
            "REPLAYS_TABLE": "beacon-unit-replays",
            "REPLAY_BUCKET": "beacon-unit-replays",
        },
    )


@pytest.fixture
def readers(read_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    now = datetime.now(UTC)
    events = FakeEventReader(
        [stored_event(PROJECT, now - timedelta(minutes=n), n, name="ab"[n % 2], profile_id="u1") for n in range(5)]
    )
    entities = FakeEntityReader()
    entities.profiles[(PROJECT, "u1")] = {"profileId": "u1", "firstName": "Ada", "properties": {"n": 1}}
    entities.groups[(PROJECT, "org acme")] = {"groupId": "org acme", "type": "company", "name": "Acme"}
    fakes = Readers(events, entities)
    monkeypatch.setattr(read_app, "readers", lambda: fakes)
    monkeypatch.setattr(read_app, "cursors", cursor_codec)
    return fakes


def request(
    path: str,
    query: dict[str, str] | None = None,
    resource: str | None = None,
    client_type: str = "read",
    with_secret: bool = True,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = load_event("export_events")
    event["path"] = path
    event["resource"] = event["requestContext"]["resourcePath"] = resource or path
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in (query or {}).items()} or None
    event["requestContext"]["authorizer"].update(clientType=client_type, secretAuth="true" if with_secret else "false")
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def invoke(read_app: ModuleType, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    response: dict[str, Any] = read_app.lambda_handler(event, FakeLambdaContext())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = gzip.decompress(base64.b64decode(body)).decode()
    return response["statusCode"], json.loads(body), response


def test_the_committed_event_reads_a_page_of_events(read_app, readers):
    # Given the committed proxy event (a read client with its secret), When it is handled
    status, body, response = invoke(read_app, load_event("export_events"))
    # Then a page of the project's events answers, newest first, in the documented shape, never cached
    assert status == 200, body
    page = EventsPageResponse.model_validate(body)
    assert [event.properties["n"] for event in page.data] == [0, 1, 2, 3, 4]
    assert page.meta.count == 5 and page.meta.next is None
    assert response_header(response, "Content-Type") == "application/json"
    assert response_header(response, "Cache-Control") == "no-store"
    assert response_header(response, "Access-Control-Allow-Origin") is None


def test_pages_follow_the_cursor(read_app, readers):
    _, first, _ = invoke(read_app, request("/export/events", {"limit": "2"}))
    _, second, _ = invoke(read_app, request("/export/events", {"limit": "2", "cursor": first["meta"]["next"]}))
    assert [event["properties"]["n"] for event in first["data"] + second["data"]] == [0, 1, 2, 3]


def test_a_write_client_gets_a_json_403(read_app, readers):
    status, body, _ = invoke(read_app, request("/export/events", client_type="write"))
    assert (status, body) == (403, {"error": "Forbidden: reading needs a read or root client", "status": 403})


def test_a_read_client_without_its_secret_gets_a_json_401(read_app, readers):
    status, body, _ = invoke(read_app, request("/profile/u1", resource="/profile/{profileId}", with_secret=False))
    assert (status, body) == (401, {"error": "Reading requires the client secret", "status": 401})


def test_another_project_gets_a_json_403(read_app, readers):
    status, body, _ = invoke(read_app, request("/export/events", {"projectId": "someone-else"}))
    assert status == 403 and body["status"] == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "1001"}, "limit", id="limit-1001"),
        pytest.param({"limit": "ten"}, "limit", id="limit-not-a-number"),
        pytest.param({"start": "yesterday"}, "start", id="start-not-a-time"),
        pytest.param({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end", id="range-too-long"),
        pytest.param({"cursor": "forged.cursor"}, "cursor", id="forged-cursor"),
    ],
)
def test_invalid_parameters_are_400_with_details(read_app, readers, query, field):
    status, body, _ = invoke(read_app, request("/export/events", query))
    assert status == 400 and body["status"] == 400, body
    assert field in [detail["field"] for detail in body["details"]]


def test_a_profile_and_its_events(read_app, readers):
    status, body, _ = invoke(read_app, request("/profile/u1", resource="/profile/{profileId}"))
    assert status == 200 and ProfileResponse.model_validate(body).firstName == "Ada"
    status, body, _ = invoke(
        read_app, request("/profile/u1/events", {"event": "b"}, resource="/profile/{profileId}/events")
    )
    assert status == 200 and [event["properties"]["n"] for event in body["data"]] == [1, 3]


def test_path_parameters_are_percent_decoded(read_app, readers):
    status, body, _ = invoke(read_app, request("/group/org%20acme", resource="/group/{groupId}"))
    assert status == 200 and GroupResponse.model_validate(body).id == "org acme"


def test_unknown_profile_and_group_are_json_404s(read_app, readers):
    for path, resource in (("/profile/nobody", "/profile/{profileId}"), ("/group/none", "/group/{groupId}")):
        status, body, _ = invoke(read_app, request(path, resource=resource))
        assert status == 404 and body["status"] == 404 and body["error"].endswith("not found")


def test_an_unknown_route_is_a_json_404(read_app, readers):
    status, body, _ = invoke(read_app, request("/export/profiles"))
    assert (status, body) == (404, {"error": "Not found", "status": 404})


def test_a_page_is_gzipped_for_callers_that_accept_it(read_app, readers):
    status, body, response = invoke(read_app, request("/export/events", headers={"Accept-Encoding": "gzip"}))
    assert status == 200 and body["meta"]["count"] == 5
    assert response_header(response, "Content-Encoding") == "gzip"


def test_an_unavailable_table_is_a_503_with_retry_after(read_app, readers, monkeypatch):
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    monkeypatch.setattr(readers.events, "project_events", unavailable)
    status, body, response = invoke(read_app, request("/export/events"))
    assert status == 503 and body["status"] == 503
    assert response_header(response, "Retry-After") == "5"


def test_each_read_logs_one_line_with_its_route_status_latency_and_events_and_no_values(
    read_app, readers, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    # Given a page of a profile's events, When it is read
    caplog.clear()
    capsys.readouterr()
    status, body, _ = invoke(read_app, request("/profile/u1/events", resource="/profile/{profileId}/events"))
    # Then its line names the route's template (not the profile id), the status, the latency and the events read
    line = request_log_line(caplog.records, capsys.readouterr().out)
    assert set(line) == {"route", "status", "latencyMs", "events"}
    assert (line["route"], line["status"], line["events"]) == (
        "GET /profile/{profileId}/events",
        200,
        len(body["data"]),
    )
    # And a refused read logs its status and no count
    caplog.clear()
    capsys.readouterr()
    status, _, _ = invoke(read_app, request("/export/events", client_type="write"))
    line = request_log_line(caplog.records, capsys.readouterr().out)
    assert (line["status"], status) == (403, 403) and "events" not in line
