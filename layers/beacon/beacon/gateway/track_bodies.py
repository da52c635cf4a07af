"""The track function's bodies: Powertools' parser through the Beacon envelope, and a batch read item by item."""

from __future__ import annotations

import json
from typing import Any, cast

from aws_lambda_powertools.utilities.parser import parse
from pydantic import ValidationError

from beacon.domain.batch import Batch, batch_digest, batch_key
from beacon.errors import PayloadTooLargeError, Rejection
from beacon.gateway.body import envelope, event_body
from beacon.gateway.validation import validation_rejection
from beacon.models.requests import (
    MAX_REPLAY_BODY_BYTES,
    TRACK_REQUEST_ADAPTER,
    TRACK_ROUTE_ADAPTER,
    BatchRequest,
    ReplayRequest,
    TrackRequest,
    TrackRouteRequest,
)
from beacon.text import well_formed_json


def parse_track(event: dict[str, Any], limit: int, replay_limit: int = MAX_REPLAY_BODY_BYTES) -> TrackRouteRequest:
    """`POST /track`'s body, decoded and validated in one pass (pydantic.ValidationError when invalid). A body over
    `limit` bytes is accepted only as a replay chunk (up to `replay_limit`): any other is 413, as before."""
    body = event_body(event, replay_limit, stated_limit=limit)  # a body over both: 413 naming /track's limit
    if len(body) <= limit:
        return TRACK_ROUTE_ADAPTER.validate_json(well_formed_json(body))
    try:
        return ReplayRequest.model_validate_json(well_formed_json(body))
    except ValidationError as exc:
        if any(error["loc"][:1] != ("payload",) for error in exc.errors()):  # not a replay chunk (or not JSON)
            raise PayloadTooLargeError(f"Request body exceeds {limit} bytes") from exc
        raise


def parse_batch(event: dict[str, Any], limit: int) -> BatchRequest:
    """`POST /track/batch`'s body: its items counted and kept raw, to be read one by one (read_batch)."""
    return cast(BatchRequest, parse(event, model=BatchRequest, envelope=envelope(limit)))


def read_batch(batch: BatchRequest, client_id: str, idempotency_key: str | None, max_event_bytes: int) -> Batch:
    """The batch's items validated one by one (each held to POST /track's size limit), and its identity."""
    body = batch.body
    # Within one event's limit no item needs measuring: re-encoding every item would cost more than validating it.
    measure = len(body) > max_event_bytes
    items: list[TrackRequest | Rejection] = []
    for item in batch.batch:
        if measure and len(json.dumps(item, default=str)) > max_event_bytes:
            items.append(Rejection(error=f"Event exceeds {max_event_bytes} bytes", status=413))
            continue
        try:
            items.append(TRACK_REQUEST_ADAPTER.validate_python(item))
        except ValidationError as exc:
            items.append(validation_rejection(exc))
    return Batch(items, batch_key(client_id, idempotency_key, body), batch_digest(body, batch.sentAt))
