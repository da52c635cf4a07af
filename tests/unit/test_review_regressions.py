"""Bugs found in review, each pinned by the behaviour a user relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from beacon.domain.auth import create_client
from beacon.domain.entities import ClientType
from beacon.models.requests import MAX_PROPERTY_DEPTH, parse_track_request
from beacon.store.events import isoformat_ms

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_project_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="project id"):
        create_client("project-a\n", ClientType.WRITE, NOW)


@pytest.mark.parametrize("profile_id", [True, False, "", "x" * 257, 4.5, None, ["a"]])
def test_profile_ids_that_are_not_bounded_strings_or_integers_are_refused(profile_id: object) -> None:
    body = json.dumps({"type": "identify", "payload": {"profileId": profile_id}})
    with pytest.raises(ValidationError):
        parse_track_request(body)


def test_an_integer_profile_id_is_the_same_profile_as_its_string() -> None:
    as_number = parse_track_request(json.dumps({"type": "identify", "payload": {"profileId": 7}}))
    as_string = parse_track_request(json.dumps({"type": "identify", "payload": {"profileId": "7"}}))
    assert as_number.payload == as_string.payload


def test_sort_key_times_are_utc_whatever_the_input_zone() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    assert isoformat_ms(datetime(2026, 3, 1, 14, 0, tzinfo=two_hours_east)) == "2026-03-01T12:00:00.000Z"


def nested(levels: int) -> dict[str, object]:
    """`levels` objects deep, the properties object included, with a number at the bottom."""
    value: object = 1
    for level in range(levels):
        value = {f"l{level}": value}
    assert isinstance(value, dict)
    return value


def test_properties_exactly_at_the_depth_limit_are_accepted_with_a_leaf_value() -> None:
    body = {"type": "track", "payload": {"name": "x", "properties": nested(MAX_PROPERTY_DEPTH)}}
    parse_track_request(json.dumps(body))


def test_properties_one_level_deeper_are_refused() -> None:
    body = {"type": "track", "payload": {"name": "x", "properties": nested(MAX_PROPERTY_DEPTH + 1)}}
    with pytest.raises(ValidationError):
        parse_track_request(json.dumps(body))
