"""Which IP address is the end user's? OpenPanel's order of headers, skipping non-public addresses, counted only
when the caller says they can be trusted (HeaderTrust).

Every header below can be sent by anyone: CloudFront appends the viewer's address to a client-sent X-Forwarded-For,
so its first entry is the client's to choose, and a browser may send `x-client-ip` or `CloudFront-Viewer-Address`
itself. The address API Gateway saw (`requestContext.identity.sourceIp`) is the only one nobody sends. So:
- the forwarded-IP headers count only on a request with the client secret: a server proxying its users vouches for
  their addresses, as it may with `__ip`;
- `CloudFront-Viewer-Address` replaces the source IP only when the request proved it came through Beacon's own
  CloudFront distribution (which then is what API Gateway saw); the proof is the caller's to check.

Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public
here: they never reach a real gateway, and tests and examples use them.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

CLIENT_IP_HEADERS = ("openpanel-client-ip", "x-client-ip", "x-forwarded-for")
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"  # "198.51.100.10:46532", "2001:db8::1:46532": address and port
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
# A client's address arrives with each of its events: parse it and test it against the 14 networks once.
CACHE_SIZE = 4096
_CACHED_LENGTH = 64  # longer than any address with brackets and a port: not cached (bounds the cache's memory)


@dataclass(frozen=True)
class HeaderTrust:
    """Which client-settable headers may describe the end user, decided by whoever knows how the request was
    authenticated and how it arrived (never by the headers themselves). Nothing is trusted by default."""

    # The request carries the client secret (a server): its forwarded-IP headers, and the viewer-location headers of
    # its own connection, are its word for its users.
    secret_auth: bool = False
    # The request proved it came through Beacon's CloudFront distribution (the origin-verify header that distribution
    # adds): CloudFront-Viewer-Address and the CloudFront-Viewer-* location headers are CloudFront's, not the client's.
    via_distribution: bool = False

    @property
    def viewer_headers(self) -> bool:
        """CloudFront-Viewer-* location headers may be read (domain/enrich.py)."""
        return self.secret_auth or self.via_distribution


UNTRUSTED = HeaderTrust()


@dataclass(frozen=True)
class ClientIp:
    address: str
    # True when the address is the viewer's, the one that connected (the gateway's source IP, or CloudFront's viewer
    # address through Beacon's distribution): only then do CloudFront's viewer headers describe it.
    from_gateway: bool


def normalize_address(value: str) -> str | None:
    """A canonical address ("::ffff:1.2.3.4" → "1.2.3.4"; "1.2.3.4:443", "[::1]:443" accepted), or None."""
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def is_public(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    return not any(parsed.version == network.version and parsed in network for network in NON_PUBLIC_NETWORKS)


def _public_address(candidate: str) -> str | None:
    address = normalize_address(candidate)
    return address if address is not None and is_public(address) else None


_cached_public_address = functools.lru_cache(maxsize=CACHE_SIZE)(_public_address)


def public_address(candidate: str) -> str | None:
    """The canonical address when `candidate` is a public one, else None."""
    return _cached_public_address(candidate) if len(candidate) <= _CACHED_LENGTH else _public_address(candidate)


def viewer_address(headers: Mapping[str, str], source_ip: str, trust: HeaderTrust = UNTRUSTED) -> str:
    """The address that connected: CloudFront's viewer address when the request came through Beacon's distribution
    (API Gateway's source IP is then CloudFront's), else the source IP. CloudFront-Viewer-Address is not read at
    all unless `trust` says so."""
    if trust.via_distribution:
        value = headers.get(VIEWER_ADDRESS_HEADER)
        if value and ":" in value:
            # CloudFront appends ":port", IPv6 unbracketed ("2001:db8::1:46532"): the port is after the last colon.
            host, port = value.strip().rsplit(":", 1)
            address = normalize_address(host) if port.isdigit() else None
            if address is not None:
                return address
    return source_ip


def resolve_client_ip(
    headers: Mapping[str, str], source_ip: str, override: str | None = None, trust: HeaderTrust = UNTRUSTED
) -> ClientIp:
    """`override` (a secret-authenticated `__ip`) wins; then, only when `trust.secret_auth`, the first public address
    among the client-IP headers (x-forwarded-for: its first entry); then the viewer's address (`viewer_address`).
    If none is public, the viewer's address is used as it is (local development)."""
    viewer = viewer_address(headers, source_ip, trust)
    candidates = []
    if override:
        candidates.append(override)
    if trust.secret_auth:
        for name in CLIENT_IP_HEADERS:
            value = headers.get(name)
            if value:
                candidates.append(value.split(",", 1)[0] if name == "x-forwarded-for" else value)
    candidates.append(viewer)
    for candidate in candidates:
        address = public_address(candidate)
        if address is not None:
            return ClientIp(address, from_gateway=address == public_address(viewer))
    return ClientIp(normalize_address(viewer) or viewer, from_gateway=True)
