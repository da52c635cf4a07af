"""Track function: POST /track. Parse → domain → response; errors mapped in one place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from beacon.config import TrackSettings
from beacon.domain.enrich import Enricher
from beacon.domain.entities import BotDetected, Caller, ClientType, RequestMeta
from beacon.domain.errors import BeaconError, DependencyUnavailableError, PayloadTooLargeError
from beacon.domain.filters import BlockedByFilterError
from beacon.domain.ingest import Stores, current_ids, ingest
from beacon.models.requests import parse_track_request
from beacon.models.responses import BotInfo, BotResponse, ErrorResponse, FieldErrorDetail, TrackResponse
from beacon.models.validation import validation_error_response
from beacon.observability import logger, metrics, tracer
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.events import DynamoDBEventStore
from beacon.store.geoip import MaxMindGeoIpLookup
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.sessions import DynamoDBSessionStore

app = APIGatewayRestResolver()
settings = TrackSettings.from_env()
MAX_USER_AGENT_LENGTH = 1024


@cache
def stores() -> Stores:
    return Stores(
        events=DynamoDBEventStore(settings.events_table, settings.event_retention_days),
        profiles=DynamoDBProfileStore(settings.entities_table),
        sessions=DynamoDBSessionStore(settings.sessions_table, settings.events_table, settings.event_retention_days),
        projects=DynamoDBProjectSettingsStore(settings.entities_table),
    )


@cache
def enricher() -> Enricher:
    geoip = MaxMindGeoIpLookup(settings.geoip_database_path) if settings.geoip_database_path else None
    return Enricher(stack_secret=SecretsManagerStackSecret(settings.device_salt_secret), geoip=geoip)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    headers = {**(headers or {}), **cors_headers()}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


def cors_headers() -> dict[str, str]:
    """Browsers may read the answer only when the page's origin is one the client allows."""
    authorizer = app.current_event.request_context.authorizer.raw_event or {}
    origin = authorizer.get("allowedOrigin")
    return {"Access-Control-Allow-Origin": str(origin), "Vary": "Origin"} if origin else {}


def current_caller() -> Caller:
    # Only the authorizer's context identifies the caller; request headers are never trusted for it.
    context = app.current_event.request_context.authorizer.raw_event
    return Caller(
        project_id=str(context["projectId"]),
        client_id=str(context["clientId"]),
        client_type=ClientType(str(context["clientType"])),
        secret_auth=str(context.get("secretAuth", "false")).lower() == "true",
        allowed_origin=str(context.get("allowedOrigin") or "") or None,
    )


def request_meta() -> RequestMeta:
    event = app.current_event
    headers = {key.lower(): value for key, value in (event.headers or {}).items()}
    return RequestMeta(
        request_id=event.request_context.request_id,
        source_ip=event.request_context.identity.source_ip or "",
        user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_LENGTH],  # bounds the parse cache
        headers=headers,
    )


def raw_body() -> bytes:
    body = app.current_event.decoded_body or ""
    data = body.encode() if isinstance(body, str) else body
    if len(data) > settings.max_body_bytes:
        raise PayloadTooLargeError(f"Request body exceeds {settings.max_body_bytes} bytes")
    return data


@app.post("/track")
@tracer.capture_method
def track() -> Response[str]:
    request = parse_track_request(raw_body())
    caller = current_caller()
    now = datetime.now(UTC)
    result = ingest(request, caller, request_meta(), stores(), enricher(), now, settings.stores_ip(caller.project_id))
    if isinstance(result, BotDetected):
        metrics.add_metric(name="BotsDropped", unit=MetricUnit.Count, value=1)
        return json_response(202, BotResponse(bot=BotInfo(name=result.name, type=result.type)).model_dump())
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=1)
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id).model_dump())


@app.get("/track/device-id")
def device_id() -> Response[str]:
    result = current_ids(current_caller(), request_meta(), stores().sessions, enricher(), datetime.now(UTC))
    return json_response(200, TrackResponse(deviceId=result.device_id, sessionId=result.session_id).model_dump())


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def handle_validation_error(exc: ValidationError) -> Response[str]:
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    return json_response(400, validation_error_response(exc).model_dump(exclude_none=True))


@app.exception_handler(BeaconError)  # type: ignore[untyped-decorator]
def handle_beacon_error(exc: BeaconError) -> Response[str]:
    headers = None
    if isinstance(exc, DependencyUnavailableError):
        logger.warning("dependency unavailable", extra={"reason": exc.message})
        metrics.add_metric(name="DependencyUnavailable", unit=MetricUnit.Count, value=1)
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif isinstance(exc, BlockedByFilterError):
        metrics.add_metric(name="RequestsFiltered", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    details = None if exc.details is None else [FieldErrorDetail(**detail) for detail in exc.details]
    body = ErrorResponse(error=exc.message, status=exc.status, details=details).model_dump(exclude_none=True)
    return json_response(exc.status, body, headers)


@app.not_found
def handle_not_found(_: Exception) -> Response[str]:
    return json_response(404, ErrorResponse(error="Not found", status=404).model_dump(exclude_none=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
