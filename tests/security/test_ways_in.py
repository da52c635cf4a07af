"""Every way in, over HTTP through the local gateway and the authorizer: only a client's own id with its own
secret gets through. Everything else is the gateway's JSON 401, never a 5xx, and stores nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from beacon.domain.auth import create_client, revoke_client
from beacon.domain.entities import ClientType
from beacon.store.clients import SecretsManagerClientStore
from tests.faults.private_stack import Answer, send

pytestmark = pytest.mark.e2e
UNAUTHORIZED = {"error": "Invalid client credentials", "status": 401}
BODY = json.dumps({"type": "track", "payload": {"name": "way_in"}}).encode()
LONG = 8 * 1024  # under API Gateway's 10 KB limit for all request headers together


@pytest.fixture
def port(gateway_url: str) -> int:
    return int(urlsplit(gateway_url).port or 0)


@pytest.fixture
def client_pair(create_client: Callable[..., dict[str, str]], project_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """A client of this test's project, and one of another project."""
    return create_client(project_id), create_client(f"other-{uuid.uuid4().hex[:12]}")


def post_track(port: int, headers: list[tuple[str, str]]) -> Answer:
    return send(port, "POST", "/track", BODY, headers=[("Content-Type", "application/json"), *headers])


def assert_unauthorized(answer: Answer) -> None:
    assert answer.status == 401, answer
    assert answer.json() == UNAUTHORIZED
    assert answer.headers["content-type"] == "application/json"


def credentials(client: dict[str, str], secret: str | None = None) -> list[tuple[str, str]]:
    return [("openpanel-client-id", client["clientId"]), ("openpanel-client-secret", secret or client["clientSecret"])]


def test_the_clients_own_credentials_get_in(port, client_pair, stored_events, project_id):
    # Given a client's id and secret, When it sends an event, Then it is stored (the baseline for what follows)
    mine, _ = client_pair
    assert post_track(port, credentials(mine)).status == 200
    assert len(stored_events(project_id)) == 1


WAYS_IN: dict[str, Callable[[dict[str, str], dict[str, str]], list[tuple[str, str]]]] = {
    "no-credentials": lambda mine, other: [],
    "id-without-secret-or-origin": lambda mine, other: [("openpanel-client-id", mine["clientId"])],
    "secret-without-id": lambda mine, other: [("openpanel-client-secret", mine["clientSecret"])],
    "empty-id": lambda mine, other: [("openpanel-client-id", ""), ("openpanel-client-secret", mine["clientSecret"])],
    "empty-secret": lambda mine, other: [("openpanel-client-id", mine["clientId"]), ("openpanel-client-secret", "")],
    "other-projects-id-with-my-secret": lambda mine, other: [
        ("openpanel-client-id", other["clientId"]),
        ("openpanel-client-secret", mine["clientSecret"]),
    ],
    "my-id-with-other-projects-secret": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("openpanel-client-secret", other["clientSecret"]),
    ],
    "duplicated-id-mine-then-other": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("openpanel-client-id", other["clientId"]),
        ("openpanel-client-secret", mine["clientSecret"]),
    ],
    "duplicated-secret-mine-then-other": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("openpanel-client-secret", mine["clientSecret"]),
        ("openpanel-client-secret", other["clientSecret"]),
    ],
    "duplicated-secret-then-empty": lambda mine, other: [
        *credentials(mine),
        ("openpanel-client-secret", ""),
    ],
    "secret-with-escaped-newline": lambda mine, other: credentials(mine, mine["clientSecret"] + "\\n"),
    "secret-with-encoded-newline": lambda mine, other: credentials(mine, mine["clientSecret"] + "%0A"),
    "secret-in-other-case": lambda mine, other: credentials(mine, mine["clientSecret"].upper()),
    "secret-truncated": lambda mine, other: credentials(mine, mine["clientSecret"][:-1]),
    "secret-as-bearer-token": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("Authorization", f"Bearer {mine['clientSecret']}"),
    ],
    "very-long-id": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"] + "a" * LONG),
        ("openpanel-client-secret", mine["clientSecret"]),
    ],
    "very-long-secret": lambda mine, other: credentials(mine, mine["clientSecret"] + "a" * LONG),
    "very-long-origin-without-secret": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("Origin", "https://" + "a" * LONG + ".example"),
    ],
    "origin-without-secret-for-a-server-client": lambda mine, other: [
        ("openpanel-client-id", mine["clientId"]),
        ("Origin", "https://shop.example"),
    ],
}


@pytest.mark.parametrize("way_in", sorted(WAYS_IN))
def test_every_other_way_in_is_a_json_401_that_stores_nothing(
    port, client_pair, stored_events, project_id, way_in: str
):
    # Given a valid client of this project and one of another project
    mine, other = client_pair

    # When a request arrives with credentials spoiled in one way
    answer = post_track(port, WAYS_IN[way_in](mine, other))

    # Then the gateway's JSON 401 answers, and nothing is stored for either project
    assert_unauthorized(answer)
    assert stored_events(project_id) == []
    assert stored_events(other["projectId"]) == []


def test_credentials_in_the_query_string_are_ignored(port, client_pair, stored_events, project_id):
    mine, _ = client_pair
    query = f"/track?openpanel-client-id={mine['clientId']}&openpanel-client-secret={mine['clientSecret']}"
    assert_unauthorized(send(port, "POST", query, BODY, headers=[("Content-Type", "application/json")]))
    assert stored_events(project_id) == []


def test_a_revoked_client_is_refused(port, secretsmanager, template_env, client_id_key, stored_events, project_id):
    # Given a client that was revoked before it sent anything
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)
    record, secret = create_client(project_id, ClientType.WRITE, datetime.now(UTC), id_key=client_id_key)
    store.put_client(record)
    store.update_client(revoke_client(record, datetime.now(UTC)))

    # When it sends an event with its (once valid) credentials
    answer = post_track(port, [("openpanel-client-id", record.client_id), ("openpanel-client-secret", secret)])

    # Then it is refused like any invalid credential, and nothing is stored
    assert_unauthorized(answer)
    assert stored_events(project_id) == []


@pytest.mark.parametrize("path", ["/track/batch", "/track/device-id"])
def test_every_route_needs_credentials(port, client_pair, path: str):
    mine, other = client_pair
    method = "GET" if path.endswith("device-id") else "POST"
    body: Any = b'{"batch": []}' if method == "POST" else None
    for headers in ([], WAYS_IN["other-projects-id-with-my-secret"](mine, other)):
        assert_unauthorized(send(port, method, path, body, headers=[("Content-Type", "application/json"), *headers]))
