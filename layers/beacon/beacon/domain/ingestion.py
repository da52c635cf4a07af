"""One request's ingestion context: the request context, what it was enriched with, the project's filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from beacon.domain.enrich import Enrichment, EnrichmentSource, header_trust
from beacon.domain.entities import RequestContext
from beacon.domain.filters import NO_FILTERS, ProjectFilters
from beacon.domain.ports import Stores
from beacon.domain.sessions import DeviceSessions

NO_OVERRIDES: dict[str, str] = {}


@dataclass(slots=True)  # not frozen: one is made per event, and frozen dataclasses cost 4x to make (bench/cpu.py)
class Ingestion:
    request: RequestContext
    enrichment: Enrichment
    stores: Stores
    filters: ProjectFilters = NO_FILTERS
    resolved: dict[str, str] | None = field(default=None)  # canonical profile ids already read, shared by a batch

    @property
    def project_id(self) -> str:
        return self.request.caller.project_id

    @property
    def now(self) -> datetime:
        return self.request.received_at

    @property
    def sessions(self) -> DeviceSessions:
        return DeviceSessions(self.stores.sessions, self.project_id, self.enrichment.ids, self.now)

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


def open_ingestion(
    context: RequestContext,
    stores: Stores,
    enricher: EnrichmentSource,
    ip: object | None = None,
    device_overrides: dict[str, str] = NO_OVERRIDES,
    device_id: str | None = None,
    filters: ProjectFilters | None = None,
    resolved: dict[str, str] | None = None,
) -> Ingestion:
    """Enrich the request (a track event's reserved properties may override the IP, device fields and device id)
    and apply the project's IP filter: the checks every request type meets before its own. `filters`: the
    project's, when the caller read them already; `resolved`: profile ids resolved so far (a batch does both once)."""
    enrichment = enricher.enrich(
        context.project_id,
        context.meta,
        context.received_at,
        context.ip_override(ip),
        device_overrides,
        device_id,
        trust=header_trust(context),
    )
    if filters is None:
        filters = stores.projects.get_filters(context.project_id)
    filters.check_ip(enrichment.ip.address)
    return Ingestion(context, enrichment, stores, filters, resolved)
