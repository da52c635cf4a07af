"""Credentials in the body (BodyCredentials, docs/DESIGN.md §50) against the Secrets Manager emulator: the track
function's lookup, built from its template environment with the parameter on, behind the same id gate as the
authorizer's, so a forged id costs no call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.errors import InvalidCredentialsError
from beacon.gateway.body_credentials import authenticate_body
from beacon.store.clients import IssuedClientLookup, issued_client_lookup
from local.template import read_template

pytestmark = pytest.mark.integration
TRACK_ENV = read_template(overrides={"BodyCredentials": "true"}).functions()["TrackFunction"].environment


@pytest.fixture
def lookup(secretsmanager: Any) -> IssuedClientLookup:
    """What the track function's body_clients() builds, from its template environment, on the emulator's client."""
    assert TRACK_ENV["BODY_CREDENTIALS"] == "true"
    return issued_client_lookup(
        TRACK_ENV["CLIENT_SECRET_PREFIX"],
        int(TRACK_ENV["CLIENT_CACHE_SECONDS"]),
        TRACK_ENV["CLIENT_ID_KEY_SECRET"],
        secretsmanager,
    )


def body_event(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {"authorizer": {"unauthenticated": "true", "viaDistribution": "false"}},
    }


def credentials_of(client: dict[str, str]) -> dict[str, str]:
    return {"clientId": client["clientId"], "clientSecret": client["clientSecret"]}


def forged_signed_id() -> str:
    """A version-8 id with a made-up tag: the shape Beacon issues, without the stack's MAC."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[6] = (raw[6] & 0x0F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def test_a_body_with_a_clients_credentials_authenticates_from_its_secrets_manager_record(
    lookup: IssuedClientLookup,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    get_secret_value_calls: list[str],
) -> None:
    # Given a client of the stack
    client = create_client(project_id)
    event = body_event({"type": "track", "payload": {"name": "x"}, **credentials_of(client)})
    # When its body is authenticated with the track function's lookup
    caller = authenticate_body(event, lookup, datetime.now(UTC), limit=64 * 1024)
    # Then it is the client's project, authenticated with its secret, read from its record under the prefix
    assert (caller.project_id, caller.client_id, caller.secret_auth) == (project_id, client["clientId"], True)
    assert f"{TRACK_ENV['CLIENT_SECRET_PREFIX']}{client['clientId']}" in get_secret_value_calls
    # And a wrong secret for the same client is refused
    wrong = body_event({"type": "track", "payload": {"name": "x"}, **credentials_of(client), "clientSecret": "sec_x"})
    with pytest.raises(InvalidCredentialsError):
        authenticate_body(wrong, lookup, datetime.now(UTC), limit=64 * 1024)


def test_forged_and_unknown_ids_in_bodies_cost_no_client_record_read(
    lookup: IssuedClientLookup,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    get_secret_value_calls: list[str],
) -> None:
    # Given the lookup warm (its id key read once, for a real client)
    client = create_client(project_id)
    authenticate_body(body_event(credentials_of(client)), lookup, datetime.now(UTC), limit=64 * 1024)
    get_secret_value_calls.clear()
    # When 50 bodies name forged signed ids
    for _ in range(50):
        body = body_event({"type": "track", "payload": {"name": "x"}, "clientId": forged_signed_id()})
        body["body"] = json.dumps({**json.loads(body["body"]), "clientSecret": client["clientSecret"]})
        with pytest.raises(InvalidCredentialsError):
            authenticate_body(body, lookup, datetime.now(UTC), limit=64 * 1024)
    # Then the id gate refused them all before any Secrets Manager call
    assert get_secret_value_calls == []
