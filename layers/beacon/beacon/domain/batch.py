"""`POST /track/batch`: every item is validated and stored on its own, so one bad event rejects only itself.

Items are stored in parallel (threads; the stores are thread-safe). Each carries an idempotency key,
the request's Idempotency-Key header or, without one, a hash of the batch body, plus its index, so
retrying the same batch after a partial failure stores each event once.

The threads are one pool per container: starting up to 16 new threads for every batch cost more CPU than
storing its items (bench/cpu.py).
"""

from __future__ import annotations

import json
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import ValidationError

from beacon.domain.enrich import Enricher, SharedEnricher
from beacon.domain.entities import BotDetected, Caller, RequestMeta, TrackResult
from beacon.domain.errors import BeaconError, DependencyUnavailableError
from beacon.domain.ingest import Stores, ingest
from beacon.models.requests import TRACK_REQUEST_ADAPTER
from beacon.models.responses import ErrorResponse, FieldErrorDetail
from beacon.models.validation import validation_error_response

BATCH_WORKERS = 16
Stored = tuple[int, TrackResult | BotDetected | BeaconError]


@dataclass
class BatchOutcome:
    results: list[tuple[int, TrackResult]] = field(default_factory=list)
    rejected: list[tuple[int, ErrorResponse]] = field(default_factory=list)
    not_stored: list[int] = field(default_factory=list)


def ingest_batch(
    items: list[Any],
    caller: Caller,
    meta: RequestMeta,
    stores: Stores,
    enricher: Enricher,
    now: datetime,
    batch_key: str,
    sent_at: str | None = None,
    store_ip: bool = False,
    max_event_bytes: int = 64 * 1024,
) -> BatchOutcome:
    outcome = BatchOutcome()
    valid = []
    for index, item in enumerate(items):
        if len(json.dumps(item, default=str)) > max_event_bytes:  # each event is held to POST /track's limit
            error = ErrorResponse(error=f"Event exceeds {max_event_bytes} bytes", status=413, details=None)
            outcome.rejected.append((index, error))
            continue
        try:
            valid.append((index, TRACK_REQUEST_ADAPTER.validate_python(item)))
        except ValidationError as exc:
            outcome.rejected.append((index, validation_error_response(exc)))

    shared = SharedEnricher(enricher, meta, now)

    def store(entry: tuple[int, Any]) -> Stored:
        index, request = entry
        try:
            key = f"{batch_key}#{index}"
            return index, ingest(request, caller, meta, stores, shared, now, store_ip, key, sent_at)
        except BeaconError as exc:
            return index, exc

    if len(valid) <= 1:
        stored = [store(entry) for entry in valid]
    else:
        futures = [shared_pool().submit(store, entry) for entry in valid]
        wait(futures)  # all of them, even when one failed unexpectedly, as leaving a `with` pool did
        stored = [future.result() for future in futures]
    for index, result in stored:
        if isinstance(result, TrackResult):
            outcome.results.append((index, result))
        elif isinstance(result, DependencyUnavailableError):
            outcome.not_stored.append(index)
        elif isinstance(result, BeaconError):
            details = [FieldErrorDetail(**detail) for detail in result.details] if result.details else None
            error = ErrorResponse(error=result.message, status=result.status, details=details)
            outcome.rejected.append((index, error))
    outcome.rejected.sort(key=lambda pair: pair[0])
    return outcome


@cache
def shared_pool() -> Executor:
    """One pool per container, created at the first batch (never during init), reused while warm."""
    return ThreadPoolExecutor(max_workers=BATCH_WORKERS, thread_name_prefix="beacon-batch")
