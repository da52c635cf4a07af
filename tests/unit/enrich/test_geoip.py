"""GeoIP lookups in small .mmdb files built here with mmdb-writer, in GeoLite2-City and DB-IP City Lite shapes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import maxminddb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]

from beacon.domain.geo import Geo
from beacon.store.geoip import MaxMindGeoIpLookup, geo_from_record, locatable_address

# Shaped like a GeoLite2-City record (with the fields Beacon ignores, so they are known not to disturb it).
LONDON_RECORD: dict[str, Any] = {
    "city": {"geoname_id": 2643743, "names": {"en": "London", "de": "London", "ja": "ロンドン"}},
    "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
    "country": {
        "geoname_id": 2635167,
        "is_in_european_union": False,
        "iso_code": "GB",
        "names": {"en": "United Kingdom"},
    },
    "location": {"accuracy_radius": 20, "latitude": 51.5142, "longitude": -0.0931, "time_zone": "Europe/London"},
    "postal": {"code": "EC2V"},
    "registered_country": {"geoname_id": 2635167, "iso_code": "GB", "names": {"en": "United Kingdom"}},
    "subdivisions": [{"geoname_id": 6269131, "iso_code": "ENG", "names": {"en": "England"}}],
}
LONDON = Geo(
    country="GB",
    country_name="United Kingdom",
    region="ENG",
    region_name="England",
    city="London",
    postal_code="EC2V",
    latitude=51.5142,
    longitude=-0.0931,
    time_zone="Europe/London",
)
BERLIN_RECORD: dict[str, Any] = {
    "city": {"names": {"en": "Berlin"}},
    "country": {"iso_code": "DE", "names": {"en": "Germany"}},
    "location": {"latitude": 52.5244, "longitude": 13.4105, "time_zone": "Europe/Berlin"},
    "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
}
BERLIN = Geo(
    country="DE",
    country_name="Germany",
    region="BE",
    region_name="Land Berlin",
    city="Berlin",
    latitude=52.5244,
    longitude=13.4105,
    time_zone="Europe/Berlin",
)
# Shaped like a DB-IP "IP to City Lite" record: names but no subdivision code, postal code or time zone.
SAO_PAULO_RECORD: dict[str, Any] = {
    "city": {"names": {"en": "São Paulo"}},
    "continent": {"code": "SA", "geoname_id": 6255150, "names": {"en": "South America", "pt-BR": "América do Sul"}},
    "country": {"geoname_id": 3469034, "is_in_european_union": False, "iso_code": "BR", "names": {"en": "Brazil"}},
    "location": {"latitude": -23.5475, "longitude": -46.6361},
    "subdivisions": [{"names": {"en": "São Paulo"}}],
}
SAO_PAULO = Geo(
    country="BR",
    country_name="Brazil",
    region_name="São Paulo",
    city="São Paulo",
    latitude=-23.5475,
    longitude=-46.6361,
)


def write_mmdb(path: Path, records: dict[str, dict[str, Any]], *, ip_version: int = 6, database_type: str) -> str:
    """An .mmdb file holding one record per network, laid out as MaxMind lays out its IPv6 files (IPv4 at ::/96)."""
    writer = MMDBWriter(
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=database_type,
        languages=["en"],
        description="Beacon unit-test database",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def geolite2_city(tmp_path: Path) -> str:
    return write_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        {
            "203.0.113.0/24": LONDON_RECORD,
            "2001:db8::/32": BERLIN_RECORD,
            "10.0.0.0/8": LONDON_RECORD,  # no real database places private ranges: this one would, if asked
            "192.0.2.0/24": {"continent": {"code": "EU", "names": {"en": "Europe"}}},
        },
        database_type="GeoLite2-City",
    )


@pytest.fixture
def geoip(geolite2_city: str) -> MaxMindGeoIpLookup:
    return MaxMindGeoIpLookup(geolite2_city)


def test_an_ipv4_address_is_located(geoip: MaxMindGeoIpLookup) -> None:
    # Given a GeoLite2-City database with London at 203.0.113.0/24
    # When an address in that network is looked up
    geo = geoip.lookup("203.0.113.7")

    # Then every field Beacon keeps is read from the record
    assert geo == LONDON


def test_an_ipv6_address_is_located(geoip: MaxMindGeoIpLookup) -> None:
    # Given Berlin at 2001:db8::/32
    # When an address in that network is looked up
    # Then it is found
    assert geoip.lookup("2001:db8:1234::42") == BERLIN


@pytest.mark.parametrize("mapped", ["::ffff:203.0.113.7", "::FFFF:CB00:7107", "0:0:0:0:0:ffff:203.0.113.7"])
def test_an_ipv4_mapped_ipv6_address_finds_the_ipv4_record(geoip: MaxMindGeoIpLookup, mapped: str) -> None:
    # Given an IPv4 address written as IPv4-mapped IPv6 (as dual-stack servers report it). The reader walks
    # the tree as given, and only MaxMind's own files alias ::ffff:0:0/96 to the IPv4 records.
    # When it is looked up
    # Then the IPv4 record is found
    assert geoip.lookup(mapped) == LONDON


def test_an_ipv4_mapped_address_is_found_in_an_ipv4_only_database(tmp_path: Path) -> None:
    # Given an IPv4-only database (its reader refuses every IPv6 address)
    path = write_mmdb(
        tmp_path / "v4.mmdb", {"203.0.113.0/24": LONDON_RECORD}, ip_version=4, database_type="GeoIP2-City"
    )
    geoip = MaxMindGeoIpLookup(path)

    # When an IPv4-mapped address and a plain IPv6 address are looked up
    # Then the first is found and the second is simply unknown
    assert geoip.lookup("::ffff:203.0.113.7") == LONDON
    assert geoip.lookup("2001:db8::1") is None


def test_a_db_ip_city_lite_record_is_read(tmp_path: Path) -> None:
    # Given a DB-IP City Lite database (same layout, fewer fields)
    path = write_mmdb(
        tmp_path / "dbip-city-lite.mmdb", {"198.51.100.0/24": SAO_PAULO_RECORD}, database_type="DBIP-City-Lite"
    )
    geoip = MaxMindGeoIpLookup(path)

    # When an address of it is looked up
    geo = geoip.lookup("198.51.100.20")

    # Then the fields it has are read and the others stay empty
    assert geo == SAO_PAULO


@pytest.mark.parametrize("unknown", ["198.51.100.7", "2001:db9::1", "8.8.8.8"])
def test_an_address_the_database_does_not_know_is_none(geoip: MaxMindGeoIpLookup, unknown: str) -> None:
    assert geoip.lookup(unknown) is None


def test_a_record_without_location_fields_is_none(geoip: MaxMindGeoIpLookup) -> None:
    # Given a record that names only a continent
    # When it is looked up
    # Then there is no geo rather than an empty one
    assert geoip.lookup("192.0.2.1") is None


@pytest.mark.parametrize(
    "private",
    [
        "10.1.2.3",
        "::ffff:10.1.2.3",
        "127.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
    ],
)
def test_a_private_or_special_address_is_not_looked_up(geoip: MaxMindGeoIpLookup, private: str) -> None:
    # Given a database that (unlike any real one) has a record for 10.0.0.0/8
    # When a private, loopback, link-local or unique-local address is looked up
    # Then nothing is found
    assert geoip.lookup(private) is None


@pytest.mark.parametrize(
    "malformed",
    ["", "not an ip", "203.0.113", "203.0.113.256", "203.0.113.7:443", "[2001:db8::1]", "2001:db8:::1", "1" * 1000],
)
def test_a_malformed_address_is_none(geoip: MaxMindGeoIpLookup, malformed: str) -> None:
    assert geoip.lookup(malformed) is None


def test_the_database_is_not_opened_before_the_first_lookup(tmp_path: Path) -> None:
    # Given a lookup created while its database file does not exist yet
    path = tmp_path / "GeoLite2-City.mmdb"
    geoip = MaxMindGeoIpLookup(str(path))

    # When the file appears before the first lookup
    write_mmdb(path, {"203.0.113.0/24": LONDON_RECORD}, database_type="GeoLite2-City")

    # Then the first lookup opens it and finds the record
    assert geoip.lookup("203.0.113.7") == LONDON


def test_a_missing_database_is_none_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a lookup whose database file does not exist
    geoip = MaxMindGeoIpLookup(str(tmp_path / "absent.mmdb"))

    # When several addresses are looked up
    with caplog.at_level(logging.WARNING):
        results = [geoip.lookup(ip) for ip in ("203.0.113.7", "2001:db8::1", "198.51.100.7")]

    # Then nothing is raised, nothing is found, the failure is logged once and no address reaches the log
    assert results == [None, None, None]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "could not be opened" in warnings[0].getMessage()
    assert not any("203.0.113.7" in str(vars(record)) for record in caplog.records)


def test_a_database_that_failed_to_open_is_not_retried(tmp_path: Path) -> None:
    # Given a lookup whose first attempt found no file
    path = tmp_path / "late.mmdb"
    geoip = MaxMindGeoIpLookup(str(path))
    assert geoip.lookup("203.0.113.7") is None

    # When the file appears later in the container's life
    write_mmdb(path, {"203.0.113.0/24": LONDON_RECORD}, database_type="GeoLite2-City")

    # Then lookups stay off (no file-system call, and no log line, per request)
    assert geoip.lookup("203.0.113.7") is None


@pytest.mark.parametrize("content", [b"", b"not a maxmind database" * 100, b"\xab\xcd\xefMaxMind.com" + b"\xff" * 64])
def test_a_corrupt_database_is_none_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    # Given a file that is not a valid .mmdb (empty, garbage, or a broken metadata section)
    path = tmp_path / "corrupt.mmdb"
    path.write_bytes(content)
    geoip = MaxMindGeoIpLookup(str(path))

    # When addresses are looked up
    with caplog.at_level(logging.WARNING):
        results = [geoip.lookup("203.0.113.7"), geoip.lookup("2001:db8::1")]

    # Then nothing is raised or found, and one warning is logged
    assert results == [None, None]
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) == 1


def corrupt_data_section(path: str) -> None:
    """Overwrite the data section (between search tree and metadata) with bytes that decode as no known type."""
    with maxminddb.open_database(path) as reader:
        metadata = reader.metadata()
    content = bytearray(Path(path).read_bytes())
    start = metadata.node_count * metadata.record_size * 2 // 8 + 16  # search tree, then a 16-byte separator
    end = content.rfind(b"\xab\xcd\xefMaxMind.com")
    content[start:end] = b"\xff" * (end - start)
    Path(path).write_bytes(content)


def test_a_corrupt_record_is_none_and_logged_once_without_the_address(
    geolite2_city: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a database whose search tree is sound but whose records are garbage
    corrupt_data_section(geolite2_city)
    geoip = MaxMindGeoIpLookup(geolite2_city)

    # When addresses with records are looked up
    with caplog.at_level(logging.WARNING):
        results = [geoip.lookup("203.0.113.7"), geoip.lookup("2001:db8::1")]

    # Then nothing is raised or found, one warning is logged, and it does not quote the address
    # (the reader's own error message does)
    assert results == [None, None]
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) == 1
    assert not any("203.0.113.7" in str(vars(record)) for record in caplog.records)


def test_locatable_address_unwraps_ipv4_mapped_addresses() -> None:
    assert str(locatable_address("::ffff:203.0.113.7")) == "203.0.113.7"
    assert str(locatable_address(" 2001:db8::1 ")) == "2001:db8::1"
    assert locatable_address("::ffff:192.168.0.1") is None


def test_a_record_of_unexpected_shape_gives_no_geo() -> None:
    # Given records whose fields have the wrong types (another kind of .mmdb, or a damaged one)
    odd_records: list[Any] = [
        None,
        "GB",
        [],
        {"country": "GB", "city": ["London"], "location": {"latitude": "north", "longitude": None}},
        {"subdivisions": {"iso_code": "ENG"}, "location": [51.5, -0.1]},
        {"subdivisions": [], "country": {"names": "United Kingdom"}},
    ]

    # When geo is read from them
    # Then there is none, and nothing is raised
    assert [geo_from_record(record) for record in odd_records] == [None] * len(odd_records)
