"""The privacy function in-process, on API Gateway proxy events and its own asynchronous event, with in-memory
stores: routing, who may ask, validation, the hand-off, the export's pages."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from beacon.domain.erasure import ErasureRequest, ErasureScope, erasure_id
from beacon.domain.privacy import ExportCursorCodec
from tests.unit.privacy.test_erasure_runner import FakeEraser, FakeLog
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function, response_header
from tests.unit.support.read_fakes import stored_event

PROJECT = "example-project"  # the committed event's authorizer context
ENV = {
    "EVENTS_TABLE": "beacon-unit-events",
    "ENTITIES_TABLE": "beacon-unit-entities",
    "SESSIONS_TABLE": "beacon-unit-sessions",
    "REJECTED_EVENTS_TABLE": "beacon-unit-rejected",
    "REPLAYS_TABLE": "beacon-unit-replays",
    "REPLAY_BUCKET": "beacon-unit-replays",
    "CURSOR_SECRET": "unit",
    "LAKE_ENABLED": "true",
}


class FakeResolver:
    def __init__(self) -> None:
        self.resolved: list[ErasureRequest] = []

    def resolve(self, request: ErasureRequest) -> ErasureScope:
        self.resolved.append(request)
        ids = frozenset({request.profile_id, f"{request.profile_id}-old"})
        return ErasureScope(request.project_id, ids, frozenset({"d1"}), request.linked_devices)


class FakePages:
    """Events per profile id, handed out `limit` at a time from an integer position."""

    def __init__(self, events: dict[str, list[dict[str, Any]]]) -> None:
        self.events = events

    def head(self, scope: ErasureScope) -> dict[str, list[dict[str, Any]]]:
        return {"profiles": [{"profileId": "u1"}], "aliases": [], "groups": [], "sessions": [{"deviceId": "d1"}]}

    def profile_ids(self, project_id: str, profile_id: str) -> frozenset[str]:
        return frozenset({profile_id, f"{profile_id}-old"})

    def events_page(
        self, project_id: str, profile_id: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        start = 0 if after is None else int(after["n"])
        found = self.events.get(profile_id, [])[start : start + limit]
        end = start + len(found)
        return found, ({"n": end} if end < len(self.events.get(profile_id, [])) else None)


class FakeSuppressor:
    def __init__(self) -> None:
        self.blocked: list[str] = []

    def block_profiles(self, project_id: str, profile_ids: Any) -> None:
        self.blocked += list(profile_ids)


@pytest.fixture(scope="module")
def privacy_app() -> ModuleType:
    return load_function("privacy", ENV)


@pytest.fixture
def fakes(privacy_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    journal: list[str] = []
    state: dict[str, Any] = {
        "log": FakeLog(),
        "resolver": FakeResolver(),
        "handed_on": [],
        "suppressor": FakeSuppressor(),
        "erasers": [FakeEraser("events", 3, journal), FakeEraser("profiles", 2, journal)],
        "pages": FakePages(
            {
                "u1": [stored_event(PROJECT, now - timedelta(minutes=n), n, profile_id="u1") for n in range(5)],
                "u1-old": [stored_event(PROJECT, now, 9, profile_id="u1-old")],
            }
        ),
    }
    monkeypatch.setattr(privacy_app, "erasure_log", lambda: state["log"])
    monkeypatch.setattr(privacy_app, "scope_resolver", lambda: state["resolver"])
    monkeypatch.setattr(privacy_app, "erasers", lambda: state["erasers"])
    monkeypatch.setattr(privacy_app, "suppressor", lambda: state["suppressor"])
    monkeypatch.setattr(privacy_app, "export_pages", lambda: state["pages"])
    monkeypatch.setattr(privacy_app, "cursors", lambda: ExportCursorCodec(lambda: b"unit-secret"))
    monkeypatch.setattr(privacy_app, "hand_on", state["handed_on"].append)
    yield state


def request(
    method: str,
    path: str,
    resource: str,
    query: dict[str, str] | None = None,
    client_type: str = "root",
    with_secret: bool = True,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = load_event("export_events")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["resource"] = event["requestContext"]["resourcePath"] = resource
    event["pathParameters"] = path_parameters
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in (query or {}).items()} or None
    event["requestContext"]["authorizer"].update(clientType=client_type, secretAuth="true" if with_secret else "false")
    return event


def erase(profile: str = "u1", query: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return request(
        "DELETE", f"/profile/{profile}", "/profile/{profileId}", query, path_parameters={"profileId": profile}, **kwargs
    )


def invoke(app: ModuleType, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = gzip.decompress(base64.b64decode(body)).decode()
    return response["statusCode"], json.loads(body), response


def test_a_root_delete_answers_202_with_the_receipt_and_hands_the_erasure_on(privacy_app, fakes):
    # When a root client asks to erase u1 (keeping the linked devices' events, suppressing the ids)
    status, body, response = invoke(privacy_app, erase(query={"linkedDevices": "false", "suppress": "true"}))
    # Then the receipt answers at once, running, naming no person, never cached
    expected_id = erasure_id(PROJECT, "u1")
    assert status == 202, body
    assert body["erasureId"] == expected_id and body["statusUrl"] == f"/erasures/{expected_id}"
    assert (body["status"], body["linkedDevices"], body["suppress"]) == ("running", False, True)
    assert "u1" not in json.dumps(body)
    assert response_header(response, "Cache-Control") == "no-store"
    # And the scope was resolved with those options, and (project, id) handed on to the asynchronous run
    assert [(r.profile_id, r.linked_devices, r.suppress) for r in fakes["resolver"].resolved] == [("u1", False, True)]
    assert fakes["handed_on"] == [{"beaconErasure": {"projectId": PROJECT, "erasureId": expected_id}}]


def test_the_asynchronous_run_erases_and_leaves_the_lake_pending_then_a_repeat_changes_nothing(privacy_app, fakes):
    # Given a started erasure with suppression
    invoke(privacy_app, erase(query={"suppress": "true"}))
    [order] = fakes["handed_on"]
    # When Lambda runs the handed-on event
    outcome = privacy_app.lambda_handler(order, FakeLambdaContext())
    # Then every store of the function is erased, the ids were blocked first, and the lake waits for the operator
    assert outcome == {"erasureId": erasure_id(PROJECT, "u1"), "status": "waiting"}
    assert sorted(fakes["suppressor"].blocked) == ["u1", "u1-old"]
    status, receipt, _ = invoke(
        privacy_app,
        request("GET", f"/erasures/{outcome['erasureId']}", "/erasures/{erasureId}", path_parameters=outcome),
    )
    assert status == 200 and receipt["status"] == "waiting"
    assert receipt["removed"] == {"events": 3, "profiles": 2}
    assert receipt["storesDone"] == ["suppression", "events", "profiles"]
    assert receipt["pending"] == ["lake"] and "./beacon profiles erase" in receipt["next"]
    # And a second DELETE answers the same receipt, resolves nothing and hands nothing on
    again = invoke(privacy_app, erase(query={"suppress": "false"}))
    assert again[:2] == (202, receipt)
    assert len(fakes["resolver"].resolved) == 1 and len(fakes["handed_on"]) == 1
    # And running the event again (Lambda's retry) removes nothing more
    assert privacy_app.lambda_handler(order, FakeLambdaContext())["status"] == "waiting"
    assert fakes["log"].load(PROJECT, outcome["erasureId"]).counts == {"events": 3, "profiles": 2}


def test_without_a_lake_the_run_finishes_done(privacy_app, fakes, monkeypatch):
    monkeypatch.setattr(privacy_app.settings, "has_lake", False)
    invoke(privacy_app, erase())
    outcome = privacy_app.lambda_handler(fakes["handed_on"][0], FakeLambdaContext())
    assert outcome["status"] == "done"
    receipt = fakes["log"].load(PROJECT, outcome["erasureId"])
    assert receipt.scope is None and receipt.finished_at is not None


def test_an_unknown_erasure_in_the_asynchronous_event_is_logged_not_raised(privacy_app, fakes):
    order = {"beaconErasure": {"projectId": PROJECT, "erasureId": "0" * 32}}
    assert privacy_app.lambda_handler(order, FakeLambdaContext()) == {"status": "unknown"}


@pytest.mark.parametrize(
    ("client_type", "with_secret", "status", "error"),
    [
        ("write", True, 403, "Forbidden: erasing and exporting a person's data needs a root client"),
        ("read", True, 403, "Forbidden: erasing and exporting a person's data needs a root client"),
        ("root", False, 401, "Erasing and exporting a person's data requires the client secret"),
    ],
)
def test_only_a_root_client_with_its_secret_may_ask(privacy_app, fakes, client_type, with_secret, status, error):
    for event in (
        erase(client_type=client_type, with_secret=with_secret),
        request(
            "GET",
            "/profile/u1/export",
            "/profile/{profileId}/export",
            client_type=client_type,
            with_secret=with_secret,
            path_parameters={"profileId": "u1"},
        ),
    ):
        assert invoke(privacy_app, event)[:2] == (status, {"error": error, "status": status})
    assert fakes["resolver"].resolved == [] and fakes["handed_on"] == []


def test_another_project_is_refused_whether_or_not_it_exists(privacy_app, fakes):
    status, body, _ = invoke(privacy_app, erase(query={"projectId": "someone-else"}))
    assert (status, body) == (403, {"error": "Forbidden: this client cannot act on that project", "status": 403})


@pytest.mark.parametrize(
    "event",
    [
        erase(query={"suppress": "maybe"}),
        erase(query={"linkedDevices": "2"}),
        erase(profile="x" * 300),
        request("GET", "/erasures/xyz", "/erasures/{erasureId}", path_parameters={"erasureId": "xyz"}),
        request(
            "GET",
            "/profile/u1/export",
            "/profile/{profileId}/export",
            {"limit": "0"},
            path_parameters={"profileId": "u1"},
        ),
    ],
    ids=["suppress", "linkedDevices", "profile id", "erasure id", "limit"],
)
def test_bad_input_is_a_json_400_with_the_field(privacy_app, fakes, event):
    status, body, _ = invoke(privacy_app, event)
    assert status == 400 and body["error"] == "Invalid request parameters" and body["details"], body
    assert fakes["handed_on"] == []


def test_an_unknown_erasure_is_a_json_404(privacy_app, fakes):
    event = request("GET", f"/erasures/{'a' * 32}", "/erasures/{erasureId}", path_parameters={"erasureId": "a" * 32})
    assert invoke(privacy_app, event)[:2] == (404, {"error": "No such erasure in this project", "status": 404})


def export(query: dict[str, str] | None = None, profile: str = "u1") -> dict[str, Any]:
    return request(
        "GET",
        f"/profile/{profile}/export",
        "/profile/{profileId}/export",
        query,
        path_parameters={"profileId": profile},
    )


def test_the_export_pages_through_every_id_of_the_person_with_a_signed_cursor(privacy_app, fakes):
    # When the root client pages through u1's export, 2 events a page
    status, first, _ = invoke(privacy_app, export({"limit": "2"}))
    pages = [first]
    while pages[-1]["meta"]["next"]:
        status, page, _ = invoke(privacy_app, export({"limit": "2", "cursor": pages[-1]["meta"]["next"]}))
        assert status == 200, page
        pages.append(page)
    # Then the first page alone has the head; the pages hold the events of u1 then of its alias, each once
    assert first["profiles"] == [{"profileId": "u1"}] and first["sessions"] == [{"deviceId": "d1"}]
    assert all(page["profiles"] is None for page in pages[1:])
    assert [len(page["events"]) for page in pages] == [2, 2, 2]
    assert [event["profileId"] for page in pages for event in page["events"]] == ["u1"] * 5 + ["u1-old"]
    # And the scope was resolved once, on the first page
    assert len(fakes["resolver"].resolved) == 1


def test_an_export_cursor_is_refused_when_forged_or_for_another_person(privacy_app, fakes):
    _, first, _ = invoke(privacy_app, export({"limit": "2"}))
    cursor = first["meta"]["next"]
    payload, mac = cursor.split(".")
    state = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b'"id":"u1"' in state
    forged = base64.urlsafe_b64encode(state.replace(b'"id":"u1"', b'"id":"u0"')).decode()
    for query, profile in (({"cursor": f"{forged.rstrip('=')}.{mac}"}, "u1"), ({"cursor": cursor}, "u2")):
        status, body, _ = invoke(privacy_app, export(query, profile))
        assert status == 400 and body["details"][0]["field"] == "cursor", body
