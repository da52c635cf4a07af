"""Geo from CloudFront viewer-location headers: decoding, validation, bounds, and the stored shape."""

from __future__ import annotations

from dataclasses import replace

import pytest

from beacon.domain.geo import MAX_GEO_TEXT_LENGTH, Geo, build_geo, geo_from_viewer_headers

LONDON_HEADERS = {
    "cloudfront-viewer-country": "GB",
    "cloudfront-viewer-country-name": "United Kingdom",
    "cloudfront-viewer-country-region": "ENG",
    "cloudfront-viewer-country-region-name": "England",
    "cloudfront-viewer-city": "London",
    "cloudfront-viewer-postal-code": "EC1A",
    "cloudfront-viewer-time-zone": "Europe/London",
    "cloudfront-viewer-latitude": "51.50740",
    "cloudfront-viewer-longitude": "-0.12780",
}


def test_every_viewer_header_is_mapped() -> None:
    # Given all nine viewer-location headers CloudFront can forward
    headers = dict(LONDON_HEADERS)

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then each lands in its field, coordinates as floats
    assert geo == Geo(
        country="GB",
        country_name="United Kingdom",
        region="ENG",
        region_name="England",
        city="London",
        postal_code="EC1A",
        latitude=51.5074,
        longitude=-0.1278,
        time_zone="Europe/London",
    )


def test_unrelated_headers_are_ignored() -> None:
    # Given the viewer headers among others, some with a CloudFront-looking name
    headers = {**LONDON_HEADERS, "user-agent": "curl/8.5.0", "cloudfront-viewer-metro-code": "505"}

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then only the viewer-location fields are read
    assert geo == geo_from_viewer_headers(LONDON_HEADERS)


@pytest.mark.parametrize(
    ("header", "encoded", "decoded"),
    [
        ("cloudfront-viewer-city", "S%C3%A3o%20Paulo", "São Paulo"),
        ("cloudfront-viewer-city", "Z%C3%BCrich", "Zürich"),
        ("cloudfront-viewer-city", "%E6%9D%B1%E4%BA%AC", "東京"),
        ("cloudfront-viewer-country-region-name", "S%C3%A3o%20Paulo", "São Paulo"),
        ("cloudfront-viewer-country-name", "C%C3%B4te%20d%27Ivoire", "Côte d'Ivoire"),
        ("cloudfront-viewer-postal-code", "01310%2D100", "01310-100"),
    ],
)
def test_percent_encoded_values_are_decoded(header: str, encoded: str, decoded: str) -> None:
    # Given a value CloudFront percent-encoded (it encodes non-ASCII characters, RFC 3986)
    headers = {header: encoded}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then the stored text is the decoded one
    assert geo is not None
    assert decoded in geo.as_item().values()


def test_a_plus_sign_stays_a_plus_sign() -> None:
    # Given values with "+" (RFC 3986 percent-encoding, not form encoding: "+" is not a space)
    headers = {"cloudfront-viewer-time-zone": "Etc/GMT+5", "cloudfront-viewer-city": "A+B"}

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then the plus signs are kept
    assert geo == Geo(time_zone="Etc/GMT+5", city="A+B")


def test_plain_values_are_read_unchanged() -> None:
    # Given values that were never encoded, including a lone percent sign
    headers = {"cloudfront-viewer-city": "Ann Arbor", "cloudfront-viewer-country-name": "100% Land"}

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then they are kept as sent
    assert geo == Geo(city="Ann Arbor", country_name="100% Land")


@pytest.mark.parametrize("broken", ["Z%C3rich", "Z%FFrich", "Z%zzrich", "Z%"])
def test_broken_percent_encoding_does_not_raise(broken: str) -> None:
    # Given a city whose percent-encoding is broken (truncated, invalid UTF-8, not hex)
    headers = {"cloudfront-viewer-city": broken}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then a city is still produced, its undecodable bytes replaced, and nothing is raised
    assert geo is not None
    assert geo.city is not None
    assert geo.city.startswith("Z")


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        ("42.30680", "-83.70590", (42.3068, -83.7059)),
        ("-33.8688", "151.2093", (-33.8688, 151.2093)),
        ("+90", "-180", (90.0, -180.0)),
        ("0", "0", (0.0, 0.0)),
        (" 51.5 ", " -0.12 ", (51.5, -0.12)),
    ],
)
def test_coordinates_are_parsed_as_floats(latitude: str, longitude: str, expected: tuple[float, float]) -> None:
    # Given latitude and longitude headers
    headers = {"cloudfront-viewer-latitude": latitude, "cloudfront-viewer-longitude": longitude}

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then they are floats
    assert geo is not None
    assert (geo.latitude, geo.longitude) == expected
    assert isinstance(geo.latitude, float)
    assert isinstance(geo.longitude, float)


@pytest.mark.parametrize(
    "malformed",
    ["north", "", "nan", "NaN", "inf", "-infinity", "1e5", "4e1", "1_0", "42,30", "--1", "42.", ".5", "0x10", "42.3.1"],
)
def test_a_malformed_coordinate_is_ignored(malformed: str) -> None:
    # Given a malformed latitude and longitude beside a valid country
    headers = {
        "cloudfront-viewer-country": "US",
        "cloudfront-viewer-latitude": malformed,
        "cloudfront-viewer-longitude": malformed,
    }

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then the coordinates are left out and the rest is kept
    assert geo == Geo(country="US")


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        ("90.1", "10", Geo(longitude=10.0)),
        ("-91", "10", Geo(longitude=10.0)),
        ("10", "180.5", Geo(latitude=10.0)),
        ("10", "-181", Geo(latitude=10.0)),
        ("999", "999", None),
    ],
)
def test_an_out_of_range_coordinate_is_ignored(latitude: str, longitude: str, expected: Geo | None) -> None:
    # Given coordinates of which one or both lie off the globe
    headers = {"cloudfront-viewer-latitude": latitude, "cloudfront-viewer-longitude": longitude}

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then only a coordinate in range is kept
    assert geo == expected


@pytest.mark.parametrize(
    "headers",
    [{}, {"user-agent": "Mozilla/5.0", "x-forwarded-for": "203.0.113.7"}],
)
def test_no_viewer_headers_means_no_geo(headers: dict[str, str]) -> None:
    # Given a request without viewer-location headers (e.g. REGIONAL without CloudFront)
    # When it is read
    # Then there is no geo at all, not an empty one
    assert geo_from_viewer_headers(headers) is None


def test_only_malformed_or_empty_values_mean_no_geo() -> None:
    # Given viewer headers that are all empty or malformed
    headers = {
        "cloudfront-viewer-country": "Great Britain",
        "cloudfront-viewer-city": "   ",
        "cloudfront-viewer-latitude": "north",
        "cloudfront-viewer-time-zone": "",
    }

    # When they are read
    # Then there is no geo
    assert geo_from_viewer_headers(headers) is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("GB", "GB"), ("gb", "GB"), (" US ", "US"), ("GBR", None), ("G1", None), ("<script>", None), ("G%42", "GB")],
)
def test_the_country_must_be_a_two_letter_code(sent: str, kept: str | None) -> None:
    # Given a country header
    headers = {"cloudfront-viewer-country": sent, "cloudfront-viewer-city": "Somewhere"}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then only an ISO 3166-1 alpha-2 code is kept, upper-cased
    assert geo is not None
    assert geo.country == kept


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("ENG", "ENG"), ("CA", "CA"), ("13", "13"), ("B", "B"), ("ca", "CA"), ("TOOLONG", None), ("N-Y", None)],
)
def test_the_region_must_be_a_code_of_up_to_three_characters(sent: str, kept: str | None) -> None:
    # Given a region header (CloudFront: "a code (up to three characters)", first-level ISO 3166-2)
    headers = {"cloudfront-viewer-country-region": sent, "cloudfront-viewer-city": "Somewhere"}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then only such a code is kept
    assert geo is not None
    assert geo.region == kept


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Etc/GMT-14", "Etc/GMT-14"),
        ("America%2FNew_York", "America/New_York"),
        ("Europe/London; DROP TABLE", None),
        ("Europe/" + "X" * 100, None),
    ],
)
def test_the_time_zone_must_look_like_an_iana_name(sent: str, kept: str | None) -> None:
    # Given a time-zone header
    headers = {"cloudfront-viewer-time-zone": sent, "cloudfront-viewer-city": "Somewhere"}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then only an IANA-shaped name is kept
    assert geo is not None
    assert geo.time_zone == kept


def test_overlong_values_are_bounded() -> None:
    # Given oversized text headers, one of them percent-encoded (an attacker can send them without CloudFront)
    headers = {
        "cloudfront-viewer-city": "A" * 10_000,
        "cloudfront-viewer-country-name": "%C3%A9" * 5_000,
        "cloudfront-viewer-country-region-name": "R" * 10_000,
        "cloudfront-viewer-postal-code": "9" * 10_000,
    }

    # When they are read
    geo = geo_from_viewer_headers(headers)

    # Then every text is cut to the bound
    assert geo == Geo(
        city="A" * MAX_GEO_TEXT_LENGTH,
        country_name="é" * MAX_GEO_TEXT_LENGTH,
        region_name="R" * MAX_GEO_TEXT_LENGTH,
        postal_code="9" * MAX_GEO_TEXT_LENGTH,
    )


def test_control_characters_are_removed() -> None:
    # Given a city with raw and percent-encoded control characters (log and CSV injection)
    headers = {"cloudfront-viewer-city": "Lon\tdon%0D%0AInjected%00"}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then they are gone
    assert geo == Geo(city="LondonInjected")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("%E2%80%AEnodnoL", "nodnoL", id="right-to-left-override-encoded"),
        pytest.param("\u202enodnoL", "nodnoL", id="right-to-left-override-raw"),
        pytest.param("Lon%E2%80%8Bdon", "London", id="zero-width-space"),
        pytest.param("Lon%E2%81%A6don%E2%81%A9", "London", id="isolates"),
        pytest.param("%EF%BB%BFLondon", "London", id="byte-order-mark"),
        pytest.param("Lon%C2%ADdon", "London", id="soft-hyphen"),
        pytest.param("Lon%E2%80%A8don", "London", id="line-separator"),
        pytest.param("%E2%80%AE", None, id="only-format-characters"),
    ],
)
def test_format_characters_are_removed(sent: str, kept: str | None) -> None:
    # Given a city name with invisible format characters (Unicode Cf, e.g. U+202E RIGHT-TO-LEFT OVERRIDE, which
    # makes a display read backwards) or a line separator
    headers = {"cloudfront-viewer-city": sent, "cloudfront-viewer-country": "GB"}

    # When it is read
    geo = geo_from_viewer_headers(headers)

    # Then they are gone, like control characters; a name of nothing else is no name
    assert geo is not None
    assert geo.city == kept


def test_as_item_uses_camel_case_keys() -> None:
    # Given a complete geo
    geo = geo_from_viewer_headers(LONDON_HEADERS)
    assert geo is not None

    # When it is turned into the stored shape
    item = geo.as_item()

    # Then the keys are camelCase
    assert item == {
        "country": "GB",
        "countryName": "United Kingdom",
        "region": "England",
        "regionCode": "ENG",
        "city": "London",
        "postalCode": "EC1A",
        "latitude": 51.5074,
        "longitude": -0.1278,
        "timeZone": "Europe/London",
    }


def test_as_item_leaves_out_absent_values() -> None:
    # Given a geo with only a country and a zero coordinate
    geo = Geo(country="GH", latitude=0.0)

    # When it is turned into the stored shape
    # Then absent values are left out, a zero is not
    assert geo.as_item() == {"country": "GH", "latitude": 0.0}


def test_is_empty_only_when_every_field_is_absent() -> None:
    assert Geo().is_empty
    assert Geo().as_item() == {}
    assert not Geo(time_zone="Europe/London").is_empty
    assert not Geo(longitude=0.0).is_empty


def test_build_geo_takes_numbers_from_a_database_but_not_booleans() -> None:
    # Given raw values as a GeoIP database returns them: numbers for coordinates
    # When a geo is built from them
    geo = build_geo(country="DE", latitude=52.52, longitude=True)

    # Then the number is kept and the boolean is not taken for 1.0
    assert geo == Geo(country="DE", latitude=52.52)


def test_the_same_viewer_headers_give_the_same_geo_again() -> None:
    # Given a viewer's headers read once (their location is kept for the next request from that place)
    first = geo_from_viewer_headers(LONDON_HEADERS)

    # When they arrive again, and once more beside an overlong value that is never kept
    again = geo_from_viewer_headers(dict(LONDON_HEADERS))
    overlong = geo_from_viewer_headers({**LONDON_HEADERS, "cloudfront-viewer-postal-code": "9" * 10_000})

    # Then the location is the same each time
    assert first is not None
    assert again == first
    assert overlong == replace(first, postal_code="9" * MAX_GEO_TEXT_LENGTH)
