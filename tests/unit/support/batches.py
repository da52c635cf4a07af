"""A batch of items in memory as the track function reads one from its body (beacon/gateway/track_bodies.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from beacon.domain.batch import Batch
from beacon.gateway.track_bodies import read_batch
from beacon.models.requests import parse_batch_request


def batch_of(
    items: list[Any], key: str, sent_at: str | None = None, limit: int = 64 * 1024, body: bytes | None = None
) -> Batch:
    """`items` under the batch key `key` ("batch#..."), identified by `body` (the items' JSON unless given)."""
    raw = body if body is not None else json.dumps({"batch": items, "sentAt": sent_at}).encode()
    return replace(read_batch(parse_batch_request(raw), "in-memory-client", None, limit), key=key)
