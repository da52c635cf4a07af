"""Privacy function: a person's data on request (GDPR articles 15 and 17), for root clients; docs/PRIVACY.md.

- `DELETE /profile/{profileId}` starts an erasure (its scope resolved and saved in the receipt), answers 202 with
  the receipt, and hands (project, erasure id) on to a run of this same function with an asynchronous invoke;
  that run erases the DynamoDB and replay stores from the receipt's checkpoints (beacon/domain/erasure.py).
- `GET /erasures/{erasureId}`: the receipt (progress per store, counts, times).
- `GET /profile/{profileId}/export`: everything stored about the person, a page of events at a time.

Parse → domain → response; errors mapped in one place (beacon/gateway/responses.py). The read function stays
read-only by IAM: removing is this function's alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from beacon.config import PrivacySettings
from beacon.domain import privacy
from beacon.domain.entities import Caller
from beacon.domain.erasure import LAKE, ErasureLog, ErasureReceipt, ScopeResolver, StoreEraser, Suppressor, run_erasure
from beacon.gateway.request_log import log_request
from beacon.gateway.requests import event_caller
from beacon.gateway.responses import ErrorPolicy, register_error_handlers
from beacon.models.privacy import (
    EraseProfileQuery,
    ErasurePath,
    ErasureQuery,
    ErasureResponse,
    ExportMeta,
    ExportProfileQuery,
    ExportResponse,
)
from beacon.models.reads import ExportEvent, ProfilePath
from beacon.observability import logger, metrics
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.factory import privacy_tables
from beacon.tracing import tracer

app = APIGatewayRestResolver()
settings = PrivacySettings.from_env()
HAND_ON_KEY = "beaconErasure"  # the asynchronous invoke's event: {"beaconErasure": {"projectId", "erasureId"}}
# The lake's rewrite needs DuckDB (the operator's CLI); the receipt says so until it is done.
LAKE_STEP = "run ./beacon profiles erase --project {project} --profile-id <the profile id> --yes: it rewrites the "
LAKE_STEP += "lake's Parquet files and completes this erasure"


@cache
def erasure_log() -> ErasureLog:
    from beacon.store.erasure import DynamoDBErasureLog

    return DynamoDBErasureLog(settings.entities_table)


@cache
def scope_resolver() -> ScopeResolver:
    from beacon.store.erasure import DynamoDBScopeResolver

    return DynamoDBScopeResolver(settings.entities_table, settings.events_table)


def erasers() -> list[StoreEraser]:
    from beacon.store.erasure import dynamodb_erasers

    return dynamodb_erasers(privacy_tables(settings))


@cache
def suppressor() -> Suppressor:
    from beacon.store.erasure import ProjectSettingsSuppressor
    from beacon.store.projects import DynamoDBProjectSettingsStore

    return ProjectSettingsSuppressor(DynamoDBProjectSettingsStore(settings.entities_table, cache_seconds=0))


@cache
def export_pages() -> privacy.PersonalDataPages:
    from beacon.store.export import DynamoDBExportPages

    return DynamoDBExportPages(privacy_tables(settings))


@cache
def cursors() -> privacy.ExportCursorCodec:
    return privacy.ExportCursorCodec(SecretsManagerStackSecret(settings.cursor_secret))


def hand_on(payload: dict[str, Any]) -> None:
    """The asynchronous invoke of this function (its own name, from the Lambda context: AWS_LAMBDA_FUNCTION_NAME)."""
    from beacon.store.invoke import LambdaAsyncInvoker

    LambdaAsyncInvoker(app.lambda_context.function_name).hand_on(payload)


def json_response(
    status: int, body: BaseModel, headers: dict[str, str] | None = None, exclude_none: bool = False
) -> Response[str]:
    # A person's data and receipts: no shared cache may keep them; no CORS headers (no browser may read them).
    headers = {"Cache-Control": "no-store", **(headers or {})}
    text = body.model_dump_json(exclude_none=exclude_none)
    return Response(status_code=status, content_type="application/json", body=text, headers=headers)


def error_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response[str]:
    return json_response(status, body, headers, exclude_none=True)  # the API's error shape: no null fields


register_error_handlers(
    app,
    ErrorPolicy(
        respond=error_response,
        refused_metric="PrivacyRequestsRejected",
        invalid_message="Invalid request parameters",
        count_not_found=True,
    ),
)


def current_caller() -> Caller:
    return event_caller(app.current_event.raw_event)


def query_parameters() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def erasure_response(receipt: ErasureReceipt) -> ErasureResponse:
    from beacon.domain.erasure import WAITING, receipt_document

    document = receipt_document(receipt)
    pending = [LAKE] if receipt.status == WAITING else []
    return ErasureResponse.model_validate(
        {
            **document,
            "erasureId": receipt.id,
            "statusUrl": f"/erasures/{receipt.id}",
            "pending": pending,
            "next": LAKE_STEP.format(project=receipt.project_id) if LAKE in pending else None,
        }
    )


@app.delete("/profile/<profileId>")
@tracer.capture_method(capture_response=False)  # receipts and exports are about a person: not into X-Ray
def erase_profile(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=unquote(profileId))  # REST APIs hand path parameters on percent-encoded
    query = EraseProfileQuery.model_validate(query_parameters())
    options = privacy.ErasureOptions(linked_devices=query.linkedDevices, suppress=query.suppress)
    started = privacy.request_erasure(
        current_caller(), query.projectId, path.profileId, options, scope_resolver(), erasure_log(), datetime.now(UTC)
    )
    if started.hand_on:
        hand_on({HAND_ON_KEY: {"projectId": started.receipt.project_id, "erasureId": started.receipt.id}})
        metrics.add_metric(name="ErasuresStarted", unit=MetricUnit.Count, value=1)
    return json_response(202, erasure_response(started.receipt))


@app.get("/erasures/<erasureId>")
@tracer.capture_method(capture_response=False)
def erasure(erasureId: str) -> Response[str]:
    path = ErasurePath(erasureId=unquote(erasureId))
    query = ErasureQuery.model_validate(query_parameters())
    receipt = privacy.read_erasure(current_caller(), query.projectId, path.erasureId, erasure_log())
    return json_response(200, erasure_response(receipt))


@app.get("/profile/<profileId>/export", compress=True)
@tracer.capture_method(capture_response=False)
def export_profile(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=unquote(profileId))
    query = ExportProfileQuery.model_validate(query_parameters())
    page = privacy.export_page(
        current_caller(),
        query.projectId,
        path.profileId,
        query.cursor,
        query.limit,
        scope_resolver(),
        export_pages(),
        cursors(),
    )
    head = page.head or {}
    answer = ExportResponse(
        projectId=page.project_id,
        profileId=page.profile_id,
        exportedAt=datetime.now(UTC).isoformat(),
        profiles=head.get("profiles"),
        aliases=head.get("aliases"),
        groups=head.get("groups"),
        sessions=head.get("sessions"),
        events=[ExportEvent.model_validate(event) for event in page.events],
        meta=ExportMeta(count=len(page.events), next=page.next_cursor),
    )
    metrics.add_metric(name="EventsExported", unit=MetricUnit.Count, value=len(page.events))
    return json_response(200, answer)


def run_handed_on(order: dict[str, Any]) -> dict[str, Any]:
    """The asynchronous run: the erasure from its receipt's last checkpoint (a retry by Lambda resumes too)."""
    log = erasure_log()
    receipt = log.load(str(order.get("projectId", "")), str(order.get("erasureId", "")))
    if receipt is None:
        logger.warning("no such erasure to run")
        return {"status": "unknown"}
    deferred = (LAKE,) if settings.has_lake else ()
    done = run_erasure(receipt, erasers(), log, lambda: datetime.now(UTC), suppressor(), deferred)
    # Counts and ids only: the receipt names no person.
    logger.info("erasure run", extra={"erasureId": done.id, "erasureStatus": done.status, "removed": done.counts})
    metrics.add_metric(name="ErasuresRun", unit=MetricUnit.Count, value=1)
    return {"erasureId": done.id, "status": done.status}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event.get(HAND_ON_KEY), dict):
        return run_handed_on(event[HAND_ON_KEY])
    started = time.perf_counter()
    response: dict[str, Any] = app.resolve(event, context)
    log_request(event, response, started)
    return response
