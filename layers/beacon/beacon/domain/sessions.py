"""Sessions: stable while a device keeps sending, new after 30 minutes of inactivity (OpenPanel's rule).

The clock is the server's receipt time (injected), so an event back-dated with `__timestamp` never
moves a live session backwards. These functions decide; the caller builds its event once and writes it:

* `DeviceSessions.place_event` continues the device's active session (one conditional write) or answers
  `NewSession`;
* for a new session the caller builds its event and session_start and hands both to `start_or_join`, which
  starts the session with them in one transaction (SessionStore.start_session), so a request stores all of
  it or none. Concurrent first events race on the start condition: one wins, the others join its session
  (and then store their event there), so exactly one `session_start` is stored.

A batch's fast path (beacon/domain/batch.py) does the same once per device, starting a session with its
`session_start` alone; the batch's events follow under the batch's claim.

Each continue or start also carries the event's `SessionActivity` (its page, counts, revenue): the session item is
the session record (entry and exit page, counts, first and last event time), kept on the same write. A session ends
when idle for the timeout: the reaper (`reap_sessions`) or the next session's start (the boundary case) writes its
`session_end` (`session_end_event`) exactly once, conditional on the item being unchanged since it was read.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from beacon.domain.entities import NO_SOURCE, Event, TrafficSource
from beacon.domain.ids import DeviceIds, new_event_id, new_session_id
from beacon.domain.ports import SessionStore
from beacon.errors import DependencyUnavailableError, DuplicateEventError

SESSION_TIMEOUT = timedelta(minutes=30)
# The same payload from the same client and device again within this window is an accidental double send.
DUPLICATE_WINDOW = timedelta(seconds=2)


# A session's idle time is counted in whole minutes ("buckets") by the reaper's index: see DATA_MODEL.md.
BUCKET_SECONDS = 60
# OpenPanel writes session_end one second after the session's last event.
SESSION_END_OFFSET = timedelta(seconds=1)
SCREEN_VIEW = "screen_view"


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """What one event (or one device's events of a batch) adds to its session's record."""

    at: datetime  # the (latest) event time
    path: str = ""
    origin: str = ""
    events: int = 1
    screen_views: int = 0
    revenue: int = 0
    profile_id: str | None = None
    groups: tuple[str, ...] = ()

    first_at: datetime | None = None  # the earliest event time, when several events are counted (else `at`)

    @property
    def earliest(self) -> datetime:
        return self.first_at or self.at

    @classmethod
    def combine(cls, activities: Iterable[SessionActivity]) -> SessionActivity | None:
        """The activity of several events of one session: the latest one with a page gives the exit page."""
        ordered = sorted(activities, key=_event_time)  # stable: of events at the same time, the later sent wins
        if not ordered:
            return None
        events = screen_views = revenue = 0
        path = origin = ""
        profile_id: str | None = None
        groups: set[str] = set()
        first_at = ordered[0].earliest
        for activity in ordered:  # one pass: a batch combines each device's events on the hot path
            events += activity.events
            screen_views += activity.screen_views
            revenue += activity.revenue
            if activity.path:
                path, origin = activity.path, activity.origin
            if activity.profile_id is not None:
                profile_id = activity.profile_id
            if activity.groups:
                groups.update(activity.groups)
            if activity.first_at is not None and activity.first_at < first_at:
                first_at = activity.first_at
        return cls(
            at=ordered[-1].at,
            path=path,
            origin=origin,
            events=events,
            screen_views=screen_views,
            revenue=revenue,
            profile_id=profile_id,
            groups=tuple(sorted(groups)),
            first_at=first_at,
        )


def _event_time(activity: SessionActivity) -> datetime:
    return activity.at


def event_activity(event: Event) -> SessionActivity:
    return SessionActivity(
        at=event.created_at,
        path=event.path,
        origin=event.origin,
        screen_views=1 if event.name == SCREEN_VIEW else 0,
        revenue=event.revenue or 0,
        profile_id=event.profile_id,
        groups=tuple(sorted(set(event.groups or ()))),
    )


def idle_bucket(last_seen: datetime) -> int:
    """The reaper's bucket of a session last seen at `last_seen`: its epoch minute."""
    return int(last_seen.timestamp()) // BUCKET_SECONDS


def due_bucket(now: datetime, timeout: timedelta) -> int:
    """The newest bucket all of whose sessions have been idle for `timeout` at `now`."""
    return (int((now - timeout).timestamp()) // BUCKET_SECONDS) - 1


@dataclass(frozen=True)
class SessionRecord:
    """One session as its item records it (docs/API.md, Sessions)."""

    project_id: str
    device_id: str
    session_id: str
    client_id: str
    started_at: datetime  # receipt time of its first event
    last_seen_at: datetime  # receipt time of its latest event: what the timeout counts from
    first_event_at: datetime
    last_event_at: datetime
    entry_path: str = ""
    entry_origin: str = ""
    exit_path: str = ""
    exit_origin: str = ""
    source: TrafficSource = NO_SOURCE
    event_count: int = 0
    screen_view_count: int = 0
    revenue: int = 0
    profile_id: str | None = None
    groups: tuple[str, ...] = ()
    device: dict[str, str] = field(default_factory=dict)
    geo: dict[str, Any] = field(default_factory=dict)
    ended_at: datetime | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, int((self.last_event_at - self.first_event_at).total_seconds() * 1000))

    @property
    def bounce(self) -> bool:
        """OpenPanel's bounce: at most one screen view (the lake's `sessions.bounce` is the same rule)."""
        return self.screen_view_count <= 1

    def idle(self, now: datetime, timeout: timedelta) -> bool:
        return self.ended_at is None and self.last_seen_at < now - timeout

    def live(self, now: datetime, timeout: timedelta) -> bool:
        """Not ended and active within the timeout: an event at `now` would continue it."""
        return self.ended_at is None and self.last_seen_at >= now - timeout


def session_end_event(record: SessionRecord) -> Event:
    """OpenPanel's session_end: one second after the session's last event, with its duration (ms), exit page and
    bounce flag. Its id is derived from the session id, so a second writer can never store a second one."""
    moment = record.last_event_at + SESSION_END_OFFSET
    millis = int(moment.timestamp() * 1000)
    digest = hashlib.blake2b(f"session_end#{record.session_id}".encode(), digest_size=8).hexdigest()
    return Event(
        id=f"{millis:012x}{digest}",
        project_id=record.project_id,
        client_id=record.client_id,
        name="session_end",
        properties={"__duration": record.duration_ms, "__bounce": record.bounce},
        profile_id=record.profile_id,
        groups=list(record.groups) or None,
        device_id=record.device_id,
        session_id=record.session_id,
        created_at=moment,
        received_at=record.ended_at or moment,
        device=dict(record.device),
        geo=dict(record.geo),
        path=record.exit_path,
        origin=record.exit_origin,
        referrer=record.source.referrer,
        referrer_name=record.source.referrer_name,
        referrer_type=record.source.referrer_type,
    )


class SessionReaperStore(Protocol):
    """The reaper's view of the sessions table (store/sessions.py)."""

    def reaped_through(self) -> int | None:
        """The newest bucket a reaper run finished, None before the first run."""
        ...

    def idle_in_bucket(self, bucket: int) -> Iterable[tuple[str, str]]:
        """(project, device) of every session not ended whose last activity fell in `bucket`."""
        ...

    def read_record(self, project_id: str, device_id: str) -> SessionRecord | None: ...

    def end_session(self, record: SessionRecord, end: Event) -> bool:
        """Store `end` and close `record`, atomically, unless the session changed since it was read; whether it
        did."""
        ...

    def mark_reaped(self, bucket: int) -> None: ...


@dataclass(frozen=True)
class ReapOutcome:
    buckets: int
    ended: int
    extended: int  # found active again (or ended by another writer) when read or written


def reap_sessions(store: SessionReaperStore, now: datetime, timeout: timedelta, max_buckets: int = 120) -> ReapOutcome:
    """End every session idle for `timeout` at `now`: the buckets from the last finished run's to the newest due one
    (at most `max_buckets` a run, oldest first; the first run starts `max_buckets` back). A bucket is marked done
    only after each of its sessions was ended or found extended, so a failed run is repeated by the next."""
    due = due_bucket(now, timeout)
    done = store.reaped_through()
    first = done + 1 if done is not None else due - max_buckets + 1
    last = min(due, first + max_buckets - 1)  # a reaper far behind catches up over several runs, skipping none
    ended = extended = 0
    for bucket in range(first, last + 1):
        for project_id, device_id in store.idle_in_bucket(bucket):
            record = store.read_record(project_id, device_id)
            if record is None or not record.idle(now, timeout):
                extended += 1
                continue
            closed = replace(record, ended_at=now)
            if store.end_session(closed, session_end_event(closed)):
                ended += 1
            else:
                extended += 1
        store.mark_reaped(bucket)
    return ReapOutcome(max(0, last + 1 - first), ended, extended)


@dataclass(frozen=True)
class SessionAssignment:
    device_id: str
    session_id: str
    source: TrafficSource = NO_SOURCE  # of the session's first event: what a later event without one inherits


@dataclass(frozen=True)
class NewSession:
    """No session is active for the device: the one to start, with the event that opens it."""

    device_id: str
    session_id: str


def _near_midnight(now: datetime) -> bool:
    return now - datetime.combine(now.date(), time(), tzinfo=now.tzinfo) < SESSION_TIMEOUT


def session_start_event(event: Event, derived: bool = False) -> Event:
    """OpenPanel's session_start: the session's first event, 1 ms earlier so it sorts first. `derived`: its id
    from the session id (a back-dated batch's session, rebuilt identically by a retry), not random."""
    moment = event.created_at - timedelta(milliseconds=1)
    event_id = _derived_event_id("session_start", event.session_id, moment) if derived else new_event_id(moment)
    return replace(event, id=event_id, name="session_start", created_at=moment, revenue=None)


def _derived_event_id(name: str, session_id: str, moment: datetime) -> str:
    millis = int(moment.timestamp() * 1000)
    return f"{millis:012x}{hashlib.blake2b(f'{name}#{session_id}'.encode(), digest_size=8).hexdigest()}"


# -- back-dated batches (DESIGN.md §49) ------------------------------------------------------------------------


@dataclass(frozen=True)
class BackdatedEvent:
    """One back-dated event of a batch, as the splitter sees it."""

    index: int  # its place in the batch
    device_id: str
    at: datetime  # its event time


@dataclass(frozen=True)
class BackdatedSession:
    device_id: str
    session_id: str
    indexes: tuple[int, ...]  # its events' batch indexes, in event-time order


def backdated_session_id(seed: str, device_id: str, first_index: int) -> str:
    """A UUID (the shape of every session id) derived from the batch's claim nonce, the device and the session's
    first event: a retry of the batch, which reads the same claim, gets the same id."""
    digest = hashlib.blake2b(f"backdated#{seed}#{device_id}#{first_index}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def split_backdated(events: Iterable[BackdatedEvent], timeout: timedelta, seed: str) -> list[BackdatedSession]:
    """A batch's back-dated events as the sessions that happened: per device, in event-time order (ties by batch
    index), a new session whenever an event comes more than `timeout` after the previous one (OpenPanel's gap
    rule, counted in event time rather than receipt time). Sessions in order of device, then time."""
    by_device: dict[str, list[BackdatedEvent]] = {}
    for event in events:
        by_device.setdefault(event.device_id, []).append(event)
    sessions: list[BackdatedSession] = []
    for device_id in sorted(by_device):
        ordered = sorted(by_device[device_id], key=lambda event: (event.at, event.index))
        runs: list[list[BackdatedEvent]] = [[ordered[0]]]
        for previous, event in itertools.pairwise(ordered):
            if event.at - previous.at > timeout:
                runs.append([])
            runs[-1].append(event)
        for run in runs:
            session_id = backdated_session_id(seed, device_id, run[0].index)
            sessions.append(BackdatedSession(device_id, session_id, tuple(event.index for event in run)))
    return sessions


def backdated_record(events: list[Event], ended_at: datetime) -> SessionRecord:
    """The record of a back-dated session from its events (event-time order; all of one session), ended when
    received: no later event joins it. Its times are the events' own: it started when its first event happened."""
    first, last = events[0], events[-1]
    activity = SessionActivity.combine(event_activity(event) for event in events) or event_activity(first)
    paged = [event for event in events if event.path]
    return SessionRecord(
        project_id=first.project_id,
        device_id=first.device_id,
        session_id=first.session_id,
        client_id=first.client_id,
        started_at=first.created_at,
        last_seen_at=last.created_at,
        first_event_at=first.created_at,
        last_event_at=last.created_at,
        entry_path=paged[0].path if paged else "",
        entry_origin=paged[0].origin if paged else "",
        exit_path=activity.path,
        exit_origin=activity.origin,
        source=first.source,
        event_count=activity.events,
        screen_view_count=activity.screen_views,
        revenue=activity.revenue,
        profile_id=activity.profile_id,
        groups=activity.groups,
        device=dict(first.device),
        geo=dict(first.geo),
        ended_at=ended_at,
    )


@dataclass(slots=True)  # not frozen: one is made per event, and frozen dataclasses cost 4x to make (bench/cpu.py)
class DeviceSessions:
    """One device's sessions, as one request sees them at its receipt time `now`."""

    store: SessionStore
    project_id: str
    ids: DeviceIds
    now: datetime

    def _devices(self) -> tuple[str, ...]:
        if self.ids.yesterday != self.ids.today and _near_midnight(self.now):
            return (self.ids.today, self.ids.yesterday)  # a visit begun before midnight keeps yesterday's id
        return (self.ids.today,)

    def continue_active(
        self, fingerprint: str | None = None, activity: SessionActivity | None = None
    ) -> SessionAssignment | None:
        """The active session, its activity recorded at `now`; None when none is active."""
        for device_id in self._devices():
            try:
                active = self.store.continue_session(self.project_id, device_id, self.now, fingerprint, activity)
            except DuplicateEventError as duplicate:
                duplicate.device_id = device_id
                raise
            if active is not None:
                return SessionAssignment(device_id, active.session_id, active.source)
        return None

    def active(self) -> SessionAssignment | None:
        """Read only: the active session, None when none is active."""
        for device_id in self._devices():
            session_id = self.store.active_session(self.project_id, device_id, self.now)
            if session_id is not None:
                return SessionAssignment(device_id, session_id)
        return None

    def current(self) -> SessionAssignment:
        """Read only: the active session, or the id a new one would get (not stored)."""
        return self.active() or SessionAssignment(self.ids.today, new_session_id())

    def place_event(
        self, fingerprint: str | None = None, activity: SessionActivity | None = None
    ) -> SessionAssignment | NewSession:
        """The session an event at `now` belongs to: the active one, continued, or a new one for the caller to
        start with the event. DuplicateEventError when the event is a double send."""
        active = self.continue_active(fingerprint, activity)
        return active if active is not None else NewSession(self.ids.today, new_session_id())

    def start_or_join(
        self,
        new: NewSession,
        events: list[Event],
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> tuple[SessionAssignment, bool]:
        """Start `new` with `events` (one transaction); whether this call started it. When another request started
        a session first, its session is joined and `events` were not stored: the caller stores its event there.
        `activity` (default: the last event's) opens the session's record."""
        opened = activity or event_activity(events[-1])
        if self.store.start_session(
            self.project_id, new.device_id, new.session_id, self.now, events, idempotency_key, fingerprint, opened
        ):
            return SessionAssignment(new.device_id, new.session_id, events[-1].source), True
        # Lost the race: join the winner's session, still as this event (its fingerprint): the winner may be this
        # very event sent twice at once, and then this copy is a double send.
        active = self.continue_active(fingerprint, activity)
        if active is None:
            raise DependencyUnavailableError("Session contention; retry")
        return active, False
