"""Ingestion: turn a validated `POST /track` request into stored facts.

`ingest` refuses what no request type may do (read clients; likely bots are answered without storing), then
hands the request to its type's handler, found in HANDLERS. Every check that can refuse a request runs before
the first write, so a refused request stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beacon.domain import profiles, track
from beacon.domain.enrich import EnrichmentSource, header_trust
from beacon.domain.entities import BotDetected, ClientType, RequestContext, TrackResult
from beacon.domain.ports import Stores
from beacon.domain.sessions import DeviceSessions, SessionAssignment
from beacon.domain.useragent import detect_bot
from beacon.errors import ForbiddenError, SecretRequiredError
from beacon.models.requests import (
    AliasRequest,
    AssignGroupRequest,
    DecrementRequest,
    GroupRequest,
    IdentifyRequest,
    IncrementRequest,
    TrackEventRequest,
    TrackRequest,
)

Handler = Callable[[Any, RequestContext, Stores, EnrichmentSource], SessionAssignment]

# Request model → its handler. A new request type: its model in models/requests.py (added to TrackRequest), its
# handler (here, in profiles.py or a module of its own), and its line below.
HANDLERS: dict[type[Any], Handler] = {
    TrackEventRequest: track.track_event,
    IdentifyRequest: profiles.identify,
    AliasRequest: profiles.alias,
    IncrementRequest: profiles.add_to_counter,
    DecrementRequest: profiles.add_to_counter,
    GroupRequest: profiles.group,
    AssignGroupRequest: profiles.assign_group,
}


# What a caller without the client secret (a browser SDK: anyone who can read the page) may not send. `alias` merges
# one profile into another: from a browser it would let any visitor take over any profile (docs/API.md, Who may
# send what). `__revenue` and `__ip` are the track event's own secret-only parts (domain/track.py, RequestContext).
SECRET_ONLY: frozenset[type[Any]] = frozenset({AliasRequest})


def ingest(
    request: TrackRequest, context: RequestContext, stores: Stores, enricher: EnrichmentSource
) -> TrackResult | BotDetected:
    if context.caller.client_type is ClientType.READ:
        raise ForbiddenError("Read clients cannot send events")
    if type(request) in SECRET_ONLY and not context.trusted:
        raise SecretRequiredError(f"{request.type} needs the client secret: send it from your server")
    bot = request_bot(context)
    if bot is not None:
        return bot
    assignment = HANDLERS[type(request)](request, context, stores, enricher)
    return TrackResult(device_id=assignment.device_id, session_id=assignment.session_id)


def request_bot(context: RequestContext) -> BotDetected | None:
    """A likely bot, on a request without a client secret (server SDKs are never bot-filtered)."""
    if context.trusted:
        return None
    bot = detect_bot(context.meta.user_agent)
    return None if bot is None else BotDetected(name=bot.name, type=bot.type)


def current_ids(context: RequestContext, stores: Stores, enricher: EnrichmentSource) -> TrackResult:
    """`GET /track/device-id`: the ids the API would assign this caller now; stores nothing."""
    enrichment = enricher.enrich(context.project_id, context.meta, context.received_at, trust=header_trust(context))
    if enrichment.device.device == track.SERVER_DEVICE:  # a server's events get neither (docs/DESIGN.md §49)
        return TrackResult(device_id="", session_id="")
    sessions = DeviceSessions(stores.sessions, context.project_id, enrichment.ids, context.received_at)
    assignment = sessions.current()
    return TrackResult(device_id=assignment.device_id, session_id=assignment.session_id)
