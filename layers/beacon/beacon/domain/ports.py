"""Ports: everything the domain needs from the outside world, in one place.

Each protocol is implemented once in `beacon/store/` (DynamoDB, Secrets Manager, a GeoIP file) and faked in
`tests/unit/support/fakes.py`. The domain depends on these protocols only, never on a store module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from beacon.domain.entities import (
    ActiveSession,
    BatchClaim,
    Event,
    EventNames,
    EventPage,
    GroupUpdate,
    ProfileUpdate,
    TimeWindow,
    TrackResult,
)
from beacon.domain.filters import ProjectFilters

if TYPE_CHECKING:  # the authorizer's path imports this module: keep its runtime imports light
    from beacon.domain.auth import ClientRecord
    from beacon.domain.geo import Geo
    from beacon.domain.rejections import RejectedEvent
    from beacon.domain.replays import ReplayChunk, ReplayPage
    from beacon.domain.sessions import SessionActivity, SessionRecord


# -- the track function's stores --------------------------------------------------------------------------------


class EventStore(Protocol):
    def put_event(self, event: Event) -> None: ...
    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        """Store the event and claim the key in one transaction; DuplicateEventError when the key was used."""
        ...

    def put_events(self, events: list[Event]) -> list[Event]:
        """Store events unconditionally (a batch claim guards them: writing one again writes the same key), as
        many as the store takes; the ones it did not store. DependencyUnavailableError when it took none."""
        ...

    def missing_events(self, events: list[Event]) -> list[Event]:
        """Those of `events` not stored yet, by key (consistent)."""
        ...


class SessionStore(Protocol):
    """A device's current session. `start_session` is the unit of work of a session's first event: the session,
    its events (session_start and the event) and the event's idempotency claim, in one transaction."""

    timeout: timedelta  # a session ends after this long without an event (the setting)

    def continue_session(
        self,
        project_id: str,
        device_id: str,
        now: datetime,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> ActiveSession | None:
        """The active session (its id and traffic source) after recording activity at `now` (and `activity` in its
        record); None when no session is active.
        DuplicateEventError when the session's last event had the same fingerprint within DUPLICATE_WINDOW."""
        ...

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
        """Start a session and store `events` (claiming the last one's idempotency key), atomically, unless a
        session is active; False if one is. The session records the last event's traffic source, and opens its
        record with `activity`. A previous session of the device that is idle but not ended gets its session_end
        in the same transaction (the boundary case).
        DuplicateEventError when the key was already used."""
        ...

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        """The active session's id, read only."""
        ...

    def forget_fingerprint(self, project_id: str, device_id: str, fingerprint: str) -> None:
        """The event behind the recorded fingerprint was not stored: a retry is not a double send."""
        ...

    def profile_session(self, project_id: str, profile_id: str, now: datetime) -> SessionRecord | None:
        """The profile's live browser session at `now` (the latest of its devices'), read only; None without one."""
        ...

    def put_records(self, records: list[SessionRecord]) -> None:
        """Store ended sessions' records (a back-dated batch's sessions: ended when written)."""
        ...


class IdempotencyStore(Protocol):
    def previous_answer(self, project_id: str, key: str) -> TrackResult | None: ...
    def batch_claim(self, project_id: str, key: str, now: datetime) -> BatchClaim | None:
        """The unexpired claim of a batch key (consistent read), or None."""
        ...

    def claim_batch(self, project_id: str, key: str, claim: BatchClaim) -> BatchClaim:
        """Claim the key with `claim` unless an unexpired claim holds it; the claim that holds it now (`claim`
        itself when this call won)."""
        ...


class ProfileStore(Protocol):
    def resolve_profile_id(self, project_id: str, profile_id: str) -> str: ...
    def identify(self, project_id: str, update: ProfileUpdate, now: datetime) -> None: ...
    def add_alias(self, project_id: str, profile_id: str, alias: str, now: datetime) -> None: ...
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
        """With an idempotency key, DuplicateEventError when the key was already used."""
        ...

    def upsert_group(self, project_id: str, group: GroupUpdate, now: datetime) -> None: ...
    def add_groups(self, project_id: str, profile_id: str, group_ids: list[str], now: datetime) -> None: ...


class ProjectSettingsStore(Protocol):
    def get_filters(self, project_id: str) -> ProjectFilters: ...


class RejectedEventStore(Protocol):
    def put_rejected(self, rejected: list[RejectedEvent]) -> None: ...


@dataclass(frozen=True)
class Stores:
    """The track function's stores; `beacon.store.factory.track_stores` builds the real ones."""

    events: EventStore
    profiles: ProfileStore
    sessions: SessionStore
    projects: ProjectSettingsStore
    idempotency: IdempotencyStore


# -- the read function's stores ---------------------------------------------------------------------------------


class EventReader(Protocol):
    def project_events(
        self, project_id: str, window: TimeWindow, limit: int, after: str | None, event_name: EventNames
    ) -> EventPage: ...

    def profile_events(
        self,
        project_id: str,
        profile_id: str,
        window: TimeWindow,
        limit: int,
        after: str | None,
        event_name: EventNames,
    ) -> EventPage: ...

    def profile_activity(self, project_id: str, profile_id: str) -> tuple[str | None, str | None]:
        """The times of the profile's oldest and newest stored events (None, None when it has none)."""
        ...


class EntityReader(Protocol):
    def resolve_profile_id(self, project_id: str, profile_id: str) -> str: ...
    def get_profile(self, project_id: str, profile_id: str) -> dict[str, Any] | None: ...
    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Readers:
    events: EventReader
    entities: EntityReader
    sessions: SessionReader | None = None  # None: a stack without the sessions table in the read function


class SessionReader(Protocol):
    """Ended sessions' records (store/sessions.py), in the wire shape of models/reads.py's SessionResponse."""

    def get_session(self, project_id: str, session_id: str) -> dict[str, Any] | None: ...

    def project_sessions(
        self, project_id: str, window: TimeWindow, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` sessions started in `window`, newest first, from after the position `after`; and the
        position to resume from (None: no more)."""
        ...


# -- the authorizer's store and enrichment's lookups ------------------------------------------------------------


class ClientLookup(Protocol):
    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        """The client record; `fresh` asks to bypass a cache (the store may limit how often)."""
        ...


class GeoIpLookup(Protocol):
    def lookup(self, ip: str) -> Geo | None: ...


# -- session replay (beacon/domain/replays.py) ---------------------------------------------------------------------


class ReplayStore(Protocol):
    def put_chunk(self, chunk: ReplayChunk) -> None:
        """Store the chunk and index it under its session; the same chunk again replaces itself."""
        ...


class ReplayReader(Protocol):
    def session_chunks(
        self, project_id: str, session_id: str, after: str | None, max_chunks: int, max_bytes: int
    ) -> ReplayPage:
        """The session's chunks after position `after`, in order: at most `max_chunks`, payloads of at most
        `max_bytes` in all (at least one chunk)."""
        ...
