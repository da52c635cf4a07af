"""Per-client rate limits over HTTP: the local gateway holds each client's API key (named by the authorizer)
to its usage plan, and answers the template's THROTTLED gateway response before the track function runs."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest

from beacon.domain.auth import create_client
from beacon.domain.entities import ClientType
from beacon.store.clients import SecretsManagerClientStore
from local.template import GatewayResponse, read_template

pytestmark = pytest.mark.e2e
TRACK_BODY = {"type": "track", "payload": {"name": "page_view"}}
_sent = itertools.count()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: Any


def track(gateway_url: str, client: dict[str, str]) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{gateway_url}/track",
        # Each request distinct: identical payloads within seconds would be deduplicated as double sends.
        data=json.dumps({**TRACK_BODY, "payload": {"name": "page_view", "properties": {"n": next(_sent)}}}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "openpanel-client-id": client["clientId"],
            "openpanel-client-secret": client["clientSecret"],
            "User-Agent": "curl/8.5.0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Answer(response.status, response.headers, json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, json.loads(error.read()))


@pytest.fixture(scope="module")
def throttled() -> GatewayResponse:
    return read_template().gateway_responses()["THROTTLED"]


@pytest.fixture
def create_rate_limited_client(
    secretsmanager: Any, template_env: dict[str, str], client_id_key: bytes
) -> Callable[..., dict[str, str]]:
    """Like conftest's create_client, for a client with a usage plan of its own (rate and burst on its record)."""
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)

    def make(project: str, rate: float, burst: int) -> dict[str, str]:
        record, secret = create_client(
            project, ClientType.WRITE, datetime.now(UTC), rate=rate, burst=burst, id_key=client_id_key
        )
        store.put_client(record)
        return {"clientId": record.client_id, "clientSecret": secret, "projectId": project}

    return make


def test_a_client_over_its_rate_gets_429s_while_other_clients_are_served(
    gateway_url, create_rate_limited_client, create_client, project_id, stored_events, throttled
):
    # Given a client limited to 2 requests/s with a burst of 2, and another client of the same project
    limited = create_rate_limited_client(project_id, rate=2, burst=2)
    other = create_client(project_id)

    # When the limited client sends 15 requests as fast as it can, the other client sending one meanwhile
    started = time.monotonic()
    answers: list[Answer] = []
    other_answer: Answer | None = None
    for _ in range(15):
        answers.append(track(gateway_url, limited))
        if answers[-1].status == 429 and other_answer is None:
            other_answer = track(gateway_url, other)
    elapsed = time.monotonic() - started

    # Then the burst and what refilled meanwhile are served, and the rest get the THROTTLED response
    served = [answer for answer in answers if answer.status == 200]
    refused = [answer for answer in answers if answer.status == 429]
    assert len(served) + len(refused) == 15, [answer.status for answer in answers]
    assert 2 <= len(served) <= 2 + 2 * elapsed
    assert refused
    for answer in refused:
        assert answer.body == {"error": "Too Many Requests", "status": 429}
        assert answer.headers["Retry-After"] == throttled.headers["Retry-After"].static
        assert answer.headers["Retry-After"].isdigit()
        assert answer.headers["Access-Control-Allow-Origin"] == throttled.headers["Access-Control-Allow-Origin"].static
    # And the other client, in the default plan, was served while the first was throttled
    assert other_answer is not None and other_answer.status == 200, other_answer

    # When the limited client waits for its bucket to refill
    time.sleep(1.5)
    again = track(gateway_url, limited)

    # Then it is served again
    assert again.status == 200, again
    # And only the served requests stored an event: nothing for the 429s
    assert len(stored_events(project_id)) == len(served) + 1 + 1


def test_each_client_has_its_own_bucket(gateway_url, create_rate_limited_client, project_id, stored_events):
    # Given two clients of one project, each limited to a burst of 1 at 1 request/s
    first, second = (create_rate_limited_client(project_id, rate=1, burst=1) for _ in range(2))
    # When each sends two requests at once
    statuses = [track(gateway_url, client).status for client in (first, first, second, second)]
    # Then each is served once and throttled once: one client's burst does not use the other's tokens
    assert statuses == [200, 429, 200, 429]
    assert len(stored_events(project_id)) == 2
