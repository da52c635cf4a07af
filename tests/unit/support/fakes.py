"""Hand-written fakes of the interfaces the domain depends on (EventStore, ClientLookup), and test data builders."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from beacon.domain.auth import ClientRecord, hash_secret
from beacon.domain.enrich import Enricher
from beacon.domain.entities import (
    ActiveSession,
    BatchClaim,
    BotDetected,
    ClientType,
    Event,
    GroupUpdate,
    ProfileUpdate,
    TrackResult,
    TrafficSource,
)
from beacon.domain.filters import NO_FILTERS, ProjectFilters
from beacon.domain.ports import Stores
from beacon.domain.rejections import RejectedEvent
from beacon.domain.replays import ReplayChunk, ReplayPage
from beacon.domain.sessions import DUPLICATE_WINDOW, SESSION_TIMEOUT, SessionActivity, SessionRecord
from beacon.errors import ConflictError, DependencyUnavailableError, DuplicateEventError, InvalidRequestError

IDEMPOTENCY_WINDOW = timedelta(days=7)  # as beacon/store/idempotency.py keeps claims


# The idempotency table holds both kinds of claim: a key's answer, and a batch's claim.
IdempotencyRecord = TrackResult | BatchClaim


class FakeEventStore:
    """An EventStore that keeps what it is given, and the idempotency keys it claimed (with their answers); it is
    the fake IdempotencyStore too."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.claims: dict[tuple[str, str], IdempotencyRecord] = {}
        self._writes = threading.Lock()  # a batch writes its groups of events on several threads

    def put_event(self, event: Event) -> None:
        self.events.append(event)

    def put_events(self, events: list[Event]) -> list[Event]:
        """Unconditional, as BatchWriteItem: an event written again replaces the one with its key."""
        keys = {(event.id, event.created_at) for event in events}
        with self._writes:
            self.events[:] = [event for event in self.events if (event.id, event.created_at) not in keys]
            self.events.extend(events)
        return []

    def missing_events(self, events: list[Event]) -> list[Event]:
        stored = {(event.id, event.created_at) for event in self.events}
        return [event for event in events if (event.id, event.created_at) not in stored]

    def claim(self, event: Event, idempotency_key: str | None) -> None:
        if idempotency_key is None:
            return
        if (event.project_id, idempotency_key) in self.claims:
            raise DuplicateEventError()
        self.claims[(event.project_id, idempotency_key)] = TrackResult(event.device_id, event.session_id)

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        self.claim(event, idempotency_key)
        self.put_event(event)

    def previous_answer(self, project_id: str, key: str) -> TrackResult | None:
        answer = self.claims.get((project_id, key))
        return answer if isinstance(answer, TrackResult) else None

    def _held(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
        claim = self.claims.get((project_id, key))
        if not isinstance(claim, BatchClaim) or claim.received_at + IDEMPOTENCY_WINDOW < now:
            return None
        return claim

    def batch_claim(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
        return self._held(project_id, key, now)

    def claim_batch(self, project_id: str, key: str, claim: BatchClaim) -> BatchClaim:
        """The conditional write: a claim already held (and not expired) wins."""
        held = self._held(project_id, key, claim.received_at)
        if held is not None:
            return held
        self.claims[(project_id, key)] = claim
        return claim


class UnavailableEventStore:
    """An EventStore whose database is throttling: every write fails with the domain's 503 error."""

    def put_event(self, event: Event) -> None:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        self.put_event(event)

    def put_events(self, events: list[Event]) -> list[Event]:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    def missing_events(self, events: list[Event]) -> list[Event]:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    def previous_answer(self, project_id: str, key: str) -> TrackResult | None:
        return None


class FakeClientLookup:
    """A ClientLookup over a fixed set of records; remembers which ids were looked up."""

    def __init__(self, *records: ClientRecord) -> None:
        self.records = {record.client_id: record for record in records}
        self.lookups: list[str] = []

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        self.lookups.append(client_id)
        return self.records.get(client_id)


class UnavailableClientLookup:
    """A ClientLookup whose Secrets Manager cannot be reached."""

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        raise DependencyUnavailableError("Secrets Manager is unavailable (ThrottlingException); retry later")


def client_record(client_id: str, secret: str, project_id: str = "project-a") -> ClientRecord:
    """A stored client whose secret is known to the test."""
    salt = secrets.token_hex(16)
    return ClientRecord(
        client_id=client_id,
        project_id=project_id,
        client_type=ClientType.WRITE,
        secret_salt=salt,
        secret_hash=hash_secret(secret, salt),
        created_at="2026-01-01T00:00:00+00:00",
    )


class FakeProfileStore:
    """An in-memory ProfileStore with the DynamoDB store's semantics (aliases, merges, counters, sets)."""

    def __init__(self) -> None:
        self.profiles: dict[tuple[str, str], dict[str, Any]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.claims: dict[tuple[str, str], IdempotencyRecord] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}

    def _profile(self, project_id: str, profile_id: str, now: datetime) -> dict[str, Any]:
        profile = self.profiles.setdefault(
            (project_id, profile_id), {"profileId": profile_id, "createdAt": now, "properties": {}}
        )
        profile["updatedAt"] = now
        return profile

    def resolve_profile_id(self, project_id: str, profile_id: str) -> str:
        return self.aliases.get((project_id, profile_id), profile_id)

    def identify(self, project_id: str, update: ProfileUpdate, now: datetime) -> None:
        profile = self._profile(project_id, update.profile_id, now)
        for name in ("first_name", "last_name", "email", "avatar"):
            if getattr(update, name) is not None:
                profile[name] = getattr(update, name)
        profile["properties"].update(update.properties)

    def add_alias(self, project_id: str, profile_id: str, alias: str, now: datetime) -> None:
        current = self.aliases.get((project_id, alias))
        if current is not None and current != profile_id:
            raise ConflictError(f"'{alias}' is already an alias of another profile")
        if self.profiles.get((project_id, alias), {}).get("aliases"):
            raise ConflictError(f"'{alias}' has aliases of its own and cannot become an alias")
        self.aliases[(project_id, alias)] = profile_id
        self._profile(project_id, profile_id, now).setdefault("aliases", set()).add(alias)

    def add_to_property(
        self,
        project_id: str,
        profile_id: str,
        path: list[str],
        delta: Decimal,
        now: datetime,
        idempotency_key: str | None = None,
        answer: TrackResult | None = None,
    ) -> None:
        claim = None if idempotency_key is None or answer is None else (project_id, idempotency_key)
        if claim is not None and claim in self.claims:
            raise DuplicateEventError()
        container = self._profile(project_id, profile_id, now)["properties"]
        for part in path[:-1]:
            container = container.setdefault(part, {})
            if not isinstance(container, dict):
                raise InvalidRequestError(f"Property path '{'.'.join(path)}' crosses a value that is not an object")
        current = container.get(path[-1], 0)
        if isinstance(current, bool) or not isinstance(current, (int, float, Decimal)):
            raise InvalidRequestError(f"Property '{'.'.join(path)}' is not a number")
        container[path[-1]] = Decimal(str(current)) + delta
        if claim is not None and answer is not None:  # claimed only with the addition, as in the transaction
            self.claims[claim] = answer

    def upsert_group(self, project_id: str, group: GroupUpdate, now: datetime) -> None:
        stored = self.groups.setdefault((project_id, group.group_id), {"createdAt": now, "properties": {}})
        stored.update({"type": group.type, "name": group.name, "updatedAt": now})
        stored["properties"].update(group.properties)

    def add_groups(self, project_id: str, profile_id: str, group_ids: list[str], now: datetime) -> None:
        self._profile(project_id, profile_id, now).setdefault("groups", set()).update(group_ids)


class FakeSessionStore:
    """An in-memory SessionStore: a new session stores its events in the same step, like the transaction."""

    def __init__(self, events: FakeEventStore) -> None:
        self.events = events
        self.timeout = SESSION_TIMEOUT
        self.sessions: dict[tuple[str, str], tuple[str, datetime]] = {}
        self.fingerprints: dict[tuple[str, str], str | None] = {}
        self.sources: dict[tuple[str, str], TrafficSource] = {}
        # the record's parts a server-side event inherits: (first event, exit path, exit origin), and the devices
        # whose session carried a profile (the byLiveProfile index)
        self.openings: dict[tuple[str, str], tuple[Event, str, str]] = {}
        self.profile_devices: dict[tuple[str, str], set[str]] = {}
        self.records: list[SessionRecord] = []

    def _record_activity(self, project_id: str, device_id: str, activity: SessionActivity | None) -> None:
        if activity is None:
            return
        key = (project_id, device_id)
        if activity.path and key in self.openings:
            first, _, _ = self.openings[key]
            self.openings[key] = (first, activity.path, activity.origin)
        if activity.profile_id is not None:
            self.profile_devices.setdefault((project_id, activity.profile_id), set()).add(device_id)

    def _active(self, key: tuple[str, str], now: datetime) -> str | None:
        session = self.sessions.get(key)
        return session[0] if session is not None and session[1] >= now - SESSION_TIMEOUT else None

    def continue_session(
        self,
        project_id: str,
        device_id: str,
        now: datetime,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> ActiveSession | None:
        key = (project_id, device_id)
        session_id = self._active(key, now)
        if session_id is None:
            return None
        last_seen = self.sessions[key][1]
        if (
            fingerprint is not None
            and self.fingerprints.get(key) == fingerprint
            and last_seen >= now - DUPLICATE_WINDOW
        ):
            raise DuplicateEventError(session_id=session_id)
        self.sessions[key] = (session_id, now)
        self.fingerprints[key] = fingerprint
        self._record_activity(project_id, device_id, activity)
        return ActiveSession(session_id, self.sources.get(key, TrafficSource()))

    def start_session(
        self,
        project_id: str,
        device_id: str,
        session_id: str,
        now: datetime,
        events: list[Event],
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> bool:
        self.events.claim(events[-1], idempotency_key)
        if self._active((project_id, device_id), now) is not None:
            if idempotency_key is not None:  # the transaction is cancelled: nothing of it stays
                del self.events.claims[(project_id, idempotency_key)]
            return False
        self.sessions[(project_id, device_id)] = (session_id, now)
        self.fingerprints[(project_id, device_id)] = fingerprint
        self.sources[(project_id, device_id)] = events[-1].source
        self.openings[(project_id, device_id)] = (events[-1], events[-1].path, events[-1].origin)
        self._record_activity(project_id, device_id, activity)
        if events[-1].profile_id is not None:
            self.profile_devices.setdefault((project_id, events[-1].profile_id), set()).add(device_id)
        self.events.events.extend(events)
        return True

    def profile_session(self, project_id: str, profile_id: str, now: datetime) -> SessionRecord | None:
        live = []
        for device_id in self.profile_devices.get((project_id, profile_id), set()):
            session_id = self._active((project_id, device_id), now)
            if session_id is None:
                continue
            first, exit_path, exit_origin = self.openings[(project_id, device_id)]
            last_seen = self.sessions[(project_id, device_id)][1]
            live.append(
                SessionRecord(
                    project_id=project_id,
                    device_id=device_id,
                    session_id=session_id,
                    client_id=first.client_id,
                    started_at=first.received_at,
                    last_seen_at=last_seen,
                    first_event_at=first.created_at,
                    last_event_at=last_seen,
                    entry_path=first.path,
                    entry_origin=first.origin,
                    exit_path=exit_path,
                    exit_origin=exit_origin,
                    source=self.sources.get((project_id, device_id), TrafficSource()),
                    profile_id=profile_id,
                    device=dict(first.device),
                    geo=dict(first.geo),
                )
            )
        return max(live, key=lambda record: record.last_seen_at, default=None)

    def put_records(self, records: list[SessionRecord]) -> None:
        ended = {record.session_id for record in records}
        self.records = [record for record in self.records if record.session_id not in ended] + list(records)

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        return self._active((project_id, device_id), now)

    def forget_fingerprint(self, project_id: str, device_id: str, fingerprint: str) -> None:
        if self.fingerprints.get((project_id, device_id)) == fingerprint:
            self.fingerprints[(project_id, device_id)] = None


class UnavailableSessionStore:
    """A SessionStore whose table is throttling."""

    def _fail(self, *args: object) -> Any:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")

    timeout = SESSION_TIMEOUT
    continue_session = start_session = active_session = forget_fingerprint = profile_session = put_records = _fail


class FakeProjectSettingsStore:
    """Project filters held in memory (none unless a test sets them)."""

    def __init__(self) -> None:
        self.filters: dict[str, ProjectFilters] = {}

    def get_filters(self, project_id: str) -> ProjectFilters:
        return self.filters.get(project_id, NO_FILTERS)


class FakeRejectedEventStore:
    def __init__(self) -> None:
        self.rejected: list[RejectedEvent] = []

    def put_rejected(self, rejected: list[RejectedEvent]) -> None:
        self.rejected.extend(rejected)


UNIT_TEST_ENRICHER = Enricher(stack_secret=lambda: b"unit-test-stack-secret")


def fake_stores(events: FakeEventStore | None = None, profiles: FakeProfileStore | None = None) -> Stores:
    events = events or FakeEventStore()
    profiles = profiles or FakeProfileStore()
    profiles.claims = events.claims  # one idempotency table
    return Stores(
        events=events,
        profiles=profiles,
        sessions=FakeSessionStore(events),
        projects=FakeProjectSettingsStore(),
        idempotency=events,
    )


def tracked(store: FakeEventStore) -> list[Event]:
    """The events a client sent, without the session_start events Beacon adds."""
    return [event for event in store.events if event.name != "session_start"]


def accepted(result: TrackResult | BotDetected) -> TrackResult:
    """The result of a request that was not dropped as a bot."""
    assert isinstance(result, TrackResult)
    return result


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeReplayStore:
    """An in-memory ReplayStore and ReplayReader: chunks by (project, session), ordered by position."""

    def __init__(self) -> None:
        self.chunks: dict[tuple[str, str], dict[str, ReplayChunk]] = {}

    def put_chunk(self, chunk: ReplayChunk) -> None:
        self.chunks.setdefault((chunk.project_id, chunk.session_id), {})[chunk.position] = chunk

    def session_chunks(
        self, project_id: str, session_id: str, after: str | None, max_chunks: int, max_bytes: int
    ) -> ReplayPage:
        stored = self.chunks.get((project_id, session_id), {})
        ordered = [stored[position] for position in sorted(stored) if after is None or position > after]
        page: list[ReplayChunk] = []
        size = 0
        for chunk in ordered[:max_chunks]:
            size += len(json.dumps(chunk.payload, ensure_ascii=False).encode())
            if page and size > max_bytes:
                break
            page.append(chunk)
        more = len(page) < len(ordered)
        return ReplayPage(page, page[-1].position if more else None)
