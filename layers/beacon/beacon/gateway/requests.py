"""What a request is, read off its API Gateway proxy event once: meta, caller, trust, clocks, idempotency key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from beacon.domain.entities import Caller, RequestContext, RequestMeta
from beacon.domain.keys import request_key
from beacon.errors import InvalidRequestError
from beacon.gateway.authorizer_context import caller_from_context
from beacon.models.requests import BatchRequest

MAX_USER_AGENT_LENGTH = 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 128


def request_meta(event: Mapping[str, Any]) -> RequestMeta:
    """The request's headers (lower-cased), source IP and user agent."""
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    return RequestMeta(
        request_id=context.get("requestId", ""),
        source_ip=(context.get("identity") or {}).get("sourceIp") or "",
        user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_LENGTH],  # bounds the parse cache
        headers=headers,
    )


def authorizer_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((event.get("requestContext") or {}).get("authorizer")) or {}


def event_caller(event: Mapping[str, Any]) -> Caller:
    return caller_from_context(authorizer_context(event))


def idempotency_header(meta: RequestMeta) -> str | None:
    key = meta.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidRequestError(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key


def request_context(
    event: Mapping[str, Any],
    received_at: datetime,
    store_ip: Callable[[str], bool],
    batch: BatchRequest | None = None,
    keyed: bool = True,
) -> RequestContext:
    """The request's context, built once per request. A batch's client clock is its body's `sentAt`; its
    Idempotency-Key names the batch (track_bodies.read_batch) and is read after the bot check (a bot is answered
    202 whatever it sent).
    `keyed=False`: a request that stores nothing has no use for the key, so never refuses one."""
    caller, meta = event_caller(event), request_meta(event)
    return RequestContext(
        caller=caller,
        meta=meta,
        received_at=received_at,
        store_ip=store_ip(caller.project_id),
        sent_at=meta.headers.get("openpanel-sent-at") if batch is None else batch.sentAt,
        idempotency_key=request_key_of(caller, meta) if batch is None and keyed else None,
    )


def request_key_of(caller: Caller, meta: RequestMeta) -> str | None:
    key = idempotency_header(meta)
    return None if key is None else request_key(caller.client_id, key)
