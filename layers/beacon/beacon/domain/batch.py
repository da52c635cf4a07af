"""`POST /track/batch`: every item is validated and checked on its own, so one bad event rejects only itself.

Two paths, one answer per index:

* The fast path takes plain track events (no `__id` of their own), nearly all of a batch. Every check runs
  first, with no write (a refused item is rejected alone); `__identify` profile writes follow (idempotent).
  Then one consistent read of the batch's claim (`<project>#batch#<key>#claim`, the key being the
  Idempotency-Key header or a hash of client and body). Without a claim: the session is continued, or started with its
  `session_start`, once per distinct device; the claim is written (a conditional Put: a concurrent copy of
  the batch that loses the race adopts the winner's claim); then the events are written without conditions,
  in groups of FAST_WRITE_GROUP, groups in parallel. Their ids derive from the claim (its nonce and the
  item's index) and their times from its receipt time, so a retry rebuilds the very same keys: it writes only
  the events missing from the events table, and answers every index as the claim does. An event the store
  could not take is answered `notStored` (503) and the retry writes it. About 1 write unit per event, plus 1
  per device and 1 for the claim, instead of 5 (DATA_MODEL.md).
* Every other item (identify, increment, alias, group…, and track events carrying their own `__id`) is
  ingested as a single POST /track would be, under the idempotency key `req#batch#<key>#<index>`, on the
  container's shared pool of threads. So is a fast-path item that a retry finds missing from the claim (it
  was refused or not stored before the claim was written).

A claim whose digest of the batch differs (the same Idempotency-Key on other bytes) is answered from, never
rewritten: what the first batch stored is never overwritten.

The threads are one pool per container: starting up to 16 new threads for every batch cost more CPU than
storing its items (bench/cpu.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from pydantic import ValidationError

from beacon.domain.enrich import Enricher, SharedEnricher
from beacon.domain.entities import BotDetected, Caller, ClientType, Event, RequestMeta, TrackResult
from beacon.domain.errors import BeaconError, DependencyUnavailableError
from beacon.domain.event_time import resolve_event_time
from beacon.domain.ids import DeviceIds
from beacon.domain.ingest import (
    BatchClaim,
    CheckedTrack,
    Ingestion,
    Stores,
    check_track_event,
    enrichment_items,
    identify_profile,
    ingest,
    request_bot,
)
from beacon.domain.sessions import SessionAssignment, session_for_batch
from beacon.models.requests import TRACK_REQUEST_ADAPTER, TrackEventRequest
from beacon.models.responses import ErrorResponse, FieldErrorDetail
from beacon.models.validation import validation_error_response

BATCH_WORKERS = 16
FAST_WRITE_GROUP = 25  # events per write request (DynamoDB's BatchWriteItem takes 25)
Stored = tuple[int, TrackResult | BotDetected | BeaconError]
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BatchOutcome:
    results: list[tuple[int, TrackResult]] = field(default_factory=list)
    rejected: list[tuple[int, ErrorResponse]] = field(default_factory=list)
    not_stored: list[int] = field(default_factory=list)

    def refuse(self, index: int, error: BeaconError) -> None:
        if isinstance(error, DependencyUnavailableError):
            self.not_stored.append(index)
            return
        details = [FieldErrorDetail(**detail) for detail in error.details] if error.details else None
        self.rejected.append((index, ErrorResponse(error=error.message, status=error.status, details=details)))


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
    body: bytes | None = None,
) -> BatchOutcome:
    """`body`, the request's bytes when known, identifies the batch's content for its claim, and when it is within
    one event's limit no item needs measuring (re-encoding every item cost ~8 µs per event, bench/cpu.py)."""
    outcome = BatchOutcome()
    valid = []
    digest = hashlib.blake2b(repr(sent_at).encode(), digest_size=8)
    if body is not None:
        digest.update(body)
    measure = body is None or len(body) > max_event_bytes
    for index, item in enumerate(items):
        if measure:
            dumped = json.dumps(item, default=str)
            if body is None:
                digest.update(b"\x1e" + dumped.encode("utf-8", "surrogatepass"))
            if len(dumped) > max_event_bytes:  # each event is held to POST /track's limit
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

    # Read clients and likely bots take the single-event path, which refuses or drops each item as POST /track.
    fast_path = caller.client_type is not ClientType.READ and request_bot(caller, meta) is None
    fast = [(i, r) for i, r in valid if fast_path and isinstance(r, TrackEventRequest) and not r.payload.properties.id]
    fast_indexes = {index for index, _ in fast}
    single = [entry for entry in valid if entry[0] not in fast_indexes]

    if fast:
        # First, so that the other items (an identify answers the device's current session) see the sessions the
        # fast path continued or started: the same answers on every attempt.
        batch = FastBatch(caller, meta, stores, shared, now, batch_key, sent_at, store_ip, digest.hexdigest())
        single += batch.store(fast, outcome)
    if len(single) <= 1:
        stored = [store(entry) for entry in single]
    else:
        pending = [shared_pool().submit(store, entry) for entry in single]
        wait(pending)  # all of them, even when one failed unexpectedly, as leaving a `with` pool did
        stored = [future.result() for future in pending]
    for index, result in stored:
        if isinstance(result, TrackResult):
            outcome.results.append((index, result))
        elif isinstance(result, BeaconError):
            outcome.refuse(index, result)
    outcome.results.sort(key=lambda pair: pair[0])
    outcome.rejected.sort(key=lambda pair: pair[0])
    outcome.not_stored.sort()
    return outcome


@dataclass
class FastItem:
    index: int
    checked: CheckedTrack
    enriched: tuple[dict[str, str], dict[str, Any]]  # shared by the items of one enrichment
    _time: tuple[datetime, datetime, bool] | None = None  # (receipt time, event time, from past)

    @property
    def ids(self) -> DeviceIds:
        return self.checked.context.enrichment.ids

    def event_time(self, claim: BatchClaim, sent_at: str | None) -> tuple[datetime, bool]:
        if self._time is None or self._time[0] != claim.received_at:
            raw = self.checked.request.payload.properties.timestamp
            self._time = (claim.received_at, *resolve_event_time(raw, claim.received_at, sent_at))
        return self._time[1], self._time[2]

    def event(self, claim: BatchClaim, sent_at: str | None, answer: TrackResult) -> Event:
        """The item's event as the claim fixes it: the same id, time and key on every attempt."""
        event_time, from_past = self.event_time(claim, sent_at)
        event_id = batch_event_id(event_time, claim.nonce, self.index)
        return self.checked.build_event(
            event_id, event_time, from_past, claim.received_at, answer.device_id, answer.session_id, self.enriched
        )


@dataclass
class FastBatch:
    """One batch's fast path (module docstring)."""

    caller: Caller
    meta: RequestMeta
    stores: Stores
    enricher: SharedEnricher
    now: datetime
    batch_key: str
    sent_at: str | None
    store_ip: bool
    digest: str
    nonce: str = field(default_factory=lambda: os.urandom(8).hex())  # of the claim this attempt would write

    @property
    def project_id(self) -> str:
        return self.caller.project_id

    def store(self, entries: list[tuple[int, TrackEventRequest]], outcome: BatchOutcome) -> list[tuple[int, Any]]:
        """Store the entries' events, answering each in `outcome`; the entries left to the single-event path."""
        items = self.check(entries, outcome)
        if not items:
            return []
        claim_key = f"{self.batch_key}#claim"
        try:
            claim = self.stores.idempotency.batch_claim(self.project_id, claim_key, self.now)
        except DependencyUnavailableError:
            outcome.not_stored += [item.index for item in items]
            return []
        items = self.identify(items, outcome)
        if claim is None:
            try:
                claim, items = self.claim(claim_key, items, outcome)
            except DependencyUnavailableError:
                outcome.not_stored += [item.index for item in items]
                return []
        claimed = [item for item in items if item.index in claim.answers]
        leftover = [(item.index, item.checked.request) for item in items if item.index not in claim.answers]
        fresh = claim.nonce == self.nonce
        if not fresh and claim.digest != self.digest:  # other bytes under the same key: answer, never overwrite
            outcome.results += [(item.index, claim.answers[item.index]) for item in claimed]
            return leftover
        events = [item.event(claim, self.sent_at, claim.answers[item.index]) for item in claimed]
        try:
            to_write = events if fresh else self.stores.events.missing_events(events)
        except DependencyUnavailableError:
            outcome.not_stored += [item.index for item in claimed]
            return leftover
        failed = {event.id for event in self.write(to_write)}
        for item, event in zip(claimed, events, strict=True):
            if event.id in failed:
                outcome.not_stored.append(item.index)
            else:
                outcome.results.append((item.index, claim.answers[item.index]))
        return leftover

    def check(self, entries: list[tuple[int, TrackEventRequest]], outcome: BatchOutcome) -> list[FastItem]:
        """Every check of every entry, before any write; each refusal is its own item's."""
        try:
            filters = self.stores.projects.get_filters(self.project_id)
        except DependencyUnavailableError:
            outcome.not_stored += [index for index, _ in entries]
            return []
        resolved: dict[str, str] = {}  # each distinct profile id is read once per batch
        enriched: dict[int, tuple[dict[str, str], dict[str, Any]]] = {}  # by enrichment (shared per overrides)
        items = []
        for index, request in entries:
            try:
                reserved = request.payload.properties
                ip = str(reserved.ip) if reserved.ip is not None and self.caller.secret_auth else None  # no forgeries
                enrichment = self.enricher.enrich(
                    self.project_id, self.meta, self.now, ip, reserved.device_overrides, reserved.deviceId
                )
                filters.check_ip(enrichment.ip.address)
                context = Ingestion(
                    self.caller, enrichment, self.now, self.stores, self.store_ip, filters, None, self.sent_at, resolved
                )
                checked = check_track_event(request, context)
                if id(enrichment) not in enriched:
                    enriched[id(enrichment)] = enrichment_items(enrichment)
                items.append(FastItem(index, checked, enriched[id(enrichment)]))
            except BeaconError as exc:
                outcome.refuse(index, exc)
        return items

    def identify(self, items: list[FastItem], outcome: BatchOutcome) -> list[FastItem]:
        """`__identify` updates the profile before the event is stored (idempotent, so repeated by a retry);
        items that carry the same identify write it once. The items still to store."""
        done: dict[tuple[str, int], BeaconError | None] = {}
        kept = []
        for item in items:
            identify = item.checked.identify
            if identify is not None:
                # the items of one enrichment share its object (SharedEnricher), as in check()
                key = (identify.model_dump_json(), id(item.checked.context.enrichment))
                if key not in done:
                    try:
                        identify_profile(identify, item.checked.context)
                        done[key] = None
                    except BeaconError as exc:
                        done[key] = exc
                error = done[key]
                if error is not None:
                    outcome.refuse(item.index, error)
                    continue
            kept.append(item)
        return kept

    def claim(self, claim_key: str, items: list[FastItem], outcome: BatchOutcome) -> tuple[BatchClaim, list[FastItem]]:
        """The session of each distinct device, then the claim of the batch holding every item's answer: ours,
        or the one a concurrent copy of this batch wrote first. The items still to store with it."""
        devices: dict[DeviceIds, list[FastItem]] = {}
        for item in items:
            devices.setdefault(item.ids, []).append(item)
        draft = BatchClaim(self.now, self.nonce, self.digest, {})

        def take_session(ids: DeviceIds) -> SessionAssignment | BeaconError:
            first = min(devices[ids], key=lambda item: item.event_time(draft, self.sent_at)[0])

            def build_first(device_id: str, session_id: str) -> Event:
                return first.event(draft, self.sent_at, TrackResult(device_id, session_id))

            try:
                return session_for_batch(self.stores.sessions, self.project_id, ids, self.now, build_first)
            except BeaconError as exc:
                return exc

        answers: dict[int, TrackResult] = {}
        kept = []
        for ids, assignment in zip(devices, run_all(take_session, list(devices)), strict=True):
            for item in devices[ids]:
                if isinstance(assignment, BeaconError):
                    outcome.refuse(item.index, assignment)
                else:
                    answers[item.index] = TrackResult(assignment.device_id, assignment.session_id)
                    kept.append(item)
        if not answers:  # no session could be taken: nothing to claim
            return draft, []
        mine = BatchClaim(self.now, self.nonce, self.digest, answers)
        return self.stores.idempotency.claim_batch(self.project_id, claim_key, mine), kept

    def write(self, events: list[Event]) -> list[Event]:
        """Write the events in groups (in parallel on the shared pool); those not stored."""
        groups = [events[start : start + FAST_WRITE_GROUP] for start in range(0, len(events), FAST_WRITE_GROUP)]

        def put(group: list[Event]) -> list[Event]:
            try:
                return self.stores.events.put_events(group)
            except DependencyUnavailableError:
                return group

        return [event for failed in run_all(put, groups) for event in failed]


def batch_event_id(event_time: datetime, nonce: str, index: int) -> str:
    """An event id as new_event_id makes them (12 hex digits of epoch ms, then 16 of 64 unpredictable bits), the
    bits derived from the batch claim's random nonce and the item's index: the same id on every attempt."""
    millis = int(event_time.timestamp() * 1000)
    return f"{millis:012x}{hashlib.blake2b(f'{nonce}#{index}'.encode(), digest_size=8).hexdigest()}"


def run_all(function: Callable[[T], R], inputs: Sequence[T]) -> list[R]:
    """`function` over `inputs`, in order; on the shared pool when there is more than one."""
    if len(inputs) <= 1:
        return [function(value) for value in inputs]
    futures: list[Future[R]] = [shared_pool().submit(function, value) for value in inputs]
    wait(futures)
    return [future.result() for future in futures]


@cache
def shared_pool() -> Executor:
    """One pool per container, created at the first batch (never during init), reused while warm."""
    return ThreadPoolExecutor(max_workers=BATCH_WORKERS, thread_name_prefix="beacon-batch")
