"""Enrichment: what Beacon derives from the request itself (docs/API.md, Enrichment)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from beacon.domain.client_ip import UNTRUSTED, ClientIp, HeaderTrust, resolve_client_ip
from beacon.domain.entities import RequestContext, RequestMeta
from beacon.domain.geo import Geo, geo_from_viewer_headers
from beacon.domain.ids import DeviceIds, derive_device_ids
from beacon.domain.ports import GeoIpLookup
from beacon.domain.useragent import DeviceInfo, parse_user_agent


def header_trust(context: RequestContext) -> HeaderTrust:
    """What the request may vouch for with its headers: forwarded IPs and its viewer headers with the client secret;
    CloudFront-Viewer-Address and the viewer headers when the authorizer saw the distribution's origin-verify
    header (domain/distribution.py). Without it CloudFront-Viewer-Address is never read."""
    return HeaderTrust(secret_auth=context.trusted, via_distribution=context.caller.via_distribution)


@dataclass(frozen=True)
class Enrichment:
    ip: ClientIp
    device: DeviceInfo
    geo: Geo | None
    ids: DeviceIds


@dataclass(frozen=True)
class Enricher:
    stack_secret: Callable[[], bytes]  # the per-stack secret behind the daily salt, loaded once per container
    geoip: GeoIpLookup | None = None  # optional: for requests whose viewer headers describe a proxying server

    def enrich(
        self,
        project_id: str,
        meta: RequestMeta,
        now: datetime,
        ip_override: str | None = None,
        device_overrides: dict[str, str] | None = None,
        device_id_override: str | None = None,
        *,
        trust: HeaderTrust,
    ) -> Enrichment:
        """`trust`: which client-settable headers count (`header_trust`); an explicit input, so no caller gets the
        forwarded-IP or CloudFront headers by omission."""
        ip = resolve_client_ip(meta.headers, meta.source_ip, ip_override, trust)
        if device_id_override:
            ids = DeviceIds(today=device_id_override, yesterday=device_id_override)
        else:
            ids = derive_device_ids(self.stack_secret(), project_id, meta.user_agent, ip.address, now)
        return Enrichment(
            ip=ip,
            device=parse_user_agent(meta.user_agent).with_overrides(device_overrides or {}),
            geo=self.locate(ip, meta.headers, trust),
            ids=ids,
        )

    def locate(self, ip: ClientIp, headers: dict[str, str], trust: HeaderTrust = UNTRUSTED) -> Geo | None:
        # CloudFront's viewer headers describe whoever connected to the gateway. When a server sends on a
        # user's behalf (an explicit client IP other than the gateway's), they describe that server: skip them.
        # Anyone can send them, too: they count only when vouched for (a server's secret, or Beacon's distribution).
        if ip.from_gateway and trust.viewer_headers:
            geo = geo_from_viewer_headers(headers)
            if geo is not None:
                return geo
        return self.geoip.lookup(ip.address) if self.geoip is not None else None


class EnrichmentSource(Protocol):
    def enrich(
        self,
        project_id: str,
        meta: RequestMeta,
        now: datetime,
        ip_override: str | None = None,
        device_overrides: dict[str, str] | None = None,
        device_id_override: str | None = None,
        *,
        trust: HeaderTrust,
    ) -> Enrichment: ...


@dataclass
class SharedEnricher:
    """The items of one batch share its request and receipt time, so each distinct set of overrides among them
    is enriched once instead of once per item (bench/cpu.py: a third of an item's CPU)."""

    enricher: Enricher
    meta: RequestMeta
    now: datetime
    _done: dict[tuple[object, ...], Enrichment] = field(default_factory=dict, init=False)

    def enrich(
        self,
        project_id: str,
        meta: RequestMeta,
        now: datetime,
        ip_override: str | None = None,
        device_overrides: dict[str, str] | None = None,
        device_id_override: str | None = None,
        *,
        trust: HeaderTrust,
    ) -> Enrichment:
        if meta is not self.meta or now != self.now:
            return self.enricher.enrich(
                project_id, meta, now, ip_override, device_overrides, device_id_override, trust=trust
            )
        overrides = tuple(sorted(device_overrides.items())) if device_overrides else ()
        key = (project_id, ip_override, overrides, device_id_override, trust)
        found = self._done.get(key)
        if found is None:  # items on two threads may both enrich: the same answer either way
            found = self.enricher.enrich(
                project_id, meta, now, ip_override, device_overrides, device_id_override, trust=trust
            )
            self._done[key] = found
        return found
