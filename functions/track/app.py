"""Track function: POST /track (events and session replay chunks), POST /track/batch, GET /track/device-id, and
the unauthenticated GET /healthcheck, GET /openapi.json and GET /docs. With BodyCredentials, POST /track also
authenticates credentials sent in its body (beacon/gateway/body_credentials.py, docs/DESIGN.md §50).

Each route: parse (the Beacon envelope) → request context → domain → response model. Errors are answered in
the API's JSON shape by the shared handlers (beacon/gateway/responses.py).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from beacon.config import TrackSettings
from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.enrich import Enricher
from beacon.domain.entities import BotDetected
from beacon.domain.ingest import current_ids, ingest, request_bot
from beacon.domain.ports import ClientLookup, RejectedEventStore, ReplayStore, Stores
from beacon.domain.rejections import RejectedEvent, truncated_payload
from beacon.domain.replays import store_replay_chunk
from beacon.domain.useragent import warm_up
from beacon.errors import BeaconError, DependencyUnavailableError, FieldError, InvalidCredentialsError, Rejection
from beacon.gateway.api_docs import DOCS_PAGE_HEADERS, DOCUMENT_HEADERS, docs_page, openapi_text
from beacon.gateway.authorizer_context import is_unauthenticated
from beacon.gateway.body import event_body
from beacon.gateway.body_credentials import authenticate_body, without_body_credentials
from beacon.gateway.request_log import log_request
from beacon.gateway.requests import authorizer_context, event_caller, idempotency_header, request_context
from beacon.gateway.responses import ErrorPolicy, error_response, register_error_handlers
from beacon.gateway.track_bodies import parse_batch, parse_track, read_batch
from beacon.models.requests import MAX_REPLAY_BODY_BYTES, ReplayRequest, truncated_paths
from beacon.models.responses import (
    BatchRejection,
    BatchResponse,
    BatchResult,
    BotInfo,
    BotResponse,
    ErrorResponse,
    HealthcheckResponse,
    TrackResponse,
)
from beacon.observability import logger, metrics
from beacon.snapstart import before_snapshot
from beacon.store.clients import issued_client_lookup
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.factory import rejected_events_store, replay_store, track_stores
from beacon.tracing import tracer

app = APIGatewayRestResolver()
# What the request carried, for its log line: set by the write routes, reset by every invocation.
request_counts: dict[str, int] = {}
settings = TrackSettings.from_env()


@cache
def stores() -> Stores:
    return track_stores(settings)


@cache
def rejected_store() -> RejectedEventStore:
    return rejected_events_store(settings)


@cache
def replays() -> ReplayStore:
    return replay_store(settings)


@cache
def body_clients() -> ClientLookup:
    """With BodyCredentials: the authorizer's client lookup (same records, same id gate, same cache time)."""
    return issued_client_lookup(
        settings.client_secret_prefix, settings.client_cache_seconds, settings.client_id_key_secret
    )


@cache
def enricher() -> Enricher:
    geoip = None
    if settings.geoip_database_path:
        from beacon.store.geoip import MaxMindGeoIpLookup  # maxminddb is imported only where a database is set

        geoip = MaxMindGeoIpLookup(settings.geoip_database_path)
    return Enricher(stack_secret=SecretsManagerStackSecret(settings.device_salt_secret), geoip=geoip)


# With SnapStart the snapshot holds the user-agent parser, the bot rules and the store objects, built once (their
# botocore clients are created at first use, after the restore).
before_snapshot(warm_up, stores, rejected_store, replays, enricher)


# -- responses ----------------------------------------------------------------------------------------------
def json_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response[str]:
    headers = {**(headers or {}), **cors_headers()}
    content = json.dumps(body.model_dump(exclude_none=True))
    return Response(status_code=status, content_type="application/json", body=content, headers=headers)


def cors_headers() -> dict[str, str]:
    """Browsers may read the answer only when the page's origin is one the client allows."""
    origin = authorizer_context(app.current_event.raw_event).get("allowedOrigin")
    return {"Access-Control-Allow-Origin": str(origin), "Vary": "Origin"} if origin else {}


def bot_response(bot: BotDetected) -> Response[str]:
    metrics.add_metric(name="BotsDropped", unit=MetricUnit.Count, value=1)
    return json_response(202, BotResponse(bot=BotInfo(name=bot.name, type=bot.type)))


def batch_response(outcome: BatchOutcome) -> Response[str]:
    if outcome.not_stored:
        not_stored = ErrorResponse(
            error="Some events could not be stored; retry the same batch (stored events are not duplicated)",
            status=503,
            notStored=outcome.not_stored,
        )
        return json_response(503, not_stored, {"Retry-After": str(DependencyUnavailableError.retry_after_seconds)})
    rejected = []
    for index, rejection in outcome.rejected:
        error = error_response(rejection)
        rejected.append(BatchRejection(index=index, error=error.error, status=error.status, details=error.details))
    results = [
        BatchResult(index=index, deviceId=result.device_id, sessionId=result.session_id)
        for index, result in outcome.results
    ]
    return json_response(200, BatchResponse(accepted=len(outcome.results), rejected=rejected, results=results))


# -- rejected events (diagnostics) --------------------------------------------------------------------------------
def keep_rejected(rejected: list[tuple[Rejection, bytes | str, int | None]]) -> None:
    """Keep refused events (their reason and a truncated payload) for the project's team. Best effort: failing to
    keep them must never change the answer."""
    if not rejected or is_unauthenticated(authorizer_context(app.current_event.raw_event)):
        return  # nobody to keep them for: a request that never authenticated
    caller = event_caller(app.current_event.raw_event)
    records = [
        RejectedEvent(
            project_id=caller.project_id,
            client_id=caller.client_id,
            reason=rejection.error,
            status=rejection.status,
            received_at=datetime.now(UTC),
            payload=truncated_payload(payload),
            details=[vars(detail) for detail in rejection.details or []],
            index=index,
        )
        for rejection, payload, index in rejected
    ]
    try:
        rejected_store().put_rejected(records)
    except Exception:  # noqa: BLE001 - diagnostics only
        logger.warning("could not keep rejected events", extra={"count": len(records)})


TRUNCATED_REASON = "Stored with properties cut to the bounds"


def note_truncated(cut: list[tuple[list[str], bytes | str, int | None]]) -> None:
    """Events stored with properties cut to the bounds (models/bounds.py), each as (cut paths, body, batch index):
    counted (EventsTruncated) and kept beside the refused ones with status 200 and the cut paths as details, so a
    team sees what its SDKs send over them. Callers pass only cut events, so only their bodies are encoded."""
    if not cut:
        return
    metrics.add_metric(name="EventsTruncated", unit=MetricUnit.Count, value=len(cut))
    keep_rejected(
        [
            (
                Rejection(
                    error=TRUNCATED_REASON,
                    status=200,
                    details=[
                        FieldError(field=f"payload.properties.{path}", message="cut to the bounds", type="truncated")
                        for path in paths
                    ],
                ),
                payload,
                index,
            )
            for paths, payload, index in cut
        ]
    )


def keep_invalid_body(rejection: Rejection) -> None:
    """An invalid request's body, as decoded (the error path only: a body that cannot be decoded is not kept)."""
    try:
        body = event_body(app.current_event.raw_event, settings.max_batch_bytes)
    except BeaconError:
        return
    keep_rejected([(rejection, without_body_credentials(body), None)])


register_error_handlers(
    app, ErrorPolicy(respond=json_response, refused_metric="EventsRejected", keep=keep_invalid_body)
)


def authenticate_from_body(event: dict[str, Any]) -> None:
    """A POST /track the authorizer let through unauthenticated (no credential header, BodyCredentials on): its
    body's credentials, checked as the authorizer checks headers, become the request's caller."""
    if not settings.body_credentials:
        raise InvalidCredentialsError()  # never without the stack's parameter, whatever the authorizer said
    try:
        authenticate_body(
            event, body_clients(), datetime.now(UTC), settings.max_body_bytes, read_limit=MAX_REPLAY_BODY_BYTES
        )
    except InvalidCredentialsError:
        logger.info("invalid client credentials in the body")
        raise


# -- routes -------------------------------------------------------------------------------------------------
@app.post("/track")
def track() -> Response[str]:
    event = app.current_event.raw_event
    if is_unauthenticated(authorizer_context(event)):
        authenticate_from_body(event)
    request = parse_track(event, settings.max_body_bytes)
    context = request_context(event, datetime.now(UTC), settings.stores_ip)
    if isinstance(request, ReplayRequest):
        filed = store_replay_chunk(request, context, stores().sessions, replays(), enricher())
        metrics.add_metric(name="ReplayChunksAccepted", unit=MetricUnit.Count, value=1)
        request_counts["replayChunks"] = 1
        return json_response(200, TrackResponse(deviceId=filed.device_id, sessionId=filed.session_id))
    result = ingest(request, context, stores(), enricher())
    if isinstance(result, BotDetected):
        return bot_response(result)
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=1)
    request_counts["events"] = 1
    if paths := truncated_paths(request):
        note_truncated([(paths, without_body_credentials(event_body(event, settings.max_body_bytes)), None)])
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id))


@app.post("/track/batch")
def track_batch() -> Response[str]:
    event = app.current_event.raw_event
    batch = parse_batch(event, settings.max_batch_bytes)
    context = request_context(event, datetime.now(UTC), settings.stores_ip, batch)
    bot = request_bot(context)
    if bot is not None:
        return bot_response(bot)
    items = read_batch(batch, context.caller.client_id, idempotency_header(context.meta), settings.max_body_bytes)
    outcome = ingest_batch(items, context, stores(), enricher())
    invalid = [(index, rejection) for index, rejection in outcome.rejected if rejection.status == 400]
    keep_rejected([(rejection, json.dumps(batch.batch[index], default=str), index) for index, rejection in invalid])
    stored = [(index, items.items[index]) for index, _ in outcome.results]
    note_truncated(
        [
            (paths, json.dumps(batch.batch[index], default=str), index)
            for index, item in stored
            if not isinstance(item, Rejection) and (paths := truncated_paths(item))
        ]
    )
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=len(outcome.results))
    if outcome.rejected:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(outcome.rejected))
    request_counts.update(events=len(outcome.results), rejected=len(outcome.rejected))
    return batch_response(outcome)


@app.get("/track/device-id")
def device_id() -> Response[str]:
    context = request_context(app.current_event.raw_event, datetime.now(UTC), settings.stores_ip, keyed=False)
    result = current_ids(context, stores(), enricher())
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id))


@app.get("/healthcheck")
def healthcheck() -> Response[str]:
    """OpenPanel's uptime check. No authorizer runs on this route: nothing here may read the caller or a store."""
    return json_response(200, HealthcheckResponse())


@app.get("/openapi.json")
def openapi_document() -> Response[str]:
    """The API's OpenAPI document. No authorizer runs on this route either: it reads only the layer's file."""
    return Response(200, content_type="application/json", body=openapi_text(), headers=dict(DOCUMENT_HEADERS))


@app.get("/docs")
def docs() -> Response[str]:
    """A small HTML page of the operations, linking to /openapi.json."""
    return Response(200, content_type="text/html; charset=utf-8", body=docs_page(), headers=dict(DOCS_PAGE_HEADERS))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The gateway's request id, set directly: the correlation_id_path form searches the event with JMESPath on
    # every request (bench/cpu.py).
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    started = time.perf_counter()
    request_counts.clear()
    response: dict[str, Any] = app.resolve(event, context)
    log_request(event, response, started, **request_counts)
    return response
