"""Which page origins may send events with only a client id (browser SDKs): the client's allowed origins.

An allowed-origin entry is one of:
- `*`: any origin (except the opaque `null` origin of sandboxed frames and files, which proves nothing);
- `https://app.example.com` or `app.example.com`: that host; with a scheme, only that scheme; without,
  http or https; with a port, only that port; without, the scheme's default port. As in OpenPanel, a leading
  `www.` does not count on either side: `shop.example.com` also allows `www.shop.example.com`, and
  `www.shop.example.com` also allows `shop.example.com` (one label, at the start only: `www.www.x` is not `x`);
- `*.example.com` / `https://*.example.com`: any subdomain, at any depth, but not example.com itself.
Hosts compare case-insensitively. Anything unparsable matches nothing, and so does any value with a character
outside visible ASCII: browsers serialise an origin in ASCII (an international host as punycode) without
whitespace, while a URL parser drops tabs and line breaks and would read "https://app.exa<TAB>mple.com" as an
allowed origin, which the answer would then echo in Access-Control-Allow-Origin as sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ORIGIN_LENGTH = 2048
_VISIBLE_ASCII = re.compile(r"[!-~]+")  # no controls, no whitespace, nothing non-ASCII


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int | None


def parse_origin(value: str) -> Origin | None:
    """A browser's Origin header value: scheme://host[:port], nothing else."""
    if not value or value == "null" or len(value) > MAX_ORIGIN_LENGTH or not _VISIBLE_ASCII.fullmatch(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.username is not None:
        return None
    scheme = parts.scheme.lower()
    return Origin(scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme))


def _entry_matches(entry: str, origin: Origin) -> bool:
    entry = entry.strip()
    if entry == "*":
        return True
    scheme: str | None = None
    if "://" in entry:
        scheme, entry = entry.split("://", 1)
        scheme = scheme.lower()
    wildcard = entry.startswith("*.")
    parsed = parse_origin(f"{scheme or origin.scheme}://{entry[2:] if wildcard else entry}")
    if parsed is None:
        return False
    if scheme is not None and scheme != origin.scheme:
        return False
    if scheme is None and origin.scheme not in DEFAULT_PORTS:
        return False
    if parsed.port != origin.port:
        return False
    if wildcard:
        return origin.host.endswith("." + parsed.host)
    return _without_www(origin.host) == _without_www(parsed.host)


def _without_www(host: str) -> str:
    """The host without one leading `www.` label (OpenPanel's tolerance); a bare `www` host stays as it is."""
    return host[4:] if host.startswith("www.") else host


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    parsed = parse_origin(origin or "")
    return parsed is not None and any(_entry_matches(entry, parsed) for entry in allowed)
