"""The read API over HTTP through the local gateway: events written with POST /track by a write client, read
back by a read client (GET /export/events, /profile/{id}, /profile/{id}/events, /group/{id})."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.domain.auth import create_client as new_client
from beacon.domain.entities import ClientType
from beacon.models.reads import EventsPageResponse, GroupResponse, ProfileResponse
from beacon.store.clients import SecretsManagerClientStore
from tests.e2e.test_seed_examples import REST_PAGE, TRACK_MDX

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Any
    body: Any


def call(url: str, method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None) -> Answer:
    data = None if body is None else body.encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return Answer(response.status, response.headers, json.loads(raw))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, json.loads(error.read()))


def credentials(client: dict[str, str]) -> dict[str, str]:
    return {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": "curl/8.5.0",
    }


@pytest.fixture
def send(gateway_url: str, create_client: Callable[..., dict[str, str]]) -> Callable[[str, str], None]:
    """POST /track with a write client of the project, as the cURL examples do."""
    writers: dict[str, dict[str, str]] = {}

    def run(project: str, body: str) -> None:
        writer = writers.setdefault(project, create_client(project, "write"))
        headers = {**credentials(writer), "Content-Type": "application/json"}
        answer = call(f"{gateway_url}/track", "POST", body, headers)
        assert answer.status in (200, 400), answer.body

    return run


@pytest.fixture
def read(gateway_url: str) -> Callable[..., Answer]:
    def run(client: dict[str, str], path: str, **params: Any) -> Answer:
        query = urllib.parse.urlencode({key: value for key, value in params.items() if value is not None})
        return call(f"{gateway_url}{path}{'?' + query if query else ''}", headers=credentials(client))

    return run


def read_all(
    read: Callable[..., Answer], client: dict[str, str], path: str, **params: Any
) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        answer = read(client, path, cursor=cursor, **params)
        assert answer.status == 200, answer.body
        page = EventsPageResponse.model_validate(answer.body)
        pages.append([event.model_dump() for event in page.data])
        cursor = page.meta.next
        if cursor is None:
            return pages


def test_after_the_seed_examples_a_read_client_pages_through_every_event(
    send, read, create_client, project_id, stored_events
):
    # Given every example of OpenPanel's track.mdx sent by a write client
    for example in TRACK_MDX:
        send(project_id, example.body)
    reader = create_client(project_id, "read")
    # When a read client pages through the project's events two at a time
    pages = read_all(read, reader, "/export/events", projectId=project_id, limit=2)
    # Then it gets every stored event (session_start included) exactly once, newest first, with its enrichment
    events = [event for page in pages for event in page]
    stored = stored_events(project_id, with_session_starts=True)
    assert [event["id"] for event in events] == [item["id"] for item in reversed(stored)]
    assert all(len(page) == 2 for page in pages[:-1])
    report = next(event for event in events if event["name"] == "report_exported")
    assert (report["profileId"], report["groups"], report["properties"]) == (
        "user_123",
        ["org_acme"],
        {"format": "pdf"},
    )
    assert report["device"]["device"] == "server" and report["receivedAt"]


def test_after_the_seed_examples_a_read_client_reads_the_profiles_and_the_group(send, read, create_client, project_id):
    # Given every example of both seed documents sent (identify 123, counters on 1, alias a1 → 1, org_acme)
    for example in TRACK_MDX + REST_PAGE:
        send(project_id, example.body)
    reader = create_client(project_id, "root")
    # When the profiles and the group are read
    joe = read(reader, "/profile/123")
    one_by_alias = read(reader, "/profile/a1")
    user = read(reader, "/profile/user_123")
    group = read(reader, "/group/org_acme")
    # Then each is there, the alias resolved to its profile
    assert joe.status == one_by_alias.status == user.status == group.status == 200
    joe_profile = ProfileResponse.model_validate(joe.body)
    assert (joe_profile.firstName, joe_profile.email, joe_profile.properties) == (
        "Joe",
        "joe@doe.com",
        {"tier": "premium"},
    )
    one = ProfileResponse.model_validate(one_by_alias.body)
    assert (one.profileId, one.aliases, one.properties) == ("1", ["a1"], {"visits": 0})
    user_profile = ProfileResponse.model_validate(user.body)
    assert user_profile.groups == ["org_acme"] and user_profile.lastSeenAt is not None
    acme = GroupResponse.model_validate(group.body)
    assert (acme.type, acme.name, acme.properties) == ("company", "Acme Inc", {"plan": "enterprise", "seats": 25})
    # And user_123's events come from the profile index
    [page] = read_all(read, reader, "/profile/user_123/events")
    assert [event["name"] for event in page] == ["report_exported"]


def test_event_and_profile_filters_over_http(send, read, create_client, project_id):
    for n in range(3):
        send(
            project_id,
            json.dumps({"type": "track", "payload": {"name": "login", "profileId": "u1", "properties": {"n": n}}}),
        )
        send(project_id, json.dumps({"type": "track", "payload": {"name": "view", "profileId": "u2"}}))
    reader = create_client(project_id, "read")
    logins = [event for page in read_all(read, reader, "/export/events", event="login", limit=2) for event in page]
    assert [event["properties"]["n"] for event in logins] == [2, 1, 0]
    by_profile = [event for page in read_all(read, reader, "/export/events", profileId="u2") for event in page]
    assert {event["name"] for event in by_profile} == {"view"} and len(by_profile) == 3


def test_a_write_client_is_refused_with_a_json_403_on_every_read_route(send, read, create_client, project_id):
    send(project_id, TRACK_MDX[0].body)
    writer = create_client(project_id, "write")
    for path in ("/export/events", "/profile/123", "/profile/123/events", "/group/org_acme"):
        answer = read(writer, path)
        assert (answer.status, answer.body) == (
            403,
            {"error": "Forbidden: reading needs a read or root client", "status": 403},
        )
        assert answer.headers["Content-Type"] == "application/json"


def test_a_read_client_of_project_a_gets_nothing_of_project_b(send, read, create_client, project_id):
    # Given events and a profile in project B, and a read client of project A
    project_b = project_id + "-b"
    for example in TRACK_MDX:
        send(project_b, example.body)
    reader_a, reader_b = create_client(project_id, "read"), create_client(project_b, "read")
    # When A asks for B's data by name, Then it is refused
    answer = read(reader_a, "/export/events", projectId=project_b)
    assert (answer.status, answer.body["status"]) == (403, 403)
    assert read(reader_a, "/profile/123", projectId=project_b).status == 403
    # And without naming B, A reads its own (empty) project: none of B's events or profiles
    assert read(reader_a, "/export/events").body == {
        "data": [],
        "meta": {"count": 0, "next": None, "current": 1, "totalCount": 0, "pages": 0},
    }
    assert read(reader_a, "/profile/123").status == 404
    assert read(reader_a, "/group/org_acme").status == 404
    # And B's cursor, sent by A, is refused
    cursor = read(reader_b, "/export/events", limit=1).body["meta"]["next"]
    assert cursor is not None
    refused = read(reader_a, "/export/events", cursor=cursor)
    assert refused.status == 400 and refused.body["details"][0]["field"] == "cursor"


def test_a_read_client_without_its_secret_is_refused_even_from_an_allowed_origin(
    gateway_url, secretsmanager, template_env, client_id_key, project_id
):
    # Given a read client that lists an allowed origin
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)
    origins = ("https://app.example.com",)
    record, _ = new_client(project_id, ClientType.READ, datetime.now(UTC), origins=origins, id_key=client_id_key)
    store.put_client(record)
    # When a page on that origin asks for events with the client id only
    headers = {"openpanel-client-id": record.client_id, "Origin": "https://app.example.com"}
    answer = call(f"{gateway_url}/export/events", headers=headers)
    # Then it is refused, and the browser is not allowed to read the answer
    assert (answer.status, answer.body) == (401, {"error": "Reading requires the client secret", "status": 401})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_unknown_profiles_and_groups_are_json_404s(read, create_client, project_id):
    reader = create_client(project_id, "read")
    for path in ("/profile/nobody", "/group/nothing"):
        answer = read(reader, path)
        assert answer.status == 404 and answer.body["status"] == 404, path


def test_invalid_parameters_are_json_400s(read, create_client, project_id):
    reader = create_client(project_id, "read")
    answer = read(reader, "/export/events", start="2026-01-01", end="2026-03-01")
    assert answer.status == 400 and answer.body["details"][0]["field"] == "end"
    answer = read(reader, "/export/events", limit=5000)
    assert answer.status == 400 and answer.body["details"][0]["field"] == "limit"


def test_pages_are_gzipped_for_clients_that_ask(gateway_url, send, create_client, project_id):
    send(project_id, TRACK_MDX[0].body)
    reader = create_client(project_id, "read")
    headers = {**credentials(reader), "Accept-Encoding": "gzip"}
    answer = call(f"{gateway_url}/export/events", headers=headers)
    assert answer.status == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert answer.body["meta"]["count"] == 1  # my_event: a cURL (server-side) event opens no session (DESIGN.md §49)
