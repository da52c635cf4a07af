"""Ingestion: turn a validated `POST /track` request into stored facts.

Every check that can refuse a request runs before the first write, so a refused request stores
nothing. A track event carrying `__identify` updates the profile first, then stores the event: an
identify is idempotent, so a retry after a failed event write is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from beacon.domain.entities import Caller, Event, GroupUpdate, ProfileUpdate, RequestMeta, TrackResult
from beacon.domain.errors import InvalidRequestError, RevenueRequiresSecretError
from beacon.domain.event_time import resolve_event_time
from beacon.domain.ids import derive_device_id, derive_session_id, new_event_id
from beacon.models.requests import (
    AliasRequest,
    AssignGroupRequest,
    DecrementRequest,
    EventIdentify,
    GroupRequest,
    IdentifyPayload,
    IdentifyRequest,
    IncrementRequest,
    TrackEventRequest,
    TrackRequest,
)


class EventStore(Protocol):
    def put_event(self, event: Event) -> None: ...


class ProfileStore(Protocol):
    def resolve_profile_id(self, project_id: str, profile_id: str) -> str: ...
    def identify(self, project_id: str, update: ProfileUpdate, now: datetime) -> None: ...
    def add_alias(self, project_id: str, profile_id: str, alias: str, now: datetime) -> None: ...
    def add_to_property(
        self, project_id: str, profile_id: str, path: list[str], delta: Decimal, now: datetime
    ) -> None: ...
    def upsert_group(self, project_id: str, group: GroupUpdate, now: datetime) -> None: ...
    def add_groups(self, project_id: str, profile_id: str, group_ids: list[str], now: datetime) -> None: ...


@dataclass(frozen=True)
class Stores:
    events: EventStore
    profiles: ProfileStore


@dataclass(frozen=True)
class Ingestion:
    """One request's context: who sent it, which device it came from, when it arrived."""

    caller: Caller
    device_id: str
    session_id: str
    now: datetime
    stores: Stores

    @property
    def project_id(self) -> str:
        return self.caller.project_id

    def resolve(self, profile_id: str) -> str:
        return self.stores.profiles.resolve_profile_id(self.project_id, profile_id)


def ingest(request: TrackRequest, caller: Caller, meta: RequestMeta, stores: Stores, now: datetime) -> TrackResult:
    ip = meta.source_ip
    device_override = None
    if isinstance(request, TrackEventRequest):
        reserved = request.payload.properties
        if reserved.ip is not None and caller.secret_auth:  # a browser must not forge another user's IP
            ip = str(reserved.ip)
        device_override = reserved.deviceId
    device_id = device_override or derive_device_id(caller.project_id, meta.user_agent, ip)
    context = Ingestion(caller, device_id, derive_session_id(device_id, now), now, stores)

    if isinstance(request, TrackEventRequest):
        track_event(request, context)
    elif isinstance(request, IdentifyRequest):
        identify_profile(request.payload, context)
    elif isinstance(request, AliasRequest):
        alias_profile(request, context)
    elif isinstance(request, IncrementRequest | DecrementRequest):
        sign = 1 if isinstance(request, IncrementRequest) else -1
        delta = Decimal(repr(request.payload.value)) * sign
        profile_id = context.resolve(request.payload.profileId)
        path = request.payload.property.split(".")  # a dot path: stats.visits
        stores.profiles.add_to_property(context.project_id, profile_id, path, delta, now)
    elif isinstance(request, GroupRequest):
        payload = request.payload
        group = GroupUpdate(group_id=payload.id, type=payload.type, name=payload.name, properties=payload.properties)
        stores.profiles.upsert_group(context.project_id, group, now)
    elif isinstance(request, AssignGroupRequest):
        assign_groups(request, context)
    return TrackResult(device_id=context.device_id, session_id=context.session_id)


def track_event(request: TrackEventRequest, context: Ingestion) -> None:
    payload = request.payload
    reserved = payload.properties
    if reserved.revenue is not None and not context.caller.secret_auth:
        raise RevenueRequiresSecretError()
    identify = _event_identify(reserved.identify, payload.profileId)
    profile_id = context.resolve(payload.profileId) if payload.profileId is not None else None
    event_time, from_past = resolve_event_time(reserved.timestamp, context.now)
    if identify is not None:
        identify_profile(identify, context)
    context.stores.events.put_event(
        Event(
            id=new_event_id(context.now),
            project_id=context.project_id,
            client_id=context.caller.client_id,
            name=payload.name,
            properties=reserved.ordinary,
            profile_id=profile_id,
            groups=payload.groups,
            device_id=context.device_id,
            session_id=context.session_id,
            created_at=event_time,
            received_at=context.now,
            from_past=from_past,
            revenue=reserved.revenue,
            device=reserved.device_overrides,
        )
    )


def _event_identify(identify: EventIdentify | None, event_profile_id: str | None) -> IdentifyPayload | None:
    if identify is None:
        return None
    profile_id = identify.profileId or event_profile_id
    if profile_id is None:
        raise InvalidRequestError(
            "__identify needs a profileId (in __identify or on the event)",
            details=[
                {
                    "field": "payload.properties.__identify.profileId",
                    "message": "a profileId is required",
                    "type": "missing",
                }
            ],
        )
    return IdentifyPayload.model_validate({**identify.model_dump(exclude_none=True), "profileId": profile_id})


def identify_profile(payload: IdentifyPayload, context: Ingestion) -> None:
    update = ProfileUpdate(
        profile_id=context.resolve(payload.profileId),
        first_name=payload.firstName,
        last_name=payload.lastName,
        email=payload.email,
        avatar=payload.avatar,
        properties=payload.properties,
    )
    context.stores.profiles.identify(context.project_id, update, context.now)


def alias_profile(request: AliasRequest, context: Ingestion) -> None:
    payload = request.payload
    if payload.alias == payload.profileId:
        raise InvalidRequestError(
            "A profile cannot be its own alias",
            details=[{"field": "payload.alias", "message": "must differ from profileId", "type": "value_error"}],
        )
    profile_id = context.resolve(payload.profileId)
    if profile_id == payload.alias:
        return  # profileId is already an alias of `alias`: they are one profile, nothing to record
    context.stores.profiles.add_alias(context.project_id, profile_id, payload.alias, context.now)


def assign_groups(request: AssignGroupRequest, context: Ingestion) -> None:
    payload = request.payload
    profile_id = context.resolve(payload.profileId or context.device_id)  # OpenPanel: falls back to the device id
    context.stores.profiles.add_groups(context.project_id, profile_id, payload.groupIds, context.now)
