"""Lake consumer: the events table's stream → lake rows → Firehose (docs/LAKE.md).

Parse → domain → response. A batch is delivered whole or reported failed from its first record (a partial-batch
response), so Lambda delivers the same batch again; the readers deduplicate by event id what got through twice.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.config import LakeSettings
from beacon.domain.lake import LakeSink, consume_records
from beacon.errors import DependencyUnavailableError
from beacon.observability import logger, metrics
from beacon.store.firehose import FirehoseLakeSink
from beacon.store.streams import batch_key, stream_records
from beacon.tracing import tracer


@cache
def default_sink() -> LakeSink:
    return FirehoseLakeSink(LakeSettings.from_env().delivery_stream)


def process_stream(event: dict[str, Any], sink: LakeSink | None = None) -> dict[str, Any]:
    """One stream batch: every INSERT becomes a row, all rows go to the sink in one write. The answer is Lambda's
    partial-batch response: nothing failed, or the batch failed from its first record on."""
    records = stream_records(event)
    if not records:
        return {"batchItemFailures": []}
    try:
        consumed = consume_records(records, sink or default_sink(), batch_key(event))
    except DependencyUnavailableError as exc:
        logger.warning("lake delivery failed; the batch will be delivered again", extra={"reason": str(exc)})
        metrics.add_metric(name="LakeBatchesRetried", unit=MetricUnit.Count, value=1)
        return {"batchItemFailures": [{"itemIdentifier": records[0].sequence_number}]}
    metrics.add_metric(name="LakeRows", unit=MetricUnit.Count, value=consumed.rows)
    if consumed.malformed:
        logger.error("stream records that are no stored event were skipped", extra={"count": consumed.malformed})
        metrics.add_metric(name="LakeRecordsSkipped", unit=MetricUnit.Count, value=consumed.malformed)
    return {"batchItemFailures": []}


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_stream(event)
