"""Which IP address is the end user's? OpenPanel's order of headers, skipping non-public addresses.

Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count as public
here: they never reach a real gateway, and tests and examples use them.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

CLIENT_IP_HEADERS = ("openpanel-client-ip", "x-client-ip", "x-forwarded-for")
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
class ClientIp:
    address: str
    # True when the address is the one the gateway saw: only then do CloudFront's viewer headers describe it.
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


def resolve_client_ip(headers: Mapping[str, str], source_ip: str, override: str | None = None) -> ClientIp:
    """`override` (a secret-authenticated `__ip`) wins; then the first public address among the
    client-IP headers (x-forwarded-for: its first entry), then the gateway's source IP.
    If none is public, the source IP is used as it is (local development)."""
    candidates = []
    if override:
        candidates.append(override)
    for name in CLIENT_IP_HEADERS:
        value = headers.get(name)
        if value:
            candidates.append(value.split(",", 1)[0] if name == "x-forwarded-for" else value)
    candidates.append(source_ip)
    for candidate in candidates:
        address = public_address(candidate)
        if address is not None:
            return ClientIp(address, from_gateway=address == public_address(source_ip))
    return ClientIp(normalize_address(source_ip) or source_ip, from_gateway=True)
