"""Session reaper: every minute (EventBridge schedule), session_end for each session idle for the timeout.

Parse → domain → response: the schedule's event carries nothing to parse; the domain (reap_sessions) walks the
due minutes of the sparse idle index, and each end is one conditional transaction (store/DATA_MODEL.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.config import ReaperSettings
from beacon.domain.sessions import ReapOutcome, SessionReaperStore, reap_sessions
from beacon.observability import logger, metrics
from beacon.store.factory import reaper_store
from beacon.tracing import tracer


@cache
def settings() -> ReaperSettings:
    return ReaperSettings.from_env()


@cache
def default_store() -> SessionReaperStore:
    return reaper_store(settings())


def run_reaper(now: datetime | None = None, store: SessionReaperStore | None = None) -> ReapOutcome:
    timeout = timedelta(seconds=settings().session_timeout_seconds)
    outcome = reap_sessions(store or default_store(), now or datetime.now(UTC), timeout)
    metrics.add_metric(name="SessionsEnded", unit=MetricUnit.Count, value=outcome.ended)
    if outcome.extended:
        metrics.add_metric(name="SessionsExtendedBeforeEnd", unit=MetricUnit.Count, value=outcome.extended)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = run_reaper()
    return {"buckets": outcome.buckets, "ended": outcome.ended, "extended": outcome.extended}
