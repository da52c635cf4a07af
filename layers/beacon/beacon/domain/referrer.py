"""Where a visit came from, from OpenPanel's reserved `__referrer` and the page's campaign parameters (docs/API.md,
Derived fields).

The referrer is dropped when its host is the page's own (OpenPanel's same-site rule: the hosts compared exactly),
otherwise kept without a trailing slash and named from a table of referrer hosts: its host, then each parent domain
(`www.google.co.uk`, `google.co.uk`, `co.uk`), so `www.` and sub-domains need no entries of their own. A
`utm_source`, else `ref`, else `utm_referrer` in the page's query names the source instead, case-insensitively: a
known host or site name takes that site's name and type, an unknown one keeps its own lowercase text. An unknown
referrer host is named by the referrer itself, as OpenPanel's worker does.

The table (`referrers/`, README there) is Snowplow's referer-parser data plus Beacon's supplement, read once per
container at the first lookup into two dicts: by host, and by lowercase site name.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from beacon.domain.display_text import visible_text
from beacon.domain.entities import NO_SOURCE, TrafficSource
from beacon.domain.page import Page, url_host

REFERRER_DATA = Path(__file__).resolve().parent / "referrers"
DATA_FILES = ("snowplow.json", "beacon.json")  # later files win for a host both name
SOURCE_PARAMETERS = ("utm_source", "ref", "utm_referrer")  # in this order of precedence
CAMPAIGN_PREFIX = "utm_"
MAX_CAMPAIGN_VALUE = 256  # a campaign parameter as a session remembers it

Site = tuple[str, str]  # (name, type)


@cache
def referrer_table() -> tuple[dict[str, Site], dict[str, Site]]:
    """(by host, by lowercase name), built once per container."""
    hosts: dict[str, Site] = {}
    for name in DATA_FILES:
        document = json.loads((REFERRER_DATA / name).read_text(encoding="utf-8"))
        for host, (site, kind) in document["hosts"].items():
            hosts[host] = (site, kind)
    names: dict[str, Site] = {}
    for site in hosts.values():  # a name's first site, a typed one before Snowplow's `unknown` (Google's help pages)
        known = names.get(site[0].lower())
        if known is None or (known[1] == "unknown" and site[1] != "unknown"):
            names[site[0].lower()] = site
    return hosts, names


def site_of_host(host: str) -> Site | None:
    """The site a host belongs to: the host itself, then its parent domains (never a bare top-level domain)."""
    hosts = referrer_table()[0]
    while True:
        site = hosts.get(host)
        if site is not None:
            return site
        _, dot, parent = host.partition(".")
        if not dot or "." not in parent:
            return None
        host = parent


def site_of_source(source: str) -> Site | None:
    """A campaign source (`google`, `facebook.com`, `Hacker News`), matched as OpenPanel does: as a host, as a
    host with `.com`, then as a site's name."""
    hosts, names = referrer_table()
    return hosts.get(source) or hosts.get(f"{source}.com") or names.get(source)


def campaign_source(query: dict[str, str]) -> str:
    """The lowercase `utm_source` / `ref` / `utm_referrer` of a page, the first one present; "" for none."""
    for parameter in SOURCE_PARAMETERS:
        if parameter in query:
            return query[parameter].strip().lower()
    return ""


def campaign_parameters(query: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The page's `utm_*` parameters by name, each value at most 256 characters: what a session remembers."""
    return tuple(
        sorted((name, value[:MAX_CAMPAIGN_VALUE]) for name, value in query.items() if name.startswith(CAMPAIGN_PREFIX))
    )


def classify_source(referrer: object, page: Page) -> TrafficSource:
    """The event's own traffic source: its referrer (unless same-site) and campaign, named and typed."""
    url, name, kind = "", "", ""
    if isinstance(referrer, str):
        text = visible_text(referrer).strip()
        host = url_host(text) if text else None
        if text and (host is None or host != page.host):
            url = text[:-1] if text.endswith("/") else text
            site = site_of_host(host) if host is not None else None
            if site is not None:
                name, kind = site
    source = campaign_source(page.query) if page.query else ""
    if source:
        site = site_of_source(source)
        name, kind = site if site is not None else (source, kind)
    campaign = campaign_parameters(page.query) if page.query else ()
    if not (url or name or campaign):
        return NO_SOURCE
    return TrafficSource(url, name or url, kind, campaign)
