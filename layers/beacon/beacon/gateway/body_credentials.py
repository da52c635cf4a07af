"""Credentials in the JSON body of POST /track: `clientId` / `clientSecret` at the top level, as Zaraz sends them and
OpenPanel's track route accepts them, when the stack's BodyCredentials parameter is on (docs/DESIGN.md §50).

API Gateway's authorizer never sees a body, so it lets a POST /track that sends no credential header through with an
unauthenticated context (gateway/authorizer_context.py). Here the body's credentials go through the authorizer's own
authenticate() and client lookup, and the caller's context takes the unauthenticated one's place in the event: from
there on (the caller, CORS, idempotency keys, rejected events) the request reads exactly as one with header
credentials, so no rule has a second home. The two fields are never stored: the request models ignore top-level
fields they do not declare, and a payload kept for diagnostics is kept without them (`without_body_credentials`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from beacon.domain.auth import authenticate
from beacon.domain.entities import Caller
from beacon.domain.ports import ClientLookup
from beacon.errors import InvalidCredentialsError, InvalidRequestError
from beacon.gateway.authorizer_context import caller_to_context
from beacon.gateway.authorizer_event import CredentialHeaders
from beacon.gateway.body import event_body

BODY_CLIENT_ID = "clientId"
BODY_CLIENT_SECRET = "clientSecret"  # noqa: S105 - a field name, not a secret


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def body_credentials(body: bytes) -> CredentialHeaders:
    """The client id and secret a JSON body names at its top level. Absent (or null): None, as for a missing header.
    A value that is not a string is no id at all, and a secret that cannot match (refused, never looked up)."""
    data = _json_object(body) or {}
    client_id, secret = data.get(BODY_CLIENT_ID), data.get(BODY_CLIENT_SECRET)
    return CredentialHeaders(
        client_id if isinstance(client_id, str) else None,
        secret if isinstance(secret, str) or secret is None else "",
    )


def authenticate_body(
    event: dict[str, Any], clients: ClientLookup, now: datetime, limit: int, read_limit: int | None = None
) -> Caller:
    """Authenticate the body's credentials (with the request's Origin, for a client without a secret) as the
    authorizer authenticates headers, and put the caller's context in the event in place of the unauthenticated
    one. InvalidCredentialsError when they do not authenticate, or when the body cannot be read to find them; a body
    over `read_limit` (default `limit`) is a 413, as for any POST /track."""
    context: Mapping[str, Any] = event["requestContext"]["authorizer"]
    try:
        body = event_body(event, read_limit or limit, stated_limit=limit)
    except InvalidRequestError:  # not gzip, an unknown Content-Encoding: no credentials can be read from it
        raise InvalidCredentialsError() from None
    credentials = body_credentials(body)
    origin = next((value for name, value in (event.get("headers") or {}).items() if name.lower() == "origin"), None)
    authenticated = authenticate(credentials.client_id, credentials.client_secret, origin, clients, now)
    # The authorizer checked the distribution's origin-verify header before letting the request through.
    caller = authenticated.through(via_distribution=str(context.get("viaDistribution", "false")).lower() == "true")
    # As API Gateway hands a proxy integration the authorizer's context: every value a string.
    context_of_caller = caller_to_context(caller)
    values = {key: str(value).lower() if isinstance(value, bool) else value for key, value in context_of_caller.items()}
    event["requestContext"]["authorizer"] = {**values, "principalId": caller.client_id}
    return caller


def without_body_credentials(body: bytes) -> bytes:
    """A body as it may be kept (the rejected-events table): a JSON object loses its top-level `clientId` and
    `clientSecret`; anything else is kept as it is (a body without them could not have been authenticated by them)."""
    data = _json_object(body)
    if data is None or (BODY_CLIENT_ID not in data and BODY_CLIENT_SECRET not in data):
        return body
    kept = {key: value for key, value in data.items() if key not in (BODY_CLIENT_ID, BODY_CLIENT_SECRET)}
    return json.dumps(kept, ensure_ascii=False).encode("utf-8", "surrogatepass")
