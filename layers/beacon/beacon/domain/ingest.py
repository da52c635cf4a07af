"""Ingestion: turn a validated `POST /track` request into stored facts.

Every check that can refuse a request runs before the first write, so a refused request stores
nothing. A track event carrying `__identify` updates the profile first, then stores the event: an
identify is idempotent, so a retry after a failed event write is safe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from beacon.domain.enrich import Enricher, Enrichment, EnrichmentSource
from beacon.domain.entities import (
    BotDetected,
    Caller,
    ClientType,
    Event,
    GroupUpdate,
    ProfileUpdate,
    RequestMeta,
    TrackResult,
)
from beacon.domain.errors import (
    DependencyUnavailableError,
    DuplicateEventError,
    ForbiddenError,
    InvalidRequestError,
    RevenueRequiresSecretError,
)
from beacon.domain.event_time import resolve_event_time
from beacon.domain.filters import NO_FILTERS, ProjectFilters, ProjectSettingsStore
from beacon.domain.ids import new_event_id
from beacon.domain.sessions import SessionAssignment, SessionStore, current_session, store_in_session
from beacon.domain.useragent import detect_bot
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
    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        """Store the event and claim the key atomically; DuplicateEventError when the key was used."""
        ...

    def put_events(self, events: list[Event]) -> list[Event]:
        """Store events unconditionally (a batch claim guards them: writing one again writes the same key), as
        many as the store takes; the ones it did not store. DependencyUnavailableError when it took none."""
        ...

    def missing_events(self, events: list[Event]) -> list[Event]:
        """Those of `events` not stored yet, by key (consistent)."""
        ...


@dataclass(frozen=True)
class BatchClaim:
    """What the first attempt of a batch decided for its fast-path items (beacon/domain/batch.py), so that any
    retry rebuilds exactly the same events: the receipt time (event times derive from it), the nonce event ids
    derive from, a digest of the batch as sent, and each item's answer by index."""

    received_at: datetime
    nonce: str
    digest: str
    answers: dict[int, TrackResult]


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


@dataclass(frozen=True)
class Stores:
    events: EventStore
    profiles: ProfileStore
    sessions: SessionStore
    projects: ProjectSettingsStore
    idempotency: IdempotencyStore


@dataclass(frozen=True)
class Ingestion:
    """One request's context: who sent it, what it was enriched with, when it arrived."""

    caller: Caller
    enrichment: Enrichment
    now: datetime
    stores: Stores
    store_ip: bool
    filters: ProjectFilters = NO_FILTERS
    idempotency_key: str | None = None  # from the Idempotency-Key header, or a batch's body and index
    sent_at: str | None = None  # the client's clock when it sent the request (clock-skew correction)
    resolved: dict[str, str] | None = None  # canonical profile ids already read, shared by a batch's items

    @property
    def project_id(self) -> str:
        return self.caller.project_id

    def resolve(self, profile_id: str) -> str:
        """The canonical profile id; a blocked id, as sent or resolved, refuses the request (before any write)."""
        self.filters.check_profile(profile_id)
        canonical = self.resolved.get(profile_id) if self.resolved is not None else None
        if canonical is None:
            canonical = self.stores.profiles.resolve_profile_id(self.project_id, profile_id)
            if self.resolved is not None:
                self.resolved[profile_id] = canonical
        self.filters.check_profile(canonical)
        return canonical


def ingest(
    request: TrackRequest,
    caller: Caller,
    meta: RequestMeta,
    stores: Stores,
    enricher: EnrichmentSource,
    now: datetime,
    store_ip: bool = False,
    idempotency_key: str | None = None,
    sent_at: str | None = None,
) -> TrackResult | BotDetected:
    if caller.client_type is ClientType.READ:
        raise ForbiddenError("Read clients cannot send events")
    bot = request_bot(caller, meta)
    if bot is not None:
        return bot
    if isinstance(request, TrackEventRequest):
        reserved = request.payload.properties
        ip_override = str(reserved.ip) if reserved.ip is not None and caller.secret_auth else None  # no forged IPs
        enrichment = enricher.enrich(
            caller.project_id, meta, now, ip_override, reserved.device_overrides, reserved.deviceId
        )
    else:
        enrichment = enricher.enrich(caller.project_id, meta, now)
    filters = stores.projects.get_filters(caller.project_id)
    filters.check_ip(enrichment.ip.address)
    context = Ingestion(caller, enrichment, now, stores, store_ip, filters, idempotency_key, sent_at)
    if isinstance(request, TrackEventRequest):
        assignment = track_event(request, context)
    else:
        assignment = current_session(stores.sessions, caller.project_id, enrichment.ids, now)
        assignment = apply_profile_request(request, context, assignment)
    return TrackResult(device_id=assignment.device_id, session_id=assignment.session_id)


def request_bot(caller: Caller, meta: RequestMeta) -> BotDetected | None:
    """A likely bot, on a request without a client secret (server SDKs are never bot-filtered)."""
    if caller.secret_auth:
        return None
    bot = detect_bot(meta.user_agent)
    return None if bot is None else BotDetected(name=bot.name, type=bot.type)


def current_ids(
    caller: Caller, meta: RequestMeta, sessions: SessionStore, enricher: Enricher, now: datetime
) -> TrackResult:
    """`GET /track/device-id`: the ids the API would assign this caller now; stores nothing."""
    enrichment = enricher.enrich(caller.project_id, meta, now)
    assignment = current_session(sessions, caller.project_id, enrichment.ids, now)
    return TrackResult(device_id=assignment.device_id, session_id=assignment.session_id)


def apply_profile_request(
    request: TrackRequest, context: Ingestion, assignment: SessionAssignment
) -> SessionAssignment:
    """Apply a non-track request; the ids to answer with (a repeat's are the first request's)."""
    profiles = context.stores.profiles
    if isinstance(request, IdentifyRequest):
        identify_profile(request.payload, context)
    elif isinstance(request, AliasRequest):
        alias_profile(request, context)
    elif isinstance(request, IncrementRequest | DecrementRequest):
        sign = 1 if isinstance(request, IncrementRequest) else -1
        delta = Decimal(repr(request.payload.value)) * sign
        path = request.payload.property.split(".")  # a dot path: stats.visits
        profile_id = context.resolve(request.payload.profileId)
        # The one profile change that is not idempotent by nature: an Idempotency-Key guards it.
        key = f"req#{context.idempotency_key}" if context.idempotency_key else None
        answer = TrackResult(device_id=assignment.device_id, session_id=assignment.session_id)
        try:
            profiles.add_to_property(context.project_id, profile_id, path, delta, context.now, key, answer)
        except DuplicateEventError as duplicate:
            return _first_answer(duplicate, key, context)  # already applied: answer as the first time
    elif isinstance(request, GroupRequest):
        payload = request.payload
        group = GroupUpdate(group_id=payload.id, type=payload.type, name=payload.name, properties=payload.properties)
        profiles.upsert_group(context.project_id, group, context.now)
    elif isinstance(request, AssignGroupRequest):
        # Without a profileId, OpenPanel assigns the groups to the device's own profile.
        profile_id = context.resolve(request.payload.profileId or assignment.device_id)
        profiles.add_groups(context.project_id, profile_id, request.payload.groupIds, context.now)
    return assignment


@dataclass(frozen=True)
class CheckedTrack:
    """A track event that passed every check that can refuse it; nothing is written yet."""

    request: TrackEventRequest
    context: Ingestion
    profile_id: str | None  # canonical
    identify: IdentifyPayload | None

    def build_event(
        self,
        event_id: str,
        event_time: datetime,
        from_past: bool,
        received_at: datetime,
        device_id: str,
        session_id: str,
        enriched: tuple[dict[str, str], dict[str, Any]] | None = None,
    ) -> Event:
        """`enriched`: the enrichment's device and geo items, when the caller has them already (a batch)."""
        payload, context = self.request.payload, self.context
        reserved = payload.properties
        device, geo = enriched or enrichment_items(context.enrichment)
        return Event(
            id=event_id,
            project_id=context.project_id,
            client_id=context.caller.client_id,
            name=payload.name,
            properties=reserved.ordinary,
            profile_id=self.profile_id,
            groups=payload.groups,
            device_id=device_id,
            session_id=session_id,
            created_at=event_time,
            received_at=received_at,
            from_past=from_past,
            revenue=reserved.revenue,
            device=device,
            geo=geo,
            ip=context.enrichment.ip.address if context.store_ip else None,
            client_timestamp=reserved.timestamp if isinstance(reserved.timestamp, str) else None,
        )


def enrichment_items(enrichment: Enrichment) -> tuple[dict[str, str], dict[str, Any]]:
    """The device and geo maps an event stores."""
    return enrichment.device.as_item(), enrichment.geo.as_item() if enrichment.geo is not None else {}


def check_track_event(request: TrackEventRequest, context: Ingestion) -> CheckedTrack:
    """Every refusal a track event can meet after the IP filter (revenue, __identify, blocked profiles), with
    its profile id resolved; a batch runs it for all its items before writing anything."""
    payload = request.payload
    reserved = payload.properties
    if reserved.revenue is not None and not context.caller.secret_auth:
        raise RevenueRequiresSecretError()
    identify = _event_identify(reserved.identify, payload.profileId)
    profile_id = context.resolve(payload.profileId) if payload.profileId is not None else None
    return CheckedTrack(request, context, profile_id, identify)


def track_event(request: TrackEventRequest, context: Ingestion) -> SessionAssignment:
    checked = check_track_event(request, context)
    reserved = request.payload.properties
    event_time, from_past = resolve_event_time(reserved.timestamp, context.now, context.sent_at)
    if checked.identify is not None:
        identify_profile(checked.identify, context)

    def build_event(device_id: str, session_id: str) -> Event:
        return checked.build_event(new_event_id(event_time), event_time, from_past, context.now, device_id, session_id)

    stores = context.stores
    # An event's own __id wins over the request's key; without either, OpenPanel's double-send rule applies.
    key = (
        f"id#{reserved.id}" if reserved.id else (f"req#{context.idempotency_key}" if context.idempotency_key else None)
    )
    fingerprint = None if key else _fingerprint(context.caller.client_id, request)

    def store_event(event: Event) -> None:
        if key is None:
            stores.events.put_event(event)
        else:
            stores.events.put_claimed_event(event, key)

    try:
        return store_in_session(
            stores.sessions,
            context.project_id,
            context.enrichment.ids,
            context.now,
            build_event,
            store_event,
            key,
            fingerprint,
        )
    except DuplicateEventError as duplicate:
        return _first_answer(duplicate, key, context)


def _fingerprint(client_id: str, request: TrackEventRequest) -> str:
    body = request.model_dump_json(by_alias=True)
    return hashlib.sha256(f"{client_id}\x1f{body}".encode()).hexdigest()[:32]


def _first_answer(duplicate: DuplicateEventError, key: str | None, context: Ingestion) -> SessionAssignment:
    """A repeat answers as the first request did, and stores nothing."""
    if duplicate.session_id is not None and duplicate.device_id is not None:
        return SessionAssignment(duplicate.device_id, duplicate.session_id)
    previous = context.stores.idempotency.previous_answer(context.project_id, key) if key else None
    if previous is None:  # the claim failed, yet no record is readable: retrying will settle it
        raise DependencyUnavailableError("Idempotency record not readable yet; retry")
    return SessionAssignment(previous.device_id, previous.session_id)


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
    # Every field was validated with the event (the same field types; profileId as the event's or the
    # identify's own): validating them again cost ~20 µs, mostly the email address.
    return IdentifyPayload.model_construct(**{**identify.model_dump(exclude_none=True), "profileId": profile_id})


def identify_profile(payload: IdentifyPayload, context: Ingestion) -> None:
    enrichment = context.enrichment
    update = ProfileUpdate(
        profile_id=context.resolve(payload.profileId),
        first_name=payload.firstName,
        last_name=payload.lastName,
        email=payload.email,
        avatar=payload.avatar,
        properties=payload.properties,
        device=enrichment.device.as_item(),
        geo=enrichment.geo.as_item() if enrichment.geo is not None else {},
    )
    context.stores.profiles.identify(context.project_id, update, context.now)


def alias_profile(request: AliasRequest, context: Ingestion) -> None:
    payload = request.payload
    if payload.alias == payload.profileId:
        raise InvalidRequestError(
            "A profile cannot be its own alias",
            details=[{"field": "payload.alias", "message": "must differ from profileId", "type": "value_error"}],
        )
    context.filters.check_profile(payload.alias)
    profile_id = context.resolve(payload.profileId)
    if profile_id == payload.alias:
        return  # profileId is already an alias of `alias`: they are one profile, nothing to record
    context.stores.profiles.add_alias(context.project_id, profile_id, payload.alias, context.now)
