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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from beacon.domain.entities import NO_SOURCE, Event, TrafficSource
from beacon.domain.ids import DeviceIds, new_event_id, new_session_id
from beacon.domain.ports import SessionStore
from beacon.errors import DependencyUnavailableError, DuplicateEventError

SESSION_TIMEOUT = timedelta(minutes=30)
# The same payload from the same client and device again within this window is an accidental double send.
DUPLICATE_WINDOW = timedelta(seconds=2)


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


def session_start_event(event: Event) -> Event:
    """OpenPanel's session_start: the session's first event, 1 ms earlier so it sorts first."""
    moment = event.created_at - timedelta(milliseconds=1)
    return replace(event, id=new_event_id(moment), name="session_start", created_at=moment, revenue=None)


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

    def continue_active(self, fingerprint: str | None = None) -> SessionAssignment | None:
        """The active session, its activity recorded at `now`; None when none is active."""
        for device_id in self._devices():
            try:
                active = self.store.continue_session(self.project_id, device_id, self.now, fingerprint)
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

    def place_event(self, fingerprint: str | None = None) -> SessionAssignment | NewSession:
        """The session an event at `now` belongs to: the active one, continued, or a new one for the caller to
        start with the event. DuplicateEventError when the event is a double send."""
        active = self.continue_active(fingerprint)
        return active if active is not None else NewSession(self.ids.today, new_session_id())

    def start_or_join(
        self, new: NewSession, events: list[Event], idempotency_key: str | None = None, fingerprint: str | None = None
    ) -> tuple[SessionAssignment, bool]:
        """Start `new` with `events` (one transaction); whether this call started it. When another request started
        a session first, its session is joined and `events` were not stored: the caller stores its event there."""
        if self.store.start_session(
            self.project_id, new.device_id, new.session_id, self.now, events, idempotency_key, fingerprint
        ):
            return SessionAssignment(new.device_id, new.session_id, events[-1].source), True
        # Lost the race: join the winner's session, still as this event (its fingerprint): the winner may be this
        # very event sent twice at once, and then this copy is a double send.
        active = self.continue_active(fingerprint)
        if active is None:
            raise DependencyUnavailableError("Session contention; retry")
        return active, False
