"""Sessions: stable while a device keeps sending, new after 30 minutes of inactivity (OpenPanel's rule).

The clock is the server's receipt time (injected), so an event back-dated with `__timestamp` never
moves a live session backwards. One conditional write per event continues a session; a new session is
started in one transaction together with its `session_start` event and the event itself, so a
request either stores all three or none. Concurrent first events race on the start condition: one
wins, the others continue its session, and exactly one `session_start` is stored.

A batch's fast path (beacon/domain/batch.py) takes the session once per device, not once per event:
`session_for_batch` continues it, or starts it in one transaction with its `session_start` alone; the
batch's events follow under the batch's claim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Protocol

from beacon.domain.entities import Event
from beacon.domain.errors import DependencyUnavailableError, DuplicateEventError
from beacon.domain.ids import DeviceIds, new_event_id, new_session_id

SESSION_TIMEOUT = timedelta(minutes=30)
# The same payload from the same client and device again within this window is an accidental double send.
DUPLICATE_WINDOW = timedelta(seconds=2)


class SessionStore(Protocol):
    def continue_session(
        self, project_id: str, device_id: str, now: datetime, fingerprint: str | None = None
    ) -> str | None:
        """The active session's id after recording activity at `now`; None when no session is active.
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
    ) -> bool:
        """Start a session and store `events` (claiming the last one's idempotency key), atomically, unless a
        session is active; False if one is. DuplicateEventError when the key was already used."""
        ...

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        """The active session's id, read only."""
        ...

    def forget_fingerprint(self, project_id: str, device_id: str, fingerprint: str) -> None:
        """The event behind the recorded fingerprint was not stored: a retry is not a double send."""
        ...


@dataclass(frozen=True)
class SessionAssignment:
    device_id: str
    session_id: str


def _near_midnight(now: datetime) -> bool:
    return now - datetime.combine(now.date(), time(), tzinfo=now.tzinfo) < SESSION_TIMEOUT


def continue_active_session(
    store: SessionStore, project_id: str, ids: DeviceIds, now: datetime, fingerprint: str | None = None
) -> SessionAssignment | None:
    devices = [ids.today]
    if ids.yesterday != ids.today and _near_midnight(now):
        devices.append(ids.yesterday)  # a visit that started before midnight keeps yesterday's device id
    for device_id in devices:
        try:
            session_id = store.continue_session(project_id, device_id, now, fingerprint)
        except DuplicateEventError as duplicate:
            duplicate.device_id = device_id
            raise
        if session_id is not None:
            return SessionAssignment(device_id, session_id)
    return None


def current_session(store: SessionStore, project_id: str, ids: DeviceIds, now: datetime) -> SessionAssignment:
    """Read only: the caller's active session, or the id a new one would get (not stored)."""
    for device_id in (ids.today, ids.yesterday) if _near_midnight(now) else (ids.today,):
        session_id = store.active_session(project_id, device_id, now)
        if session_id is not None:
            return SessionAssignment(device_id, session_id)
    return SessionAssignment(ids.today, new_session_id())


def session_start_event(event: Event) -> Event:
    """OpenPanel's session_start: the session's first event, 1 ms earlier so it sorts first."""
    moment = event.created_at - timedelta(milliseconds=1)
    return replace(event, id=new_event_id(moment), name="session_start", created_at=moment, revenue=None)


def store_in_session(
    store: SessionStore,
    project_id: str,
    ids: DeviceIds,
    now: datetime,
    build_event: Callable[[str, str], Event],
    store_event: Callable[[Event], None],
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> SessionAssignment:
    """Store the event built for (device id, session id) in the device's session, starting one if needed.
    DuplicateEventError when it repeats an idempotency key or is a double send."""
    active = continue_active_session(store, project_id, ids, now, fingerprint)
    if active is None:

        def with_start(session_id: str) -> list[Event]:
            event = build_event(ids.today, session_id)
            return [session_start_event(event), event]

        active, started = _start_or_join(store, project_id, ids, now, with_start, idempotency_key, fingerprint)
        if started:
            return active
    try:
        store_event(build_event(active.device_id, active.session_id))
    except DependencyUnavailableError:
        if fingerprint is not None:
            with contextlib.suppress(Exception):  # best effort: the store may be down for this too
                store.forget_fingerprint(project_id, active.device_id, fingerprint)
        raise
    return active


def session_for_batch(
    store: SessionStore, project_id: str, ids: DeviceIds, now: datetime, build_first: Callable[[str, str], Event]
) -> SessionAssignment:
    """The device's session for a batch's events: the active one continued, or a new one started together with
    its session_start (built from `build_first`, the device's earliest event in the batch). The events are not
    stored here. A lost race to start joins the winner's session, so exactly one session_start is stored."""
    active = continue_active_session(store, project_id, ids, now)
    if active is None:
        active, _ = _start_or_join(
            store, project_id, ids, now, lambda session_id: [session_start_event(build_first(ids.today, session_id))]
        )
    return active


def _start_or_join(
    store: SessionStore,
    project_id: str,
    ids: DeviceIds,
    now: datetime,
    events_for: Callable[[str], list[Event]],
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> tuple[SessionAssignment, bool]:
    """Start a session for today's device id, storing `events_for(its id)` with it; whether this call started it.
    When another request started one first, its session is joined (its events were not stored)."""
    session_id = new_session_id()
    if store.start_session(
        project_id, ids.today, session_id, now, events_for(session_id), idempotency_key, fingerprint
    ):
        return SessionAssignment(ids.today, session_id), True
    active = continue_active_session(store, project_id, ids, now)  # lost the race: join the winner's session
    if active is None:
        raise DependencyUnavailableError("Session contention; retry")
    return active, False
