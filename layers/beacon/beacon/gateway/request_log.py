"""One structured log line per request: route, status, latency and (for writes) how many events it carried.

Nothing from the request's content goes in: no header, no body, no address, no credential; the client id is not
logged either (the access logs have it as the principal). The route is API Gateway's resource template
(`/profile/{profileId}`), never the path with its values.

Which line: a request that published metrics already ends with one line, the embedded-metric-format (EMF) JSON
Powertools prints when the handler returns. The request's fields ride on that line as EMF metadata (top-level keys,
searchable in CloudWatch Logs Insights like any JSON log field, never metric dimensions), with `message` "request",
the invocation's `function_request_id` and the gateway's request id as `correlation_id`, as the logger's line has
them. A request that published none (a healthcheck, most refusals), or a function whose metrics are switched off,
gets the logger's line instead. Either way exactly one line; and a tracked event no longer pays for a second line
through the logging machinery (about 40 µs, the largest share of the track function's CPU growth in bench.cpu,
docs/DESIGN.md §51) nor for its CloudWatch bytes.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from beacon.observability import logger, metrics

REQUEST_MESSAGE = "request"


def log_request(event: dict[str, Any], response: dict[str, Any], started: float, **counts: int) -> None:
    """`started` is the time.perf_counter() at the request's start; counts are e.g. events=, rejected=."""
    fields: dict[str, Any] = {
        "route": f"{event.get('httpMethod', '')} {event.get('resource', '')}",
        "status": response.get("statusCode"),
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        **counts,
    }
    if metrics.metric_set and not is_metrics_disabled():
        keys = logger.get_current_keys()  # the logger's own keys for this invocation (no copy)
        metadata = metrics.metadata_set
        metadata["message"] = REQUEST_MESSAGE
        metadata["function_request_id"] = keys.get("function_request_id")
        metadata["correlation_id"] = keys.get("correlation_id")
        metadata.update(fields)
        return
    logger.info(REQUEST_MESSAGE, extra=fields)
