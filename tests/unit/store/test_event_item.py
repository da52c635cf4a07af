"""The DynamoDB item of an event: keys that spread writes and sort by time, exact numbers, expiry, size."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from beacon.domain.entities import Event
from beacon.domain.ids import derive_device_ids, new_event_id, new_session_id
from beacon.store.dynamodb import deserialize_item as item_to_dict
from beacon.store.dynamodb import item_size
from beacon.store.events import EVENT_SHARDS, event_to_item, isoformat_ms

CREATED = datetime(2026, 3, 1, 12, 34, 56, 789123, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 1, 12, 35, 0, 1000, tzinfo=UTC)
RETENTION_DAYS = 400


def event(**changes: Any) -> Event:
    base = Event(
        id="0195a1b2c3d4e5f60718293a4b5c",
        project_id="project-a",
        client_id="3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
        name="screen_view",
        properties={"path": "/home"},
        profile_id="user-1",
        groups=None,
        device_id="d" * 32,
        session_id="s" * 32,
        created_at=CREATED,
        received_at=RECEIVED,
    )
    return replace(base, **changes)


def stored(value: Event) -> dict[str, Any]:
    """The item as DynamoDB stores it, read back as plain Python values."""
    return item_to_dict(event_to_item(value, RETENTION_DAYS))


def test_partition_key_is_the_project_and_a_shard_within_range() -> None:
    # Given many events of one project
    events = [event(id=f"{i:028x}") for i in range(200)]

    # When they become items
    partition_keys = [stored(e)["pk"] for e in events]

    # Then every key is "<project>#<shard>" with 0 <= shard < EVENT_SHARDS, and writes use every shard
    shards = set()
    for key in partition_keys:
        project, shard = key.rsplit("#", 1)
        assert project == "project-a"
        assert 0 <= int(shard) < EVENT_SHARDS
        shards.add(int(shard))
    assert shards == set(range(EVENT_SHARDS))


def test_an_event_always_lands_in_the_same_shard() -> None:
    # Given one event written twice (a retry)
    # When it becomes an item each time
    # Then the keys are identical, so the conditional put can detect the duplicate
    assert event_to_item(event(), RETENTION_DAYS)["pk"] == event_to_item(event(), RETENTION_DAYS)["pk"]
    assert event_to_item(event(), RETENTION_DAYS)["sk"] == event_to_item(event(), RETENTION_DAYS)["sk"]


def test_sort_key_starts_with_the_iso_event_time_and_ends_with_the_id() -> None:
    # Given an event
    # When it becomes an item
    item = stored(event())

    # Then the sort key is "<event time, ISO UTC, ms>#<id>"
    assert item["sk"] == "2026-03-01T12:34:56.789Z#0195a1b2c3d4e5f60718293a4b5c"
    assert item["createdAt"] == "2026-03-01T12:34:56.789Z"
    assert item["receivedAt"] == "2026-03-01T12:35:00.001Z"


def test_sort_keys_order_events_by_event_time() -> None:
    # Given events in time order whose ids do not sort the same way
    times = [CREATED + timedelta(milliseconds=ms) for ms in (0, 1, 999, 60_000, 86_400_000)]
    events = [event(id=f"{len(times) - i:028x}", created_at=t) for i, t in enumerate(times)]

    # When they become items
    sort_keys = [stored(e)["sk"] for e in events]

    # Then sorting by key is sorting by time (a range query returns them in order)
    assert sort_keys == sorted(sort_keys)


def test_sort_key_times_are_utc_whatever_the_input_zone() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    assert isoformat_ms(datetime(2026, 3, 1, 14, 0, tzinfo=two_hours_east)) == "2026-03-01T12:00:00.000Z"


def test_floats_become_exact_decimals() -> None:
    # Given properties with floats that binary floating point cannot represent exactly
    value = event(properties={"price": 9.99, "ratio": 0.1, "nested": {"temp": -3.5e-7}, "list": [1.1, 2]})

    # When the event becomes an item and is read back
    properties = stored(value)["properties"]

    # Then each number is the decimal the client sent, not its binary approximation
    assert properties["price"] == Decimal("9.99")
    assert properties["ratio"] == Decimal("0.1")
    assert properties["nested"]["temp"] == Decimal("-3.5E-7")
    assert properties["list"] == [Decimal("1.1"), Decimal(2)]


def test_round_trip_keeps_every_kind_of_property() -> None:
    # Given properties of every JSON kind
    properties = {
        "text": "héllo ✓",
        "empty": "",
        "int": 12345678901234567890123456789012345678,
        "negative": -7,
        "flag": True,
        "off": False,
        "nothing": None,
        "list": ["a", 1, None, {"k": "v"}],
        "empty_list": [],
        "object": {"a": {"b": {"c": 1}}},
        "empty_object": {},
    }

    # When the event is stored and read back
    read_back = stored(event(properties=properties))["properties"]

    # Then the properties are unchanged (numbers compare equal as Decimals)
    assert read_back == properties


def test_profile_index_keys_are_present_only_with_a_profile_id() -> None:
    # Given an event with a profile id and one without
    with_profile = stored(event(profile_id="user-1"))
    without_profile = stored(event(profile_id=None))

    # Then only the first is in the profile index, keyed by project and profile, sorted like the table
    assert with_profile["profileId"] == "user-1"
    assert with_profile["gsi1pk"] == "project-a#user-1"
    assert with_profile["gsi1sk"] == with_profile["sk"]
    assert not {"profileId", "gsi1pk", "gsi1sk"} & set(without_profile)


def test_groups_are_stored_only_when_sent() -> None:
    # Given an event with groups and one without
    # Then the groups are kept in order, and absent groups are not stored as an empty list
    assert stored(event(groups=["org-2", "org-1"]))["groups"] == ["org-2", "org-1"]
    assert "groups" not in stored(event(groups=None))


def test_expiry_is_received_time_plus_retention_days() -> None:
    # Given an event received some time after it happened
    value = event(created_at=CREATED - timedelta(days=3), received_at=RECEIVED)

    # When it becomes an item
    item = stored(value)

    # Then DynamoDB's TTL removes it the retention period after receipt, in epoch seconds
    assert item["expiresAt"] == int((RECEIVED + timedelta(days=RETENTION_DAYS)).timestamp())
    assert item_to_dict(event_to_item(value, 30))["expiresAt"] == int((RECEIVED + timedelta(days=30)).timestamp())


def test_item_keeps_the_events_identity_fields() -> None:
    # Given an event
    # When it becomes an item
    item = stored(event())

    # Then who sent it and which device/session it belongs to are stored
    assert item["id"] == "0195a1b2c3d4e5f60718293a4b5c"
    assert item["projectId"] == "project-a"
    assert item["clientId"] == "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11"
    assert item["name"] == "screen_view"
    assert item["deviceId"] == "d" * 32
    assert item["sessionId"] == "s" * 32


@pytest.mark.parametrize("with_profile", [True, False])
def test_a_typical_event_item_is_under_1_kb(with_profile: bool) -> None:
    # Given a typical event (the committed events/track.json) with real ids and its enrichment
    ids = derive_device_ids(
        b"stack-secret", "example-project", "Mozilla/5.0 (Macintosh) Safari/605.1.15", "203.0.113.7", RECEIVED
    )
    value = Event(
        id=new_event_id(RECEIVED),
        project_id="example-project",
        client_id="3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
        name="screen_view",
        properties={"path": "/home", "plan": "pro"},
        profile_id="user-1" if with_profile else None,
        groups=None,
        device_id=ids.today,
        session_id=new_session_id(),
        created_at=RECEIVED,
        received_at=RECEIVED,
        device={
            "os": "Mac OS X",
            "osVersion": "10.15.7",
            "browser": "Safari",
            "browserVersion": "17.4",
            "device": "desktop",
            "brand": "Apple",
            "model": "Mac",
        },
        geo={
            "country": "GB",
            "countryName": "United Kingdom",
            "region": "ENG",
            "regionName": "England",
            "city": "London",
            "postalCode": "EC1A",
            "latitude": 51.5164,
            "longitude": -0.093,
            "timeZone": "Europe/London",
        },
    )

    # When it becomes an item
    item = event_to_item(value, RETENTION_DAYS)

    # Then it stays under 1 KB as DynamoDB sizes items, i.e. one write capacity unit per event
    assert item_size(item) < 1024
