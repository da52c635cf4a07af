"""Read function: GET /export/events, /profile/{profileId}, /profile/{profileId}/events, /group/{groupId},
/session/{sessionId}, /session/{sessionId}/replay, /export/sessions, and the insights over the lake:
/insights/overview, /insights/top, /insights/funnel, /insights/retention; /insights/live from the sessions table;
and the dashboard's static files under /dashboard/ (beacon/gateway/dashboard.py).

Parse → domain → response; errors mapped in one place. Only read and root clients with their secret get
through (domain/reads.py); pages are gzip-compressed for callers that accept it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from beacon.config import ReadSettings
from beacon.domain import insights, reads, replays
from beacon.domain.entities import Caller
from beacon.domain.ports import Readers, ReplayReader
from beacon.errors import NotFoundError
from beacon.gateway.dashboard import Dashboard, StaticFile
from beacon.gateway.read_responses import (
    events_page_response,
    group_response,
    profile_response,
    replay_response,
    sessions_page_response,
)
from beacon.gateway.request_log import log_request
from beacon.gateway.requests import event_caller
from beacon.gateway.responses import ErrorPolicy, register_error_handlers
from beacon.models.insights import (
    FunnelQuery,
    FunnelResponse,
    InsightsQuery,
    LiveQuery,
    LiveResponse,
    OverviewQuery,
    OverviewResponse,
    RetentionQuery,
    RetentionResponse,
    TopQuery,
    TopResponse,
)
from beacon.models.reads import (
    EntityQuery,
    ExportEventsQuery,
    ExportSessionsQuery,
    GroupPath,
    ProfileEventsQuery,
    ProfilePath,
    ReplayQuery,
    SessionPath,
    SessionResponse,
)
from beacon.observability import logger, metrics
from beacon.store.device_salt import SecretsManagerStackSecret
from beacon.store.factory import read_stores, replay_store
from beacon.tracing import tracer

app = APIGatewayRestResolver()
# How many events a page carried, for the request's log line: reset by every invocation.
request_counts: dict[str, int] = {}
settings = ReadSettings.from_env()


@cache
def readers() -> Readers:
    return read_stores(settings)


@cache
def replay_reader() -> ReplayReader:
    return replay_store(settings)


@cache
def cursors() -> reads.CursorCodec:
    return reads.CursorCodec(SecretsManagerStackSecret(settings.cursor_secret))


@cache
def lake() -> insights.LakeReader:
    if not settings.has_lake:
        raise NotFoundError("Insights need the stack's lake (deploy with EnableLake=true)")
    from beacon.store.athena import AthenaQueryRunner  # only the insights pay for its import

    return AthenaQueryRunner(settings.lake_workgroup, settings.lake_database)


@cache
def live_visitors() -> insights.LiveVisitors:
    if not settings.sessions_table:
        raise NotFoundError("Live visitors need the stack's sessions table")
    from beacon.store.live import DynamoDBLiveVisitors

    return DynamoDBLiveVisitors(settings.sessions_table)


def insight_request(query: InsightsQuery) -> insights.InsightRequest:
    return insights.InsightRequest(query.projectId, query.start, query.end)


def json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
    # Private data: no shared cache may keep it. No CORS headers: browsers may not read (no origin-only access).
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(status_code=status, content_type="application/json", body=body, headers=headers)


def model_response(status: int, body: BaseModel, headers: dict[str, str] | None = None) -> Response[str]:
    return json_response(status, body.model_dump_json(exclude_none=True), headers)


register_error_handlers(
    app,
    ErrorPolicy(
        respond=model_response,
        refused_metric="ReadsRejected",
        invalid_message="Invalid request parameters",
        count_not_found=True,
    ),
)


def current_caller() -> Caller:
    return event_caller(app.current_event.raw_event)


def query_parameters() -> dict[str, str | list[str]]:
    """The query's parameters, `event` with every value it was given (OpenPanel's repeated `event`)."""
    parameters: dict[str, str | list[str]] = dict(app.current_event.query_string_parameters or {})
    repeated = (app.current_event.multi_value_query_string_parameters or {}).get("event")
    if repeated:
        parameters["event"] = list(repeated)
    return parameters


def path_parameter(value: str) -> str:
    # REST APIs hand path parameters on still percent-encoded (the local gateway does the same).
    return unquote(value)


@app.get("/export/events", compress=True)
@tracer.capture_method(capture_response=False)  # pages and profiles are user data: not into X-Ray
def export_events() -> Response[str]:
    query = ExportEventsQuery.model_validate(query_parameters())
    page = events_page_response(reads.export_events(current_caller(), query, readers(), cursors(), datetime.now(UTC)))
    metrics.add_metric(name="EventsRead", unit=MetricUnit.Count, value=page.meta.count)
    request_counts["events"] = page.meta.count
    return json_response(200, page.model_dump_json())


@app.get("/profile/<profileId>/events", compress=True)
@tracer.capture_method(capture_response=False)
def profile_events(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=path_parameter(profileId))
    query = ProfileEventsQuery.model_validate(query_parameters())
    read = reads.profile_events(current_caller(), path.profileId, query, readers(), cursors(), datetime.now(UTC))
    page = events_page_response(read)
    metrics.add_metric(name="EventsRead", unit=MetricUnit.Count, value=page.meta.count)
    request_counts["events"] = page.meta.count
    return json_response(200, page.model_dump_json())


@app.get("/profile/<profileId>")
@tracer.capture_method(capture_response=False)
def profile(profileId: str) -> Response[str]:
    path = ProfilePath(profileId=path_parameter(profileId))
    query = EntityQuery.model_validate(query_parameters())
    answer = profile_response(reads.read_profile(current_caller(), path.profileId, query, readers()))
    metrics.add_metric(name="ProfilesRead", unit=MetricUnit.Count, value=1)
    return json_response(200, answer.model_dump_json())


@app.get("/group/<groupId>")
@tracer.capture_method(capture_response=False)
def group(groupId: str) -> Response[str]:
    path = GroupPath(groupId=path_parameter(groupId))
    query = EntityQuery.model_validate(query_parameters())
    answer = group_response(reads.read_group(current_caller(), path.groupId, query, readers()))
    metrics.add_metric(name="GroupsRead", unit=MetricUnit.Count, value=1)
    return json_response(200, answer.model_dump_json())


@app.get("/session/<sessionId>")
@tracer.capture_method(capture_response=False)
def session(sessionId: str) -> Response[str]:
    path = SessionPath(sessionId=path_parameter(sessionId))
    query = EntityQuery.model_validate(query_parameters())
    answer = SessionResponse.model_validate(reads.read_session(current_caller(), path.sessionId, query, readers()))
    metrics.add_metric(name="SessionsRead", unit=MetricUnit.Count, value=1)
    return model_response(200, answer)


@app.get("/export/sessions", compress=True)
@tracer.capture_method(capture_response=False)
def export_sessions() -> Response[str]:
    query = ExportSessionsQuery.model_validate(query_parameters())
    read = reads.export_sessions(current_caller(), query, readers(), cursors(), datetime.now(UTC))
    page = sessions_page_response(read)
    metrics.add_metric(name="SessionsRead", unit=MetricUnit.Count, value=page.meta.count)
    request_counts["sessions"] = page.meta.count
    return json_response(200, page.model_dump_json())


@app.get("/session/<sessionId>/replay", compress=True)
@tracer.capture_method(capture_response=False)
def session_replay(sessionId: str) -> Response[str]:
    path = SessionPath(sessionId=path_parameter(sessionId))
    query = ReplayQuery.model_validate(query_parameters())
    page = replays.session_replay(current_caller(), query.projectId, path.sessionId, query.after, replay_reader())
    answer = replay_response(path.sessionId, current_caller().project_id, page)
    metrics.add_metric(name="ReplayChunksRead", unit=MetricUnit.Count, value=answer.meta.count)
    request_counts["replayChunks"] = answer.meta.count
    return json_response(200, answer.model_dump_json())


@app.get("/insights/overview")
@tracer.capture_method(capture_response=False)
def insights_overview() -> Response[str]:
    query = OverviewQuery.model_validate(query_parameters())
    answer = insights.overview(current_caller(), insight_request(query), query.interval, lake(), datetime.now(UTC))
    return model_response(200, OverviewResponse.model_validate(answer))


@app.get("/insights/top")
@tracer.capture_method(capture_response=False)
def insights_top() -> Response[str]:
    query = TopQuery.model_validate(query_parameters())
    now = datetime.now(UTC)
    answer = insights.top(current_caller(), insight_request(query), query.dimension, query.limit, lake(), now)
    return model_response(200, TopResponse.model_validate(answer))


@app.get("/insights/funnel")
@tracer.capture_method(capture_response=False)
def insights_funnel() -> Response[str]:
    query = FunnelQuery.model_validate(query_parameters())
    now = datetime.now(UTC)
    answer = insights.funnel(current_caller(), insight_request(query), query.steps, query.windowMinutes, lake(), now)
    return model_response(200, FunnelResponse.model_validate(answer))


@app.get("/insights/retention")
@tracer.capture_method(capture_response=False)
def insights_retention() -> Response[str]:
    query = RetentionQuery.model_validate(query_parameters())
    answer = insights.retention(current_caller(), insight_request(query), query.period, lake(), datetime.now(UTC))
    return model_response(200, RetentionResponse.model_validate(answer))


@cache
def dashboard() -> Dashboard:
    return Dashboard.load(Path(__file__).parent / "dashboard")


def static_response(file: StaticFile) -> Response[str]:
    return Response(status_code=200, content_type=file.content_type, body=file.body, headers=file.headers)


@app.get("/dashboard", compress=True)
def dashboard_page() -> Response[str]:
    if not app.current_event.path.endswith("/"):
        # The page's links and API calls are relative to /dashboard/ (under any stage prefix)
        headers = {"Location": "dashboard/", "Cache-Control": "no-cache"}
        return Response(status_code=301, content_type="text/plain", body="", headers=headers)
    return static_response(dashboard().index)


@app.get("/dashboard/<asset>", compress=True)
def dashboard_asset(asset: str) -> Response[str]:
    file = dashboard().asset(path_parameter(asset))
    if file is None:
        raise NotFoundError("No such dashboard file")
    return static_response(file)


@app.get("/insights/live")
@tracer.capture_method(capture_response=False)
def insights_live() -> Response[str]:
    query = LiveQuery.model_validate(query_parameters())
    answer = insights.live(current_caller(), query.projectId, live_visitors(), datetime.now(UTC))
    return model_response(200, LiveResponse.model_validate(answer))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    request_counts.clear()
    response: dict[str, Any] = app.resolve(event, context)
    log_request(event, response, started, **request_counts)
    return response
