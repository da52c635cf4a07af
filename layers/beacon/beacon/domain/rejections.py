"""Events refused for validation are kept (14 days), so a team can see what its SDKs send wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_KEPT_PAYLOAD_BYTES = 4096


@dataclass(frozen=True)
class RejectedEvent:
    project_id: str
    client_id: str
    reason: str
    status: int
    received_at: datetime
    payload: str  # the raw event as sent, truncated to MAX_KEPT_PAYLOAD_BYTES; request headers are never kept
    details: list[dict[str, Any]] = field(default_factory=list)
    index: int | None = None  # position in a batch


def truncated_payload(raw: bytes | str) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return data[:MAX_KEPT_PAYLOAD_BYTES].decode("utf-8", errors="replace")
