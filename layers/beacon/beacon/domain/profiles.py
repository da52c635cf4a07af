"""The profile and group request types: identify, alias, increment, decrement, group, assign_group.

Each handler answers the device's current session (read only: none of them starts a session). Only the
counters are not idempotent by nature; an Idempotency-Key guards them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from beacon.domain.enrich import EnrichmentSource
from beacon.domain.entities import GroupUpdate, ProfileUpdate, RequestContext
from beacon.domain.entities import TrackResult as Answer
from beacon.domain.ingestion import Ingestion, open_ingestion
from beacon.domain.ports import Stores
from beacon.domain.sessions import SessionAssignment
from beacon.errors import DependencyUnavailableError, DuplicateEventError, InvalidRequestError
from beacon.models.requests import (
    AliasRequest,
    AssignGroupRequest,
    DecrementRequest,
    GroupRequest,
    IdentifyPayload,
    IdentifyRequest,
    IncrementRequest,
)

R = TypeVar("R")
Apply = Callable[[R, Ingestion, SessionAssignment], SessionAssignment]


def identify_profile(payload: IdentifyPayload, ingestion: Ingestion) -> None:
    enrichment = ingestion.enrichment
    update = ProfileUpdate(
        profile_id=ingestion.resolve(payload.profileId),
        first_name=payload.firstName,
        last_name=payload.lastName,
        email=payload.email,
        avatar=payload.avatar,
        properties=payload.properties,
        device=enrichment.device.as_item(),
        geo=enrichment.geo.as_item() if enrichment.geo is not None else {},
    )
    ingestion.stores.profiles.identify(ingestion.project_id, update, ingestion.now)


def in_current_session(apply: Apply[R]) -> Callable[[R, RequestContext, Stores, EnrichmentSource], SessionAssignment]:
    """A profile or group request's handler: the request enriched and filtered, then `apply`, which answers the
    device's current session (read only: none of these requests starts one)."""

    def handle(request: R, context: RequestContext, stores: Stores, enricher: EnrichmentSource) -> SessionAssignment:
        ingestion = open_ingestion(context, stores, enricher)
        return apply(request, ingestion, ingestion.sessions.current())

    return handle


@in_current_session
def identify(request: IdentifyRequest, ingestion: Ingestion, assignment: SessionAssignment) -> SessionAssignment:
    identify_profile(request.payload, ingestion)
    return assignment


def alias(
    request: AliasRequest, context: RequestContext, stores: Stores, enricher: EnrichmentSource
) -> SessionAssignment:
    ingestion = open_ingestion(context, stores, enricher)
    assignment = ingestion.sessions.current()
    payload = request.payload
    if payload.alias == payload.profileId:
        raise InvalidRequestError(
            "A profile cannot be its own alias",
            details=[{"field": "payload.alias", "message": "must differ from profileId", "type": "value_error"}],
        )
    ingestion.filters.check_profile(payload.alias)
    profile_id = ingestion.resolve(payload.profileId)
    if profile_id != payload.alias:  # otherwise profileId is already an alias of `alias`: one profile already
        ingestion.stores.profiles.add_alias(ingestion.project_id, profile_id, payload.alias, ingestion.now)
    return assignment


@in_current_session
def add_to_counter(
    request: IncrementRequest | DecrementRequest, ingestion: Ingestion, assignment: SessionAssignment
) -> SessionAssignment:
    sign = 1 if request.type == "increment" else -1
    delta = Decimal(repr(request.payload.value)) * sign
    path = request.payload.property.split(".")  # a dot path: stats.visits
    profile_id = ingestion.resolve(request.payload.profileId)
    # The one profile change that is not idempotent by nature: an Idempotency-Key guards it.
    key = ingestion.request.idempotency_key
    answer = Answer(device_id=assignment.device_id, session_id=assignment.session_id)
    try:
        profiles = ingestion.stores.profiles
        profiles.add_to_property(ingestion.project_id, profile_id, path, delta, ingestion.now, key, answer)
    except DuplicateEventError as duplicate:
        return first_answer(duplicate, key, ingestion)  # already applied: answer as the first time
    return assignment


def group(
    request: GroupRequest, context: RequestContext, stores: Stores, enricher: EnrichmentSource
) -> SessionAssignment:
    ingestion = open_ingestion(context, stores, enricher)
    assignment = ingestion.sessions.current()
    payload = request.payload
    update = GroupUpdate(group_id=payload.id, type=payload.type, name=payload.name, properties=payload.properties)
    ingestion.stores.profiles.upsert_group(ingestion.project_id, update, ingestion.now)
    return assignment


@in_current_session
def assign_group(request: AssignGroupRequest, ingestion: Ingestion, assignment: SessionAssignment) -> SessionAssignment:
    # Without a profileId, OpenPanel assigns the groups to the device's own profile.
    profile_id = ingestion.resolve(request.payload.profileId or assignment.device_id)
    ingestion.stores.profiles.add_groups(ingestion.project_id, profile_id, request.payload.groupIds, ingestion.now)
    return assignment


def first_answer(duplicate: DuplicateEventError, key: str | None, ingestion: Ingestion) -> SessionAssignment:
    """A repeat answers as the first request did, and stores nothing."""
    if duplicate.session_id is not None and duplicate.device_id is not None:
        return SessionAssignment(duplicate.device_id, duplicate.session_id)
    previous = ingestion.stores.idempotency.previous_answer(ingestion.project_id, key) if key else None
    if previous is None:  # the claim failed, yet no record is readable: retrying will settle it
        raise DependencyUnavailableError("Idempotency record not readable yet; retry")
    return SessionAssignment(previous.device_id, previous.session_id)
