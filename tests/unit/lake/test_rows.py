"""Stored event items → lake rows, and a stream batch → one sink write (domain/lake.py), without sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from beacon.domain.lake import (
    EVENT_COLUMNS,
    PARTITION_COLUMNS,
    LakeRecordError,
    StreamRecord,
    consume_records,
    event_row,
)


def item(**fields: Any) -> dict[str, Any]:
    return {
        "id": "0190aa00000011112222333344445555",
        "projectId": "shop",
        "clientId": "client-1",
        "name": "screen_view",
        "properties": {"title": "Home", "price": Decimal("9.5"), "__query": {"utm_source": "news", "q": "x"}},
        "deviceId": "d1",
        "sessionId": "s1",
        "createdAt": "2026-12-01T23:59:59.999Z",
        "receivedAt": "2026-12-02T00:00:00.100Z",
        **fields,
    }


class RecordingSink:
    def __init__(self) -> None:
        self.writes: list[tuple[list[dict[str, Any]], str]] = []

    def write(self, rows: list[dict[str, Any]], batch_key: str) -> None:
        self.writes.append((rows, batch_key))


def test_every_column_is_present_and_missing_fields_are_null():
    # Given a custom event with none of the page, SDK, device or geo fields
    row = event_row(item())
    # Then the row has every column, the absent ones null, partitioned by the event time's UTC day
    assert set(row) == {name for name, _ in (*EVENT_COLUMNS, *PARTITION_COLUMNS)}
    assert (row["project"], row["day"]) == ("shop", "2026-12-01")
    assert row["path"] is None and row["referrer_name"] is None and row["country"] is None
    assert row["created_at"] == datetime(2026, 12, 1, 23, 59, 59, 999000, tzinfo=UTC)


def test_the_derived_fields_are_read_from_the_item_when_present():
    # Given an item with the page, SDK, device and geo fields, and a profile
    row = event_row(
        item(
            path="/pricing",
            origin="https://shop.example.com",
            referrer="https://www.google.com/",
            referrerName="Google",
            referrerType="search",
            sdkName="web",
            sdkVersion="1.0.1",
            profileId="u-1",
            device={"os": "iOS", "osVersion": "18", "browser": "Safari", "device": "mobile"},
            geo={"country": "SE", "region": "AB", "city": "Stockholm"},
            revenue=Decimal(1999),
            groups=["org-1"],
            properties={"__query": {"utm_source": "news", "utm_campaign": ["spring", "x"]}, "__hash": "top"},
        )
    )
    # Then each becomes its column; UTM parameters come from the page query
    assert row["path"] == "/pricing" and row["referrer_name"] == "Google" and row["referrer_type"] == "search"
    assert (row["sdk_name"], row["sdk_version"]) == ("web", "1.0.1")
    assert (row["os"], row["os_version"], row["browser"], row["device"]) == ("iOS", "18", "Safari", "mobile")
    assert (row["country"], row["region"], row["city"]) == ("SE", "AB", "Stockholm")
    assert (row["utm_source"], row["utm_campaign"], row["hash"]) == ("news", "spring", "top")
    assert (row["profile_id"], row["identified"], row["revenue"], row["groups"]) == ("u-1", True, 1999, ["org-1"])
    assert row["properties"] == "{}"


def test_an_anonymous_event_gets_its_device_as_profile_and_ordinary_properties_as_json():
    row = event_row(item())
    assert (row["profile_id"], row["identified"]) == ("d1", False)
    assert row["properties"] == '{"price":9.5,"title":"Home"}'
    assert row["query"] == '{"q":"x","utm_source":"news"}'


@pytest.mark.parametrize(
    "broken",
    [{"id": ""}, {"projectId": "../etc"}, {"createdAt": "yesterday"}, {"sessionId": None}],
)
def test_an_item_that_is_no_stored_event_is_refused(broken):
    with pytest.raises(LakeRecordError):
        event_row(item(**broken))


def test_a_batch_is_one_write_of_its_inserts_each_event_once():
    # Given a batch with an event twice, a TTL removal, a modification and a malformed insert
    records = [
        StreamRecord("1", "INSERT", item()),
        StreamRecord("2", "INSERT", item()),
        StreamRecord("3", "REMOVE", None),
        StreamRecord("4", "MODIFY", item(id="0190aa00000011112222333344449999")),
        StreamRecord("5", "INSERT", item(projectId="")),
        StreamRecord("6", "INSERT", item(id="0190aa00000011112222333344446666")),
    ]
    sink = RecordingSink()
    # When it is consumed
    consumed = consume_records(records, sink, "label-1")
    # Then one write carries the two distinct inserted events, under the batch's key
    [(rows, key)] = sink.writes
    assert key == "label-1"
    assert [row["id"] for row in rows] == ["0190aa00000011112222333344445555", "0190aa00000011112222333344446666"]
    assert (consumed.rows, consumed.skipped, consumed.malformed) == (2, 3, 1)


def test_a_batch_without_inserts_writes_nothing():
    sink = RecordingSink()
    consume_records([StreamRecord("1", "REMOVE", None)], sink, "k")
    assert sink.writes == []
