"""One structured log line per request: route, status, latency and (for writes) how many events it carried.

Nothing from the request's content goes in: no header, no body, no address, no credential; the client id is not
logged either (the access logs have it as the principal). The route is API Gateway's resource template
(`/profile/{profileId}`), never the path with its values.
"""

from __future__ import annotations

import time
from typing import Any

from beacon.observability import logger


def log_request(event: dict[str, Any], response: dict[str, Any], started: float, **counts: int) -> None:
    """`started` is the time.perf_counter() at the request's start; counts are e.g. events=, rejected=."""
    logger.info(
        "request",
        extra={
            "route": f"{event.get('httpMethod', '')} {event.get('resource', '')}",
            "status": response.get("statusCode"),
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
            **counts,
        },
    )
