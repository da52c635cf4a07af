"""Read function: GET /export/events, /profile/{profileId}, /profile/{profileId}/events, /group/{groupId}.

Parse → domain → response; errors mapped in one place. Only read and root clients with their secret get
through (domain/reads.py); pages are gzip-compressed for callers that accept it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from beacon.config import ReadSettings
from beacon.domain import reads
from beacon.domain.entities import Caller
from beacon.domain.errors import BeaconError, DependencyUnavailableError
from beacon.models.authorizer_context import caller_from_context
from beacon.models.reads import EntityQuery, ExportEventsQuery, GroupPath, ProfileEventsQuery, ProfilePath
from beacon.models.responses import ErrorResponse, FieldErrorDetail
from beacon.models.validation import validation_error_response
from beacon.observability import logger, metrics
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.reads import DynamoDBEntityReader, DynamoDBEventReader
from beacon.tracing import tracer

app = APIGatewayRestResolver()
settings = ReadSettings.from_env()


@cache
def readers() -> reads.Readers:
    return reads.Readers(
        events=DynamoDBEventReader(settings.events_table),
        entities=DynamoDBEntityReader(settings.entities_table),
    )


@cache
def cursors() -> reads.CursorCodec:
    return reads.CursorCodec(SecretsManagerStackSecret(settings.cursor_secret))


def json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
    # Private data: no shared cache may keep it. No CORS headers: browsers may not read (no origin-only access).
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(status_code=status, content_type="application/json", body=body, headers=headers)


def current_caller() -> Caller:
    return caller_from_context(app.current_event.request_context.authorizer.raw_event)


def query_parameters() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def path_parameter(value: str) -> str:
    # REST APIs hand path parameters on still percent-encoded (the local gateway does the same).
    return unquote(value)


@app.get("/export/events", compress=True)
@tracer.capture_method(capture_response=False)  # pages and profiles are user data: not into X-Ray
def export_events() -> Response[str]:
    query = ExportEventsQuery.model_validate(query_parameters())
    page = reads.export_events(current_caller(), query, readers(), cursors(), datetime.now(UTC))
    metrics.add_metric(name="EventsRead", unit=MetricUnit.Count, value=page.meta.count)
    return json_response(200, page.model_dump_json())


@app.get("/profile/<profileId>/events", compress=True)
@tracer.capture_method(capture_response=False)
def profile_events(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=path_parameter(profileId))
    query = ProfileEventsQuery.model_validate(query_parameters())
    page = reads.profile_events(current_caller(), path.profileId, query, readers(), cursors(), datetime.now(UTC))
    metrics.add_metric(name="EventsRead", unit=MetricUnit.Count, value=page.meta.count)
    return json_response(200, page.model_dump_json())


@app.get("/profile/<profileId>")
@tracer.capture_method(capture_response=False)
def profile(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=path_parameter(profileId))
    answer = reads.read_profile(
        current_caller(), path.profileId, EntityQuery.model_validate(query_parameters()), readers()
    )
    metrics.add_metric(name="ProfilesRead", unit=MetricUnit.Count, value=1)
    return json_response(200, answer.model_dump_json())


@app.get("/group/<groupId>")
@tracer.capture_method(capture_response=False)
def group(groupId: str) -> Response[str]:
    path = GroupPath(groupId=path_parameter(groupId))
    answer = reads.read_group(current_caller(), path.groupId, EntityQuery.model_validate(query_parameters()), readers())
    metrics.add_metric(name="GroupsRead", unit=MetricUnit.Count, value=1)
    return json_response(200, answer.model_dump_json())


def error_response(status: int, message: str, details: list[FieldErrorDetail] | None = None) -> Response[str]:
    body = ErrorResponse(error=message, status=status, details=details).model_dump_json(exclude_none=True)
    headers = {"Retry-After": str(DependencyUnavailableError.retry_after_seconds)} if status == 503 else None
    return json_response(status, body, headers)


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def handle_validation_error(exc: ValidationError) -> Response[str]:
    metrics.add_metric(name="ReadsRejected", unit=MetricUnit.Count, value=1)
    answer = validation_error_response(exc)
    return error_response(400, "Invalid request parameters", answer.details)


@app.exception_handler(BeaconError)  # type: ignore[untyped-decorator]
def handle_beacon_error(exc: BeaconError) -> Response[str]:
    if isinstance(exc, DependencyUnavailableError):
        logger.warning("dependency unavailable", extra={"reason": exc.message})
        metrics.add_metric(name="DependencyUnavailable", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="ReadsRejected", unit=MetricUnit.Count, value=1)
    details = None if exc.details is None else [FieldErrorDetail(**detail) for detail in exc.details]
    return error_response(exc.status, exc.message, details)


@app.not_found
def handle_not_found(_: Exception) -> Response[str]:
    metrics.add_metric(name="ReadsRejected", unit=MetricUnit.Count, value=1)
    return error_response(404, "Not found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
