"""Where a viewer is: from CloudFront's viewer-location headers, or from an optional GeoIP database.

CloudFront percent-encodes non-ASCII characters in these header values (RFC 3986), so they are
decoded once here. When Beacon runs REGIONAL without CloudFront in front, anyone can send these
headers: every value is therefore validated or bounded, and a malformed one is dropped, never raised.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import unquote

from beacon.domain.display_text import visible_text

MAX_GEO_TEXT_LENGTH = 128
# A decoded character is at most 4 UTF-8 bytes of 3 characters each ("%XX"): longer raw values are cut
# before decoding, and whatever the cut spoils lies past MAX_GEO_TEXT_LENGTH, which is cut again after.
_MAX_ENCODED_LENGTH = MAX_GEO_TEXT_LENGTH * 12

_COUNTRY_CODE = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2
_REGION_CODE = re.compile(r"[A-Z0-9]{1,3}")  # first-level ISO 3166-2 subdivision, "up to three characters"
_TIME_ZONE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")  # IANA names: "America/Los_Angeles", "Etc/GMT+5"
_COORDINATE = re.compile(r"[+-]?\d{1,3}(?:\.\d{1,15})?")  # CloudFront sends e.g. "42.30680", "-83.70590"

VIEWER_COUNTRY = "cloudfront-viewer-country"
VIEWER_COUNTRY_NAME = "cloudfront-viewer-country-name"
VIEWER_COUNTRY_REGION = "cloudfront-viewer-country-region"
VIEWER_COUNTRY_REGION_NAME = "cloudfront-viewer-country-region-name"
VIEWER_CITY = "cloudfront-viewer-city"
VIEWER_POSTAL_CODE = "cloudfront-viewer-postal-code"
VIEWER_TIME_ZONE = "cloudfront-viewer-time-zone"
VIEWER_LATITUDE = "cloudfront-viewer-latitude"
VIEWER_LONGITUDE = "cloudfront-viewer-longitude"


@dataclass(frozen=True)
class Geo:
    country: str | None = None  # ISO 3166-1 alpha-2, e.g. "GB"
    country_name: str | None = None
    region: str | None = None  # first-level ISO 3166-2 subdivision code, e.g. "ENG" (stored as regionCode)
    region_name: str | None = None  # e.g. "England" (stored as region, as OpenPanel names the subdivision)
    city: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    time_zone: str | None = None

    def as_item(self) -> dict[str, str | float]:
        """camelCase keys, absent values left out. `region` is the subdivision's name where it is known (OpenPanel's
        `region`), else its code; `regionCode` keeps the code beside it."""
        values: dict[str, str | float | None] = {
            "country": self.country,
            "countryName": self.country_name,
            "region": self.region_name or self.region,
            "regionCode": self.region,
            "city": self.city,
            "postalCode": self.postal_code,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "timeZone": self.time_zone,
        }
        return {key: value for key, value in values.items() if value is not None}

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, field.name) is None for field in fields(self))


def normalize_geo_text(value: object) -> str | None:
    """A display string (country, region or city name, postal code): control and format characters removed
    (domain/display_text.py), bounded."""
    if not isinstance(value, str):
        return None
    text = visible_text(value).strip()[:MAX_GEO_TEXT_LENGTH].strip()
    return text or None


def _normalize_code(value: object, pattern: re.Pattern[str]) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if pattern.fullmatch(code) else None


def normalize_country_code(value: object) -> str | None:
    return _normalize_code(value, _COUNTRY_CODE)


def normalize_region_code(value: object) -> str | None:
    return _normalize_code(value, _REGION_CODE)


def normalize_time_zone(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip()
    return name if _TIME_ZONE.fullmatch(name) else None


def _parse_coordinate(value: object, limit: float) -> float | None:
    if isinstance(value, str):
        text = value.strip()
        # float() alone would also take "nan", "inf", "1e308" and "1_0".
        if not _COORDINATE.fullmatch(text):
            return None
        number = float(text)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def parse_latitude(value: object) -> float | None:
    return _parse_coordinate(value, 90.0)


def parse_longitude(value: object) -> float | None:
    return _parse_coordinate(value, 180.0)


def build_geo(
    *,
    country: object = None,
    country_name: object = None,
    region: object = None,
    region_name: object = None,
    city: object = None,
    postal_code: object = None,
    latitude: object = None,
    longitude: object = None,
    time_zone: object = None,
) -> Geo | None:
    """A Geo from untrusted raw values (already decoded): invalid ones are dropped; nothing valid → None."""
    geo = Geo(
        country=normalize_country_code(country),
        country_name=normalize_geo_text(country_name),
        region=normalize_region_code(region),
        region_name=normalize_geo_text(region_name),
        city=normalize_geo_text(city),
        postal_code=normalize_geo_text(postal_code),
        latitude=parse_latitude(latitude),
        longitude=parse_longitude(longitude),
        time_zone=normalize_time_zone(time_zone),
    )
    return None if geo.is_empty else geo


def _decoded_value(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    # unquote never raises: undecodable bytes become U+FFFD, a stray "%" stays as it is. Not unquote_plus:
    # CloudFront encodes per RFC 3986, where "+" is a literal plus.
    return unquote(raw[:_MAX_ENCODED_LENGTH], errors="replace")


# Each viewer header and the build_geo() argument it gives.
_VIEWER_FIELDS = (
    (VIEWER_COUNTRY, "country"),
    (VIEWER_COUNTRY_NAME, "country_name"),
    (VIEWER_COUNTRY_REGION, "region"),
    (VIEWER_COUNTRY_REGION_NAME, "region_name"),
    (VIEWER_CITY, "city"),
    (VIEWER_POSTAL_CODE, "postal_code"),
    (VIEWER_LATITUDE, "latitude"),
    (VIEWER_LONGITUDE, "longitude"),
    (VIEWER_TIME_ZONE, "time_zone"),
)
# Viewers of one place send the same values: decoding and checking them once is enough (bench/cpu.py). Sets of values
# longer than this altogether are not cached (bounds the cache's memory: they are unusual, or forged).
CACHE_SIZE = 4096
_CACHED_LENGTH = 512


def _geo_from_values(values: tuple[object, ...]) -> Geo | None:
    """`values` in the order of _VIEWER_FIELDS."""
    decoded = {name: _decoded_value(value) for (_, name), value in zip(_VIEWER_FIELDS, values, strict=True)}
    return build_geo(**decoded)


_cached_geo_from_values = functools.lru_cache(maxsize=CACHE_SIZE)(_geo_from_values)


def geo_from_viewer_headers(headers: Mapping[str, str]) -> Geo | None:
    """The viewer's location from CloudFront-Viewer-* headers (names lower-cased); None when there is none."""
    values = tuple(headers.get(header) for header, _ in _VIEWER_FIELDS)
    size = 0
    for value in values:
        if value is not None:
            size += len(value) if isinstance(value, str) else _CACHED_LENGTH + 1  # (only strings are hashable here)
    return _cached_geo_from_values(values) if size <= _CACHED_LENGTH else _geo_from_values(values)
