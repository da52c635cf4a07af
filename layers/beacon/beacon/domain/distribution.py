"""Whether a request came through Beacon's own CloudFront distribution (docs/DESIGN.md §35).

With `EnableCloudFront` the distribution adds a header to every request it sends to API Gateway, its value a
secret generated per stack that no client knows (CloudFront overwrites a header of the same name sent by the
viewer). The authorizer refuses a request without it, so the execute-api endpoint cannot be called around the
distribution, and only a request that carries it may have its CloudFront-Viewer-* headers believed.
"""

from __future__ import annotations

import hmac

ORIGIN_VERIFY_HEADER = "x-beacon-origin-verify"


def came_through_distribution(sent: str | None, expected: bytes) -> bool:
    """The header's value is the distribution's secret, compared in constant time; no secret matches nothing."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected)
