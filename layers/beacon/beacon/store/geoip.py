"""Optional GeoIP lookups in a MaxMind DB (.mmdb) file the operator supplies: off unless configured.

Reads the GeoIP2-City layout shared by MaxMind GeoLite2-City and DB-IP "IP to City Lite": country.iso_code,
country.names.en, subdivisions[0].iso_code / names.en (the first-level subdivision, as CloudFront reports),
city.names.en, postal.code and location.latitude / longitude / time_zone. DB-IP Lite has no subdivision codes,
postal codes or time zones; those fields stay empty.

Enrichment must never fail a request: a missing or corrupt file is logged once, and every lookup then
answers None. Raw IPs never reach the logs.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

import maxminddb
from maxminddb.types import Record

from beacon.domain.client_ip import is_public
from beacon.domain.geo import Geo, build_geo
from beacon.observability import logger

_MAX_IP_TEXT_LENGTH = 64  # the longest address text ("ffff:…:255.255.255.255%zone") is well under this


def locatable_address(ip: str) -> IPv4Address | IPv6Address | None:
    """The address to look up: an IPv4-mapped IPv6 address ("::ffff:203.0.113.7") becomes its IPv4 address.

    The reader walks the search tree as given: MaxMind's own files alias ::ffff:0:0/96 to the IPv4 tree,
    but other writers need not, and an IPv4-only file refuses every IPv6 address.
    """
    if not isinstance(ip, str) or len(ip) > _MAX_IP_TEXT_LENGTH:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())  # strict: no ports or brackets here
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # No database places private and other special-purpose ranges: the lookup is skipped.
    return address if is_public(str(address)) else None


def _field(record: Record | None, *path: str | int) -> Record | None:
    """record["a"]["b"][0]…, or None where the path leaves the record's shape."""
    value = record
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def geo_from_record(record: Record | None) -> Geo | None:
    return build_geo(
        country=_field(record, "country", "iso_code"),
        country_name=_field(record, "country", "names", "en"),
        region=_field(record, "subdivisions", 0, "iso_code"),
        region_name=_field(record, "subdivisions", 0, "names", "en"),
        city=_field(record, "city", "names", "en"),
        postal_code=_field(record, "postal", "code"),
        latitude=_field(record, "location", "latitude"),
        longitude=_field(record, "location", "longitude"),
        time_zone=_field(record, "location", "time_zone"),
    )


class MaxMindGeoIpLookup:
    """A GeoIpLookup over one .mmdb file, opened (memory-mapped) on the first lookup and kept while warm."""

    def __init__(self, database_path: str) -> None:
        self._database_path = database_path
        self._reader: maxminddb.Reader | None = None
        self._open_failed = False  # not retried: a file missing now stays missing for this container
        self._warned = False

    def lookup(self, ip: str) -> Geo | None:
        address = locatable_address(ip)
        if address is None:
            return None
        reader = self._open_reader()
        if reader is None:
            return None
        try:
            record = reader.get(address)
        except ValueError:
            return None  # an IPv6 address in an IPv4-only database
        except Exception as exc:  # noqa: BLE001 - a corrupt search tree or data section must not fail the request
            # The type only: the message of a failed lookup may quote the address.
            self._warn_once("GeoIP database lookup failed", type(exc).__name__)
            return None
        return geo_from_record(record)

    def _open_reader(self) -> maxminddb.Reader | None:
        if self._reader is None and not self._open_failed:
            try:
                self._reader = maxminddb.open_database(self._database_path)
            except Exception as exc:  # noqa: BLE001 - missing, unreadable or not an .mmdb: run without GeoIP
                self._open_failed = True
                self._warn_once("GeoIP database could not be opened; GeoIP lookups are off", repr(exc))
        return self._reader

    def _warn_once(self, message: str, error: str) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(message, extra={"databasePath": self._database_path, "error": error})
