"""Bugs found in review, each pinned by the behaviour a user relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

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


# -- found by the fuzz, fault and security suites ---------------------------------------------------------


def test_a_batch_nested_thousands_deep_is_a_400_not_a_crash() -> None:
    from beacon.domain.errors import InvalidRequestError
    from beacon.models.requests import parse_batch_request

    with pytest.raises(InvalidRequestError):
        parse_batch_request("[" * 3000 + "]" * 3000)


@pytest.mark.parametrize(
    ("timestamp", "sent_at"), [("0001-01-01T00:00:00+01:00", None), ("0001-01-01T00:00:00", "2028-01-01T00:00:00Z")]
)
def test_extreme_timestamps_fall_back_to_the_receipt_time(timestamp: str, sent_at: str | None) -> None:
    from beacon.domain.event_time import resolve_event_time

    assert resolve_event_time(timestamp, NOW, sent_at) == (NOW, False)


def test_a_lone_surrogate_in_a_header_is_hashed_not_a_crash() -> None:
    from beacon.domain.auth import hash_secret
    from beacon.domain.ids import derive_device_id

    assert derive_device_id(b"salt", "p", "\ud800", "203.0.113.7")
    assert hash_secret("sec_\ud800", "00" * 16)


def test_throttled_transactions_are_dependency_errors() -> None:
    from botocore.exceptions import ClientError

    from beacon.domain.errors import DependencyUnavailableError
    from beacon.store.dynamodb import translate_errors

    error = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
        },
        "TransactWriteItems",
    )
    with pytest.raises(DependencyUnavailableError), translate_errors():
        raise error


def test_every_aws_call_gives_up_inside_the_function_timeout() -> None:
    from beacon.store.aws import CLIENT_CONFIG

    config: Any = CLIENT_CONFIG  # botocore declares Config's options dynamically
    # botocore rewrites the retries dict in place when it builds a client (max_attempts → total_max_attempts)
    attempts = config.retries.get("total_max_attempts") or 1 + config.retries["max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) + 1 < 10  # function timeout: 10 s


def test_a_batch_event_larger_than_a_track_body_is_rejected_alone() -> None:
    from beacon.domain.batch import ingest_batch
    from beacon.domain.entities import Caller, ClientType, RequestMeta
    from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, fake_stores, tracked

    events = FakeEventStore()
    caller = Caller("p", "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    big = {"type": "track", "payload": {"name": "big", "properties": {f"k{i}": "v" * 3000 for i in range(40)}}}
    small = {"type": "track", "payload": {"name": "small"}}
    outcome = ingest_batch(
        [big, small],
        caller,
        RequestMeta("r", "203.0.113.7", "curl/8.5.0"),
        fake_stores(events),
        UNIT_TEST_ENRICHER,
        NOW,
        "b",
    )
    assert [(index, error.status) for index, error in outcome.rejected] == [(0, 413)]
    assert [event.name for event in tracked(events)] == ["small"]


def test_a_quick_retry_after_a_failed_event_write_is_stored_not_taken_for_a_double_send() -> None:
    from beacon.domain.entities import Caller, ClientType, Event, RequestMeta
    from beacon.domain.errors import DependencyUnavailableError
    from beacon.domain.ingest import ingest
    from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, fake_stores, tracked

    class FailingOnce(FakeEventStore):
        failed = False

        def put_event(self, event: Event) -> None:
            if event.name == "again" and not self.failed:
                self.failed = True
                raise DependencyUnavailableError("DynamoDB is unavailable")
            super().put_event(event)

    events = FailingOnce()
    stores = fake_stores(events)
    caller = Caller("p", "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    meta = RequestMeta("r", "203.0.113.7", "curl/8.5.0")
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "again"}}))
    ingest(
        parse_track_request(json.dumps({"type": "track", "payload": {"name": "warm"}})),
        caller,
        meta,
        stores,
        UNIT_TEST_ENRICHER,
        NOW,
    )
    with pytest.raises(DependencyUnavailableError):
        ingest(request, caller, meta, stores, UNIT_TEST_ENRICHER, NOW + timedelta(seconds=1))
    ingest(request, caller, meta, stores, UNIT_TEST_ENRICHER, NOW + timedelta(seconds=1, milliseconds=500))
    assert [event.name for event in tracked(events)] == ["warm", "again"]
