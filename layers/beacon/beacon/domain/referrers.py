"""Where a visit came from: an event's `__referrer` and its page's query → referrer URL, source name and medium.

The rules follow OpenPanel's worker (docs/API.md, "Referrer"):
- No referrer to store: `__referrer` absent or empty, or from the same site as the page. Same site means the same
  host, ignoring scheme, port and case, and (past OpenPanel, which compares host names exactly) one leading `www.`:
  `https://www.shop.example/` on a `https://shop.example/` page is the site linking to itself. An app screen (no
  page host) has no same site.
- The URL is stored as sent, query included, without its trailing slashes; one that does not parse ("not-a-url")
  is stored too, with no name or type.
- Name and type come from the table of referrer hosts (Snowplow's referer-parser data and Beacon's supplement,
  beacon/data/referrers.json, built by `make referrers`): the host, then each parent domain (m.facebook.com →
  facebook.com), so `www.` and any subdomain resolve to the site's entry. OpenPanel tries the host and the host
  without `www.`; a subdomain the table does not list resolves here and not there.
- The page's `utm_source`, else `ref`, else `utm_referrer` (the first that is present and not blank) names the
  source and overrides the name and type, case-insensitively: looked up as a host (`facebook.com`), as a host in
  `.com` (`facebook`), then as a source name (`Hacker News`). An unknown source keeps its own name, lowercased,
  and no type, so the type falls back to the referrer's own, as in OpenPanel. With a source but no referrer to
  store, the URL is "".

The table is read once per container, at the first referrer (or `warm_up()`): a dict of host → (name, type), so a
lookup is a hash lookup per label of the host.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Beside the package's modules, so a plain open() reads it: importlib.resources would add ~30 ms of imports
# (tempfile, inspect, …) to a cold start for one file that is always on disk (a layer is unzipped under /opt).
TABLE_FILE = Path(__file__).resolve().parent.parent / "data" / "referrers.json"
MAX_HOST_LENGTH = 253  # DNS's limit on a name: a longer "host" is in no table
# Query parameters that name a source, in precedence order.
SOURCE_PARAMETERS = ("utm_source", "ref", "utm_referrer")
# When several sources share a name ("Yahoo!" is a search engine and, for its other hosts, of unknown medium), a
# source looked up by name gets the most telling type.
_TYPE_PREFERENCE = ("search", "social", "ai", "email", "content", "commerce", "tech", "paid", "unknown")


@dataclass(frozen=True, slots=True)
class Referrer:
    url: str  # the referrer URL without a trailing slash ("" when only the query named a source)
    name: str  # e.g. "Google", "Facebook", "ChatGPT"; the lowercase utm_source for an unknown source; "" when unknown
    type: str  # "search", "social", "email", "ai", "paid", "unknown", … ("" when unknown)


@dataclass(frozen=True, slots=True)
class _Source:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class _ReferrerTable:
    hosts: dict[str, _Source]
    names: dict[str, _Source]  # lowercase name → source, for a utm_source that names one


@functools.cache
def _table() -> _ReferrerTable:
    document = json.loads(TABLE_FILE.read_bytes())
    hosts: dict[str, _Source] = {}
    names: dict[str, _Source] = {}
    rank = {kind: index for index, kind in enumerate(_TYPE_PREFERENCE)}
    for name, kind, domains in document["referrers"]:
        source = _Source(name, kind)
        for host in domains:
            hosts[host] = source
        known = names.get(name.lower())
        if known is None or rank.get(kind, len(rank)) < rank.get(known.type, len(rank)):
            names[name.lower()] = source
    return _ReferrerTable(hosts, names)


def warm_up() -> None:
    """Load the table now (for a caller that prefers to pay it in the init phase)."""
    _table()


def _host_of(url: str) -> str | None:
    """The URL's host, lowercase, without port or trailing dot; None when it has none or does not parse."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return (host.rstrip(".") or None) if host else None


def _without_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def _lookup_host(host: str) -> _Source | None:
    """The table's entry for the host or its nearest listed parent domain (never a bare top-level domain)."""
    if len(host) > MAX_HOST_LENGTH:
        return None  # no such host in DNS; and walking thousands of labels would be quadratic
    hosts = _table().hosts
    while True:
        if (source := hosts.get(host)) is not None:
            return source
        _, dot, parent = host.partition(".")
        if not dot or "." not in parent:
            return None
        host = parent


def _query_source(query: Mapping[str, str]) -> _Source | None:
    """The source the page's query names (utm_source / ref / utm_referrer), known or not; None when none does."""
    if not query:
        return None  # most pages: no query at all
    value = next((text for key in SOURCE_PARAMETERS if (text := str(query.get(key) or "").strip())), "")
    if not value:
        return None
    source = value.lower()
    return _lookup_host(source) or _lookup_host(f"{source}.com") or _table().names.get(source) or _Source(source, "")


def _site(text: str, page_host: str | None) -> tuple[str, _Source | None]:
    """(URL to store, its table entry) of a referrer that is not empty; ("", None) when it is the page's own site."""
    host = _host_of(text)
    page = _host_of(f"//{page_host}") if page_host else None  # "Shop.example:8080" → "shop.example"
    if host is None or page is None or _without_www(host) != _without_www(page):
        return text.rstrip("/"), _lookup_host(host) if host is not None else None
    return "", None


# The same few referrers arrive over and over: each container remembers the last 4,096 (short ones only).
_CACHED_LENGTH = 1024
_cached_site = functools.lru_cache(maxsize=4096)(_site)


def classify_referrer(referrer: str | None, page_host: str | None, query: Mapping[str, str]) -> Referrer | None:
    """`referrer`: the event's __referrer as sent; `page_host`: the host of the page (from __path's URL, None for an
    app screen); `query`: the page URL's query parameters. None when there is no referrer to store."""
    url, known = "", None
    if referrer and (text := referrer.strip()):
        url, known = (_cached_site if len(text) <= _CACHED_LENGTH else _site)(text, page_host)
    named = _query_source(query)
    if not url and named is None:
        return None
    return Referrer(
        url=url,
        name=(named.name if named else "") or (known.name if known else ""),
        type=(named.type if named else "") or (known.type if known else ""),
    )
