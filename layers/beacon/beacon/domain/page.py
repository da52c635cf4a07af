"""What an event says about the page it happened on, from OpenPanel's reserved `__path` (docs/API.md, Derived
fields).

The web SDK sends the page's full URL as `__path`; the stored event gets its `path` (no query, no fragment) and
`origin` (scheme, host, and a port other than the scheme's default), and its query parameters and fragment as the
properties `__query` (a map) and `__hash` (with its `#`), as OpenPanel's export spells them. A value that is not an
http(s) URL, such as an app's screen name (`HomeScreen`) or a bare `/settings`, is the path itself, with no origin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from beacon.domain.display_text import visible_text

PATH_PROPERTY = "__path"
REFERRER_PROPERTY = "__referrer"
QUERY_PROPERTY = "__query"
HASH_PROPERTY = "__hash"
# The properties the derived fields replace: stored as fields of the event, not as properties (as OpenPanel does).
CONSUMED_PROPERTIES = (PATH_PROPERTY, REFERRER_PROPERTY)
MAX_QUERY_PARAMETERS = 100  # the first ones, in URL order (a 4,000-character URL could hold a thousand)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Page:
    path: str = ""
    origin: str = ""
    host: str | None = None  # lowercase, for the referrer's same-site rule; None when the page is no URL
    query: dict[str, str] = field(default_factory=dict)
    hash: str = ""


NO_PAGE = Page()


# A site's pages arrive over and over: each container remembers the last 4,096 it split (short ones only, so the
# cache stays under a few MB). A cached Page is shared: its query map is copied into each event's properties.
CACHE_SIZE = 4096
_CACHED_LENGTH = 1024


def parse_page(value: object) -> Page:
    """`__path` as sent: an http(s) URL split into its parts, anything else (a screen name) kept as the path."""
    if not isinstance(value, str) or not value:
        return NO_PAGE
    return _cached_page(value) if len(value) <= _CACHED_LENGTH else _parse_page(value)


def _parse_page(value: str) -> Page:
    url = _http_url(value)
    if url is None:
        return Page(path=visible_text(value))
    scheme, host, port, path, query, fragment = url
    origin_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{origin_host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")
    return Page(
        path=path or "/", origin=origin, host=host, query=parse_query(query), hash=f"#{fragment}" if fragment else ""
    )


_cached_page = functools.lru_cache(maxsize=CACHE_SIZE)(_parse_page)


def parse_query(query: str) -> dict[str, str]:
    """URLSearchParams' reading (a repeated name keeps its last value), names not empty, at most 100 of them."""
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = visible_text(name)
        if not key or (key not in parameters and len(parameters) >= MAX_QUERY_PARAMETERS):
            continue
        parameters[key] = visible_text(value)
    return parameters


def url_host(value: object) -> str | None:
    """The lowercase host of an http(s) URL, None for anything else."""
    if not isinstance(value, str):
        return None
    url = _http_url(value)
    return url[1] if url is not None else None


def _http_url(value: str) -> tuple[str, str, int | None, str, str, str] | None:
    text = value.strip()
    if "://" not in text[:10]:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError for a port that is not a number in range
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port, parts.path, parts.query, parts.fragment


def page_properties(properties: dict[str, Any], page: Page) -> dict[str, Any]:
    """The event's properties as stored: a string `__path` and `__referrer` consumed, `__query` and `__hash`
    added."""
    consumed = [name for name in CONSUMED_PROPERTIES if isinstance(properties.get(name), str)]
    if not consumed and not page.query and not page.hash:
        return properties
    # Only string values are read (and so consumed); any other value stays a property as sent.
    kept = {name: value for name, value in properties.items() if name not in consumed}
    if page.query:
        kept[QUERY_PROPERTY] = dict(page.query)  # the page may be cached, shared by other events
    if page.hash:
        kept[HASH_PROPERTY] = page.hash
    return kept


SDK_NAME_HEADER = "openpanel-sdk-name"
SDK_VERSION_HEADER = "openpanel-sdk-version"
MAX_SDK_TEXT = 64


def sdk_identity(headers: dict[str, str]) -> tuple[str, str]:
    """(sdkName, sdkVersion) from the SDK's own headers, visible characters only and at most 64 of each."""
    return _sdk_identity(headers.get(SDK_NAME_HEADER, ""), headers.get(SDK_VERSION_HEADER, ""))


@functools.lru_cache(maxsize=256)  # a handful of SDKs and versions, asked once per event (a batch: per item)
def _sdk_identity(name: str, version: str) -> tuple[str, str]:
    return visible_text(name).strip()[:MAX_SDK_TEXT], visible_text(version).strip()[:MAX_SDK_TEXT]
