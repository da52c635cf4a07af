"""Track events: every refusal checked first, then the event built once and stored in its session.

A track event carrying `__identify` updates the profile first, then stores the event: an identify is
idempotent, so a retry after a failed event write is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from beacon.domain.enrich import Enrichment, EnrichmentSource
from beacon.domain.entities import NO_SOURCE, Event, RequestContext, TrackResult, TrafficSource
from beacon.domain.event_time import resolve_event_time
from beacon.domain.filters import ProjectFilters
from beacon.domain.ids import new_event_id
from beacon.domain.ingestion import Ingestion, open_ingestion
from beacon.domain.keys import event_key
from beacon.domain.page import (
    PATH_PROPERTY,
    QUERY_PROPERTY,
    REFERRER_PROPERTY,
    Page,
    page_properties,
    parse_page,
    sdk_identity,
)
from beacon.domain.ports import Stores
from beacon.domain.profiles import first_answer, identify_profile
from beacon.domain.referrers import classify_referrer
from beacon.domain.sessions import (
    SCREEN_VIEW,
    NewSession,
    SessionActivity,
    SessionAssignment,
    SessionRecord,
    session_start_event,
)
from beacon.errors import (
    DependencyUnavailableError,
    DuplicateEventError,
    InvalidRequestError,
    RevenueRequiresSecretError,
)
from beacon.models.requests import EventIdentify, IdentifyPayload, TrackEventRequest

DeviceAndGeo = tuple[dict[str, str], dict[str, Any]]


def enrichment_items(enrichment: Enrichment) -> DeviceAndGeo:
    """The device and geo maps an event stores."""
    return enrichment.device.as_item(), enrichment.geo.as_item() if enrichment.geo is not None else {}


@dataclass(frozen=True)
class CheckedTrack:
    """A track event that passed every check that can refuse it; nothing is written yet."""

    request: TrackEventRequest
    ingestion: Ingestion
    profile_id: str | None  # canonical
    identify: IdentifyPayload | None

    def activity(self, event_time: datetime) -> SessionActivity:
        """What the event adds to its session's record (page, counts, revenue), known before it is built."""
        payload = self.request.payload
        page = parse_page(payload.properties.ordinary.get(PATH_PROPERTY))
        return SessionActivity(
            at=event_time,
            path=page.path,
            origin=page.origin,
            screen_views=1 if payload.name == SCREEN_VIEW else 0,
            revenue=payload.properties.revenue or 0,
            profile_id=self.profile_id,
            groups=tuple(sorted(set(payload.groups or ()))),  # a string set: duplicates are refused
        )

    def build(
        self,
        event_id: str,
        event_time: datetime,
        from_past: bool,
        received_at: datetime,
        session: SessionAssignment | NewSession | TrackResult,
        enriched: DeviceAndGeo | None = None,
    ) -> Event:
        """`enriched`: the enrichment's device and geo items, when the caller has them already (a batch)."""
        payload, ingestion = self.request.payload, self.ingestion
        reserved = payload.properties
        device, geo = enriched or enrichment_items(ingestion.enrichment)
        ordinary = reserved.ordinary
        page = parse_page(ordinary.get(PATH_PROPERTY))
        sdk_name, sdk_version = sdk_identity(ingestion.request.meta.headers)
        own = own_source(ordinary.get(REFERRER_PROPERTY), page)
        source = inherited_source(own, session)
        properties = page_properties(ordinary, page)
        return Event(
            id=event_id,
            project_id=ingestion.project_id,
            client_id=ingestion.request.caller.client_id,
            name=payload.name,
            properties=properties if source is own else with_campaign(properties, source),
            profile_id=self.profile_id,
            groups=payload.groups,
            device_id=session.device_id,
            session_id=session.session_id,
            created_at=event_time,
            received_at=received_at,
            from_past=from_past,
            revenue=reserved.revenue if payload.name == REVENUE_EVENT else None,
            device=device,
            geo=geo,
            ip=ingestion.enrichment.ip.address if ingestion.request.store_ip else None,
            client_timestamp=reserved.timestamp if isinstance(reserved.timestamp, str) else None,
            path=page.path,
            origin=page.origin,
            referrer=source.referrer,
            referrer_name=source.referrer_name,
            referrer_type=source.referrer_type,
            sdk_name=sdk_name,
            sdk_version=sdk_version,
        )


# OpenPanel counts `__revenue` only on events of this name; on any other it is consumed and not stored.
REVENUE_EVENT = "revenue"
MAX_SOURCE_NAME = 256  # an unknown utm_source is its own name: bounded like a device override


def with_campaign(properties: dict[str, Any], source: TrafficSource) -> dict[str, Any]:
    """A session's utm_* parameters in `__query`, for the names the page's own query lacks: a later page view of a
    campaign visit is counted for the campaign, as its referrer is."""
    if not source.campaign:
        return properties
    query = properties.get(QUERY_PROPERTY)
    own = query if isinstance(query, dict) else {}
    return {**properties, QUERY_PROPERTY: {**dict(source.campaign), **own}}


def own_source(referrer: object, page: Page) -> TrafficSource:
    """The event's own traffic source: its `__referrer` (not the page's own site) and its page's campaign source."""
    found = classify_referrer(referrer if isinstance(referrer, str) else None, page.host, page.query)
    if found is None:
        return NO_SOURCE
    return TrafficSource(found.url, found.name[:MAX_SOURCE_NAME], found.type[:MAX_SOURCE_NAME])


def inherited_source(own: TrafficSource, session: object) -> TrafficSource:
    """An event's traffic source: that of the session it continues, when the session has one (OpenPanel's rule: a
    visit is attributed to how it began, so a second page view after arriving from a search engine still says so,
    and a return from a payment page does not re-attribute it); otherwise its own."""
    if isinstance(session, SessionAssignment) and session.source:
        return session.source
    return own


SERVER_DEVICE = "server"


def server_side(ingestion: Ingestion) -> bool:
    """A server's event (docs/DESIGN.md §49): its device type is `server` (an empty user agent, or one whose first
    product is an HTTP client or a runtime), after a `__device` override, so an app behind okhttp can say `mobile`
    and a server sending a browser's agent can say `server`."""
    return ingestion.enrichment.device.device == SERVER_DEVICE


def profile_session(checked: CheckedTrack, from_past: bool) -> SessionRecord | None:
    """The live browser session a server-side event joins: its profile's, when the event is not back-dated and was
    sent with the client secret (the answer names the session's device and session ids: a browser client, which
    anyone can impersonate, must not learn them for any profile id it guesses)."""
    ingestion = checked.ingestion
    if from_past or checked.profile_id is None or not ingestion.request.trusted:
        return None
    return ingestion.stores.sessions.profile_session(ingestion.project_id, checked.profile_id, ingestion.now)


def server_session(checked: CheckedTrack, joined: SessionRecord | None) -> SessionAssignment:
    """A server-side event's session: the joined one, with its source; otherwise none, under the device id the
    event sent (`__deviceId`) or none: a server's own agent and IP would make every user of it one device."""
    if joined is not None:
        return SessionAssignment(joined.device_id, joined.session_id, joined.source)
    return SessionAssignment(checked.request.payload.properties.deviceId or "", "")


def server_event(
    checked: CheckedTrack,
    event_id: str,
    event_time: datetime,
    from_past: bool,
    received_at: datetime,
    session: SessionAssignment,
    joined: SessionRecord | None,
    enriched: DeviceAndGeo | None = None,
) -> Event:
    """A server-side event in `session`; in a joined session it inherits the visit's exit page, source (referrer,
    UTM), device and geo (OpenPanel's rule: a backend `invoice_paid` is attributed to the visit that led to it)."""
    event = checked.build(event_id, event_time, from_past, received_at, session, enriched)
    if joined is None:
        return event
    paged = bool(joined.exit_path)
    return replace(
        event,
        path=joined.exit_path if paged else event.path,
        origin=joined.exit_origin if paged else event.origin,
        device=dict(joined.device) or event.device,
        geo=dict(joined.geo) or event.geo,
    )


def open_track(
    request: TrackEventRequest,
    context: RequestContext,
    stores: Stores,
    enricher: EnrichmentSource,
    filters: ProjectFilters | None = None,
    resolved: dict[str, str] | None = None,
) -> Ingestion:
    """The event's reserved properties may override the client IP (trusted callers only), device and device id."""
    reserved = request.payload.properties
    overrides = reserved.device_overrides
    return open_ingestion(context, stores, enricher, reserved.ip, overrides, reserved.deviceId, filters, resolved)


def check_track_event(request: TrackEventRequest, ingestion: Ingestion) -> CheckedTrack:
    """Every refusal a track event can meet after the IP filter (revenue, __identify, blocked profiles), with
    its profile id resolved; a batch runs it for all its items before writing anything."""
    payload = request.payload
    reserved = payload.properties
    # Checked on every event that sends it, whatever its name, as OpenPanel does.
    if reserved.revenue is not None and not (ingestion.request.trusted or ingestion.filters.allow_unsafe_revenue):
        raise RevenueRequiresSecretError()
    identify = _event_identify(reserved.identify, payload.profileId)
    # An event that identifies its user is that user's event (OpenPanel): the identify's profile id wins.
    sent_profile_id = identify.profileId if identify is not None else payload.profileId
    profile_id = ingestion.resolve(sent_profile_id) if sent_profile_id is not None else None
    return CheckedTrack(request, ingestion, profile_id, identify)


def track_event(
    request: TrackEventRequest, context: RequestContext, stores: Stores, enricher: EnrichmentSource
) -> SessionAssignment:
    """Store one track event in the device's session (starting one if none is active)."""
    ingestion = open_track(request, context, stores, enricher)
    checked = check_track_event(request, ingestion)
    reserved = request.payload.properties
    event_time, from_past = resolve_event_time(reserved.timestamp, ingestion.now, context.sent_at)
    if checked.identify is not None:
        identify_profile(checked.identify, ingestion)
    # An event's own __id wins over the request's key; without either, OpenPanel's double-send rule applies.
    key = event_key(context.caller.client_id, reserved.id) if reserved.id else context.idempotency_key
    fingerprint = None if key else _fingerprint(context.caller.client_id, request)
    sessions = ingestion.sessions
    activity = checked.activity(event_time)
    try:
        if server_side(ingestion):  # opens no session; joins its profile's live one, or carries none
            visit = profile_session(checked, from_past)
            outside = server_session(checked, visit)
            server = server_event(
                checked, new_event_id(event_time), event_time, from_past, ingestion.now, outside, visit
            )
            _store_in_session(server, key, None, stores)
            return SessionAssignment(server.device_id, server.session_id)
        if from_past:  # OpenPanel's rule: a late event opens and extends no live session; it carries none
            late = checked.build(
                new_event_id(event_time), event_time, True, ingestion.now, SessionAssignment(sessions.ids.today, "")
            )
            _store_in_session(late, key, None, stores)
            return SessionAssignment(late.device_id, "")
        placed = sessions.place_event(fingerprint, activity)
        event = checked.build(new_event_id(event_time), event_time, from_past, ingestion.now, placed)
        if isinstance(placed, NewSession):
            session, started = sessions.start_or_join(
                placed, [session_start_event(event), event], key, fingerprint, activity
            )
            if started:
                return session
            joined = inherited_source(event.source, session)  # the winner's session: its source
            event = replace(
                event,
                device_id=session.device_id,
                session_id=session.session_id,
                referrer=joined.referrer,
                referrer_name=joined.referrer_name,
                referrer_type=joined.referrer_type,
            )
        else:
            session = placed
        _store_in_session(event, key, fingerprint, stores)
        return session
    except DuplicateEventError as duplicate:
        return first_answer(duplicate, key, ingestion)


def _store_in_session(event: Event, key: str | None, fingerprint: str | None, stores: Stores) -> None:
    """The event's write in a session already continued; its idempotency claim, if any, in the same transaction."""
    try:
        if key is None:
            stores.events.put_event(event)
        else:
            stores.events.put_claimed_event(event, key)
    except DependencyUnavailableError:
        if fingerprint is not None:  # not stored: its retry must not count as a double send
            with contextlib.suppress(Exception):  # best effort: the store may be down for this too
                stores.sessions.forget_fingerprint(event.project_id, event.device_id, fingerprint)
        raise


def _fingerprint(client_id: str, request: TrackEventRequest) -> str:
    body = request.model_dump_json(by_alias=True)
    return hashlib.sha256(f"{client_id}\x1f{body}".encode()).hexdigest()[:32]


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
    # identify's own): validating them again would cost more than the rest of the event (bench/cpu.py).
    return IdentifyPayload.model_construct(**{**identify.model_dump(exclude_none=True), "profileId": profile_id})
