"""Track function: POST /track, POST /track/batch, GET /track/device-id.

Parse → domain → response; errors are mapped to the API's JSON shape in one place.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from beacon.config import TrackSettings
from beacon.domain.batch import ingest_batch
from beacon.domain.enrich import Enricher
from beacon.domain.entities import BotDetected, Caller, RequestMeta
from beacon.domain.errors import (
    BeaconError,
    DependencyUnavailableError,
    InvalidRequestError,
)
from beacon.domain.filters import BlockedByFilterError
from beacon.domain.ingest import Stores, current_ids, ingest, request_bot
from beacon.domain.rejections import RejectedEvent, truncated_payload
from beacon.domain.useragent import warm_up
from beacon.models.authorizer_context import caller_from_context
from beacon.models.body import decode_body
from beacon.models.requests import parse_batch_request, parse_track_request
from beacon.models.responses import (
    BatchRejection,
    BatchResponse,
    BatchResult,
    BotInfo,
    BotResponse,
    ErrorResponse,
    FieldErrorDetail,
    TrackResponse,
)
from beacon.models.validation import validation_error_response
from beacon.observability import logger, metrics
from beacon.snapstart import before_snapshot
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.events import DynamoDBEventStore
from beacon.store.idempotency import DynamoDBIdempotencyStore
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.rejected import DynamoDBRejectedEventStore
from beacon.store.sessions import DynamoDBSessionStore
from beacon.tracing import tracer

app = APIGatewayRestResolver()
settings = TrackSettings.from_env()
MAX_USER_AGENT_LENGTH = 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 128


@cache
def stores() -> Stores:
    events = DynamoDBEventStore(
        settings.events_table, settings.event_retention_days, idempotency_table=settings.idempotency_table
    )
    return Stores(
        events=events,
        profiles=DynamoDBProfileStore(settings.entities_table, idempotency_table=settings.idempotency_table),
        sessions=DynamoDBSessionStore(settings.sessions_table, events),
        projects=DynamoDBProjectSettingsStore(settings.entities_table),
        idempotency=DynamoDBIdempotencyStore(settings.idempotency_table),
    )


@cache
def rejected_store() -> DynamoDBRejectedEventStore:
    return DynamoDBRejectedEventStore(settings.rejected_events_table)


@cache
def enricher() -> Enricher:
    geoip = None
    if settings.geoip_database_path:
        from beacon.store.geoip import MaxMindGeoIpLookup  # maxminddb is imported only where a database is set

        geoip = MaxMindGeoIpLookup(settings.geoip_database_path)
    return Enricher(stack_secret=SecretsManagerStackSecret(settings.device_salt_secret), geoip=geoip)


# With SnapStart the snapshot holds the user-agent parser, the bot rules and the AWS clients, built once.
before_snapshot(warm_up, stores, rejected_store, enricher)


# -- request and response plumbing -----------------------------------------------------------------------
def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    headers = {**(headers or {}), **cors_headers()}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


def cors_headers() -> dict[str, str]:
    """Browsers may read the answer only when the page's origin is one the client allows."""
    authorizer = app.current_event.request_context.authorizer.raw_event or {}
    origin = authorizer.get("allowedOrigin")
    return {"Access-Control-Allow-Origin": str(origin), "Vary": "Origin"} if origin else {}


def current_caller() -> Caller:
    return caller_from_context(app.current_event.request_context.authorizer.raw_event)


def request_meta() -> RequestMeta:
    """The request's headers (lower-cased), source IP and user agent, built once per request: Powertools' `headers`
    makes a new case-insensitive dict on every read (bench/cpu.py: 22 µs a request)."""
    meta = app.context.get("meta")
    if meta is None:
        event = app.current_event.raw_event
        headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
        context = event.get("requestContext") or {}
        meta = RequestMeta(
            request_id=context.get("requestId", ""),
            source_ip=(context.get("identity") or {}).get("sourceIp") or "",
            user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_LENGTH],  # bounds the parse cache
            headers=headers,
        )
        app.context["meta"] = meta  # cleared by the resolver after each request
    return meta


def request_body(limit: int) -> bytes:
    event = app.current_event
    encoding = request_meta().headers.get("content-encoding")
    data = decode_body(event.body, bool(event.is_base64_encoded), encoding, limit)
    app.context["body"] = data  # for the rejected-events record, should validation fail (cleared per request)
    return data


def idempotency_header(meta: RequestMeta) -> str | None:
    key = meta.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidRequestError(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key


def keep_rejected(rejections: list[RejectedEvent]) -> None:
    """Best effort: failing to keep a rejected event must never change its answer."""
    if not rejections:
        return
    try:
        rejected_store().put_rejected(rejections)
    except (DependencyUnavailableError, Exception):  # noqa: BLE001 - diagnostics only
        logger.warning("could not keep rejected events", extra={"count": len(rejections)})


def rejection(error: ErrorResponse, payload: bytes | str, index: int | None = None) -> RejectedEvent:
    caller = current_caller()
    details = [detail.model_dump() for detail in error.details or []]
    return RejectedEvent(
        project_id=caller.project_id,
        client_id=caller.client_id,
        reason=error.error,
        status=error.status,
        received_at=datetime.now(UTC),
        payload=truncated_payload(payload),
        details=details,
        index=index,
    )


def bot_response(bot: BotDetected) -> Response[str]:
    metrics.add_metric(name="BotsDropped", unit=MetricUnit.Count, value=1)
    return json_response(202, BotResponse(bot=BotInfo(name=bot.name, type=bot.type)).model_dump())


# -- routes -------------------------------------------------------------------------------------------
@app.post("/track")
def track() -> Response[str]:
    body = request_body(settings.max_body_bytes)
    request = parse_track_request(body)
    caller, meta = current_caller(), request_meta()
    result = ingest(
        request,
        caller,
        meta,
        stores(),
        enricher(),
        datetime.now(UTC),
        settings.stores_ip(caller.project_id),
        idempotency_key=idempotency_header(meta),
        sent_at=meta.headers.get("openpanel-sent-at"),
    )
    if isinstance(result, BotDetected):
        return bot_response(result)
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=1)
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id).model_dump())


@app.post("/track/batch")
def track_batch() -> Response[str]:
    body = request_body(settings.max_batch_bytes)
    batch = parse_batch_request(body)
    caller, meta = current_caller(), request_meta()
    bot = request_bot(caller, meta)
    if bot is not None:
        return bot_response(bot)
    # Without an Idempotency-Key, the batch's own bytes identify it: resending the same batch stores nothing twice.
    batch_key = idempotency_header(meta) or hashlib.sha256(caller.client_id.encode() + body).hexdigest()[:40]
    outcome = ingest_batch(
        batch.batch,
        caller,
        meta,
        stores(),
        enricher(),
        datetime.now(UTC),
        f"batch#{batch_key}",
        batch.sentAt,
        settings.stores_ip(caller.project_id),
        settings.max_body_bytes,
        body,
    )
    keep_rejected(
        [
            rejection(error, json.dumps(batch.batch[index], default=str), index)
            for index, error in outcome.rejected
            if error.status == 400
        ]
    )
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=len(outcome.results))
    if outcome.rejected:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(outcome.rejected))
    if outcome.not_stored:
        body_503 = {
            "error": "Some events could not be stored; retry the same batch (stored events are not duplicated)",
            "status": 503,
            "notStored": outcome.not_stored,
        }
        return json_response(503, body_503, {"Retry-After": str(DependencyUnavailableError.retry_after_seconds)})
    response = BatchResponse(
        accepted=len(outcome.results),
        rejected=[
            BatchRejection(index=index, error=error.error, status=error.status, details=error.details)
            for index, error in outcome.rejected
        ],
        results=[
            BatchResult(index=index, deviceId=result.device_id, sessionId=result.session_id)
            for index, result in sorted(outcome.results, key=lambda pair: pair[0])
        ],
    )
    return json_response(200, response.model_dump(exclude_none=True))


@app.get("/track/device-id")
def device_id() -> Response[str]:
    result = current_ids(current_caller(), request_meta(), stores().sessions, enricher(), datetime.now(UTC))
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id).model_dump())


# -- errors ---------------------------------------------------------------------------------------------
@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def handle_validation_error(exc: ValidationError) -> Response[str]:
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    error = validation_error_response(exc)
    keep_rejected([rejection(error, app.context.get("body", b""))])
    return json_response(400, error.model_dump(exclude_none=True))


@app.exception_handler(BeaconError)  # type: ignore[untyped-decorator]
def handle_beacon_error(exc: BeaconError) -> Response[str]:
    headers = None
    details = None if exc.details is None else [FieldErrorDetail(**detail) for detail in exc.details]
    error = ErrorResponse(error=exc.message, status=exc.status, details=details)
    if isinstance(exc, DependencyUnavailableError):
        logger.warning("dependency unavailable", extra={"reason": exc.message})
        metrics.add_metric(name="DependencyUnavailable", unit=MetricUnit.Count, value=1)
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif isinstance(exc, BlockedByFilterError):
        metrics.add_metric(name="RequestsFiltered", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        if isinstance(exc, InvalidRequestError) and "body" in app.context:
            keep_rejected([rejection(error, app.context["body"])])
    return json_response(exc.status, error.model_dump(exclude_none=True), headers)


@app.not_found
def handle_not_found(_: Exception) -> Response[str]:
    return json_response(404, ErrorResponse(error="Not found", status=404).model_dump(exclude_none=True))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The gateway's request id, set directly: the correlation_id_path form searches the event with JMESPath on
    # every request (bench/cpu.py: 8-14 µs).
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    return app.resolve(event, context)
