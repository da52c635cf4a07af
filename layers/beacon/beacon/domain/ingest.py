"""Ingestion: turn a validated request into stored facts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from beacon.domain.entities import Caller, Event, RequestMeta, TrackResult
from beacon.domain.errors import UnsupportedTypeError
from beacon.domain.ids import derive_device_id, derive_session_id, new_event_id
from beacon.models.requests import TrackEventRequest, TrackRequest


class EventStore(Protocol):
    def put_event(self, event: Event) -> None: ...


def ingest(request: TrackRequest, caller: Caller, meta: RequestMeta, store: EventStore, now: datetime) -> TrackResult:
    device_id = derive_device_id(caller.project_id, meta.user_agent, meta.source_ip)
    session_id = derive_session_id(device_id, now)
    if not isinstance(request, TrackEventRequest):
        raise UnsupportedTypeError(f"Request type '{request.type}' is not supported yet")
    payload = request.payload
    event = Event(
        id=new_event_id(now),
        project_id=caller.project_id,
        client_id=caller.client_id,
        name=payload.name,
        properties=payload.properties,
        profile_id=None if payload.profileId is None else str(payload.profileId),
        groups=payload.groups,
        device_id=device_id,
        session_id=session_id,
        created_at=now,
        received_at=now,
    )
    store.put_event(event)
    return TrackResult(device_id=device_id, session_id=session_id)
