"""`POST /track/batch`: every item is checked and stored on its own, so one bad event rejects only itself.

The items arrive validated one by one (beacon/gateway/requests.py: a Rejection for each invalid one).

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
  per device and 1 for the claim, instead of 5 (store/DATA_MODEL.md).
* In the fast path, server-side items (DESIGN.md §49) take no session: each joins its profile's live browser
  session (read once per distinct profile) or none. Back-dated items (over 15 minutes old) take no live session
  either: they are split into the sessions that happened (`sessions.split_backdated`, ids derived from the claim's
  nonce), written with each session's session_start, session_end and record after the claim, and rebuilt the same
  way by a retry from the claim's answers.
* Every other item (identify, increment, alias, group…, and track events carrying their own `__id`) is
  ingested as a single POST /track would be, under its own idempotency key (domain/keys.py), on the
  container's shared pool of threads. So is a fast-path item that a retry finds missing from the claim (it
  was refused or not stored before the claim was written).

A claim whose digest of the batch differs (the same Idempotency-Key on other bytes) is answered from, never
rewritten: what the first batch stored is never overwritten.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from beacon.domain.concurrency import run_all
from beacon.domain.enrich import Enricher, SharedEnricher
from beacon.domain.entities import (
    NO_SOURCE,
    BatchClaim,
    BotDetected,
    ClientType,
    Event,
    RequestContext,
    TrackResult,
    TrafficSource,
)
from beacon.domain.event_time import resolve_event_time
from beacon.domain.ids import DeviceIds
from beacon.domain.ingest import ingest, request_bot
from beacon.domain.keys import batch_claim_key, batch_item_key
from beacon.domain.ports import Stores
from beacon.domain.profiles import identify_profile
from beacon.domain.sessions import (
    BackdatedEvent,
    DeviceSessions,
    NewSession,
    SessionActivity,
    SessionAssignment,
    SessionRecord,
    backdated_record,
    session_end_event,
    session_start_event,
    split_backdated,
)
from beacon.domain.track import (
    CheckedTrack,
    DeviceAndGeo,
    check_track_event,
    enrichment_items,
    open_track,
    profile_session,
    server_event,
    server_session,
    server_side,
)
from beacon.errors import BeaconError, DependencyUnavailableError, Rejection
from beacon.models.requests import TrackEventRequest, TrackRequest

FAST_WRITE_GROUP = 25  # events per write request (DynamoDB's BatchWriteItem takes 25)
Stored = tuple[int, TrackResult | BotDetected | BeaconError]


def batch_key(client_id: str, idempotency_key: str | None, body: bytes) -> str:
    """What identifies a batch among its client's: its Idempotency-Key, or without one the batch's own bytes, so
    that resending the same batch stores nothing twice. Its claim and items are keyed by it (domain/keys.py)."""
    return idempotency_key or hashlib.sha256(client_id.encode() + body).hexdigest()[:40]


def batch_digest(body: bytes, sent_at: str | None) -> str:
    """What the batch said, as sent: a claim made for other bytes under the same key is answered, never rewritten."""
    digest = hashlib.blake2b(repr(sent_at).encode(), digest_size=8)
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class Batch:
    """A batch as received (beacon/gateway/requests.py reads it): each item validated, or refused on its own."""

    items: list[TrackRequest | Rejection]
    key: str  # batch_key()
    digest: str  # batch_digest()


@dataclass
class BatchOutcome:
    results: list[tuple[int, TrackResult]] = field(default_factory=list)
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    not_stored: list[int] = field(default_factory=list)

    def refuse(self, index: int, error: BeaconError) -> None:
        if isinstance(error, DependencyUnavailableError):
            self.not_stored.append(index)
        else:
            self.rejected.append((index, error.rejection()))


def ingest_batch(batch: Batch, context: RequestContext, stores: Stores, enricher: Enricher) -> BatchOutcome:
    """Every item stored or refused on its own, one answer per index (module docstring)."""
    outcome = BatchOutcome()
    valid: list[tuple[int, TrackRequest]] = []
    for index, item in enumerate(batch.items):
        if isinstance(item, Rejection):
            outcome.rejected.append((index, item))
        else:
            valid.append((index, item))
    shared = SharedEnricher(enricher, context.meta, context.received_at)

    def store(entry: tuple[int, TrackRequest]) -> Stored:
        index, request = entry
        try:
            item_key = batch_item_key(context.caller.client_id, batch.key, index)
            item_context = replace(context, idempotency_key=item_key)
            return index, ingest(request, item_context, stores, shared)
        except BeaconError as exc:
            return index, exc

    # Read clients and likely bots take the single-event path, which refuses or drops each item as POST /track.
    fast_path = context.caller.client_type is not ClientType.READ and request_bot(context) is None
    fast = [(i, r) for i, r in valid if fast_path and isinstance(r, TrackEventRequest) and not r.payload.properties.id]
    fast_indexes = {index for index, _ in fast}
    single = [entry for entry in valid if entry[0] not in fast_indexes]

    if fast:
        # First, so that the other items (an identify answers the device's current session) see the sessions the
        # fast path continued or started: the same answers on every attempt.
        single += FastBatch(context, stores, shared, batch.key, batch.digest).store(fast, outcome)
    for index, result in run_all(store, single):
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
    enriched: DeviceAndGeo  # shared by the items of one enrichment
    _time: tuple[datetime, datetime, bool] | None = None  # (receipt time, event time, from past)

    @property
    def ids(self) -> DeviceIds:
        return self.checked.ingestion.enrichment.ids

    @property
    def server(self) -> bool:
        """A server-side event: it takes no session of its own (DESIGN.md §49)."""
        return server_side(self.checked.ingestion)

    def event_time(self, claim: BatchClaim, sent_at: str | None) -> tuple[datetime, bool]:
        if self._time is None or self._time[0] != claim.received_at:
            raw = self.checked.request.payload.properties.timestamp
            self._time = (claim.received_at, *resolve_event_time(raw, claim.received_at, sent_at))
        return self._time[1], self._time[2]

    def event(
        self, claim: BatchClaim, sent_at: str | None, session: TrackResult | NewSession | SessionAssignment
    ) -> Event:
        """The item's event as the claim fixes it: the same id, time and key on every attempt."""
        event_time, from_past = self.event_time(claim, sent_at)
        event_id = batch_event_id(event_time, claim.nonce, self.index)
        return self.checked.build(event_id, event_time, from_past, claim.received_at, session, self.enriched)


@dataclass(frozen=True)
class BackdatedWrite:
    """One back-dated session of a batch, ready to write: its events by batch index, its markers, its record."""

    events: dict[int, Event]
    markers: list[Event]  # session_start, session_end
    record: SessionRecord


@dataclass
class FastBatch:
    """One batch's fast path (module docstring)."""

    context: RequestContext
    stores: Stores
    enricher: SharedEnricher
    batch_key: str
    digest: str
    nonce: str = field(default_factory=lambda: os.urandom(8).hex())  # of the claim this attempt would write
    # The traffic source of each item's session, by index, as this attempt took the sessions (none on a retry that
    # found its claim: those events were stored by the first attempt, with their sources).
    sources: dict[int, TrafficSource] = field(default_factory=dict)
    # The live session each server-side item joined, by index, as this attempt found it (none on a retry that found
    # its claim, as for `sources`).
    joined: dict[int, SessionRecord] = field(default_factory=dict)

    @property
    def project_id(self) -> str:
        return self.context.project_id

    @property
    def now(self) -> datetime:
        return self.context.received_at

    @property
    def sent_at(self) -> str | None:
        return self.context.sent_at

    def store(self, entries: list[tuple[int, TrackEventRequest]], outcome: BatchOutcome) -> list[tuple[int, Any]]:
        """Store the entries' events, answering each in `outcome`; the entries left to the single-event path."""
        items = self.check(entries, outcome)
        if not items:
            return []
        claim_key = batch_claim_key(self.context.caller.client_id, self.batch_key)
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
        backdated = self.backdated_sessions([item for item in claimed if self.backdated(item, claim)], claim)
        built = {index: event for session in backdated for index, event in session.events.items()}
        events = [built.get(item.index) or self.build(item, claim) for item in claimed]
        markers = [marker for session in backdated for marker in session.markers]
        try:
            to_write = events + markers if fresh else self.stores.events.missing_events(events + markers)
        except DependencyUnavailableError:
            outcome.not_stored += [item.index for item in claimed]
            return leftover
        failed = {event.id for event in self.write(to_write)}
        # A back-dated session is stored whole or its events are answered notStored: the retry rebuilds it
        lost = {i for session in backdated if any(m.id in failed for m in session.markers) for i in session.events}
        if backdated:
            try:
                self.stores.sessions.put_records([session.record for session in backdated])
            except DependencyUnavailableError:
                lost |= {index for session in backdated for index in session.events}
        for item, event in zip(claimed, events, strict=True):
            if event.id in failed or item.index in lost:
                outcome.not_stored.append(item.index)
            else:
                outcome.results.append((item.index, claim.answers[item.index]))
        return leftover

    def backdated(self, item: FastItem, claim: BatchClaim) -> bool:
        """A browser's (or an app's) event over 15 minutes old: sessionized with the batch's others (§49)."""
        return not item.server and item.event_time(claim, self.sent_at)[1]

    def backdated_sessions(self, items: list[FastItem], claim: BatchClaim) -> list[BackdatedWrite]:
        """The back-dated sessions as the claim answers them (the splitter's, on the first attempt and on every
        retry): each one's events in event-time order, inheriting the first one's source, its session_start and
        session_end (ids derived from the session id) and its record, all rebuilt identically by a retry."""
        members: dict[str, list[FastItem]] = {}
        for item in items:
            members.setdefault(claim.answers[item.index].session_id, []).append(item)
        sessions = []
        for session_id, group in members.items():
            group.sort(key=lambda item: (item.event_time(claim, self.sent_at)[0], item.index))
            device_id = claim.answers[group[0].index].device_id
            first = group[0].event(claim, self.sent_at, SessionAssignment(device_id, session_id))
            events = {group[0].index: first}
            for item in group[1:]:
                inherited = SessionAssignment(device_id, session_id, first.source)
                events[item.index] = item.event(claim, self.sent_at, inherited)
            record = backdated_record(list(events.values()), claim.received_at)
            markers = [session_start_event(first, derived=True), session_end_event(record)]
            sessions.append(BackdatedWrite(events, markers, record))
        return sessions

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
                ingestion = open_track(request, self.context, self.stores, self.enricher, filters, resolved)
                enrichment = ingestion.enrichment
                checked = check_track_event(request, ingestion)
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
                key = (identify.model_dump_json(), id(item.checked.ingestion.enrichment))
                if key not in done:
                    try:
                        identify_profile(identify, item.checked.ingestion)
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
        draft = BatchClaim(self.now, self.nonce, self.digest, {})
        devices: dict[DeviceIds, list[FastItem]] = {}
        server = [item for item in items if item.server]
        late = [item for item in items if self.backdated(item, draft)]
        late_indexes = {item.index for item in late}
        for item in items:
            if not item.server and item.index not in late_indexes:
                devices.setdefault(item.ids, []).append(item)

        def take_session(ids: DeviceIds) -> SessionAssignment | BeaconError:
            """The device's session: the active one continued, or a new one started with its session_start (built
            from the device's earliest event in the batch); a lost race joins the winner's session."""
            sessions = DeviceSessions(self.stores.sessions, self.project_id, ids, self.now)
            # the device's events of the batch, counted in its session's record on the same write
            activity = SessionActivity.combine(
                item.checked.activity(item.event_time(draft, self.sent_at)[0]) for item in devices[ids]
            )
            try:
                placed = sessions.place_event(None, activity)
                if not isinstance(placed, NewSession):
                    return placed
                first = min(devices[ids], key=lambda item: item.event_time(draft, self.sent_at)[0])
                start = session_start_event(first.event(draft, self.sent_at, placed))
                return sessions.start_or_join(placed, [start], activity=activity)[0]
            except BeaconError as exc:
                return exc

        answers: dict[int, TrackResult] = {}
        kept = []
        found: dict[str, SessionRecord | None] = {}  # each distinct profile's live session, read once
        for item in server:
            try:
                from_past = item.event_time(draft, self.sent_at)[1]
                profile = item.checked.profile_id
                if from_past or profile is None:
                    joined = None
                else:
                    if profile not in found:
                        found[profile] = profile_session(item.checked, from_past)
                    joined = found[profile]
            except BeaconError as exc:
                outcome.refuse(item.index, exc)
                continue
            session = server_session(item.checked, joined)
            answers[item.index] = TrackResult(session.device_id, session.session_id)
            self.sources[item.index] = session.source
            if joined is not None:
                self.joined[item.index] = joined
            kept.append(item)
        # Back-dated events: the sessions that happened, by their own times; no live session is opened or extended
        timed = [BackdatedEvent(item.index, item.ids.today, item.event_time(draft, self.sent_at)[0]) for item in late]
        for happened in split_backdated(timed, self.stores.sessions.timeout, self.nonce):
            for index in happened.indexes:
                answers[index] = TrackResult(happened.device_id, happened.session_id)
        kept += late
        for ids, assignment in zip(devices, run_all(take_session, list(devices)), strict=True):
            for item in devices[ids]:
                if isinstance(assignment, BeaconError):
                    outcome.refuse(item.index, assignment)
                else:
                    answers[item.index] = TrackResult(assignment.device_id, assignment.session_id)
                    self.sources[item.index] = assignment.source
                    kept.append(item)
        if not answers:  # no session could be taken: nothing to claim
            return draft, []
        mine = BatchClaim(self.now, self.nonce, self.digest, answers)
        return self.stores.idempotency.claim_batch(self.project_id, claim_key, mine), kept

    def build(self, item: FastItem, claim: BatchClaim) -> Event:
        """The item's event as its claim answers it."""
        session = self.session_of(item.index, claim)
        if not item.server:
            return item.event(claim, self.sent_at, session)
        event_time, from_past = item.event_time(claim, self.sent_at)
        event_id = batch_event_id(event_time, claim.nonce, item.index)
        joined = self.joined.get(item.index)
        if joined is not None and joined.session_id != session.session_id:
            joined = None  # a concurrent copy's claim won, and it found another session: its answer holds
        return server_event(
            item.checked, event_id, event_time, from_past, claim.received_at, session, joined, item.enriched
        )

    def session_of(self, index: int, claim: BatchClaim) -> SessionAssignment:
        """The item's session as its claim answers it, with the source its events without one inherit."""
        answer = claim.answers[index]
        return SessionAssignment(answer.device_id, answer.session_id, self.sources.get(index, NO_SOURCE))

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
