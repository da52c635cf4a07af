"""Per-project filters, as OpenPanel has them: blocked IP addresses or networks, blocked profile ids, and whether
requests without the client secret (browsers) may send revenue (OpenPanel's `allowUnsafeRevenueTracking`).

A matching request is refused with 401 and an error naming the filter, before anything is stored.
Profile ids are checked as sent and after alias resolution, so an alias cannot route around a block.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from beacon.errors import BlockedByFilterError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ProjectFilters:
    blocked_networks: tuple[IpNetwork, ...] = ()
    blocked_profile_ids: frozenset[str] = field(default_factory=frozenset)
    # Off by default: anyone can send a browser's requests, so browser revenue is whatever a visitor says it is.
    allow_unsafe_revenue: bool = False

    @classmethod
    def parse(cls, networks: list[str], profile_ids: list[str], allow_unsafe_revenue: bool = False) -> ProjectFilters:
        """From stored strings; an entry that is not an address or network is ignored, never fatal."""
        parsed = []
        for network in networks:
            try:
                parsed.append(ipaddress.ip_network(network.strip(), strict=False))
            except ValueError:
                continue
        return cls(tuple(parsed), frozenset(profile_ids), allow_unsafe_revenue)

    def check_ip(self, address: str) -> None:
        if not self.blocked_networks:
            return
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return
        if any(ip.version == network.version and ip in network for network in self.blocked_networks):
            raise BlockedByFilterError("Blocked by the project's IP filter")

    def check_profile(self, profile_id: str) -> None:
        if profile_id in self.blocked_profile_ids:
            raise BlockedByFilterError("Blocked by the project's profile filter")


NO_FILTERS = ProjectFilters()
