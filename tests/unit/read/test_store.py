"""The read store's pure parts: sort-key bounds between pages, and stored items back to the API's shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from beacon.domain.entities import Event, TimeWindow
from beacon.domain.ids import new_event_id
from beacon.models.reads import ExportEvent
from beacon.store.dynamodb import deserialize_item
from beacon.store.events import event_to_item, isoformat_ms
from beacon.store.reads import event_from_item, from_attribute, key_before, plain, window_bounds

MOMENT = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)


def sort_key(moment: datetime) -> str:
    return f"{isoformat_ms(moment)}#{new_event_id(moment)}"


def test_key_before_admits_exactly_the_sort_keys_below_it():
    # Given sort keys of events around one moment, many sharing a millisecond
    rng = random.Random(7)
    keys = sorted({sort_key(MOMENT + timedelta(milliseconds=rng.randrange(5))) for _ in range(300)})
    for key in keys:
        # When the bound below one key is taken
        bound = key_before(key)
        # Then every smaller key is within it, and the key itself and every larger one are not
        assert all((other <= bound) == (other < key) for other in keys), key


def test_key_before_handles_a_last_hex_digit_of_zero():
    key = f"{isoformat_ms(MOMENT)}#019cb0e7b8a0aaaaaaaaaaaaaaa0"
    assert f"{isoformat_ms(MOMENT)}#019cb0e7b8a0aaaaaaaaaaaaaaa0" > key_before(key)
    assert f"{isoformat_ms(MOMENT)}#019cb0e7b8a0aaaaaaaaaaaaaa9f" <= key_before(key)


def test_window_bounds_cover_every_event_id_of_the_end_millisecond():
    window = TimeWindow(MOMENT - timedelta(hours=1), MOMENT)
    lower, upper = window_bounds(window, None) or ("", "")
    assert lower <= sort_key(window.start) and sort_key(window.end) <= upper
    assert sort_key(window.end + timedelta(milliseconds=1)) > upper
    assert sort_key(window.start - timedelta(milliseconds=1)) < lower


def test_window_bounds_stop_below_the_cursor_and_vanish_below_the_window():
    window = TimeWindow(MOMENT - timedelta(hours=1), MOMENT)
    after = sort_key(MOMENT - timedelta(minutes=5))
    assert window_bounds(window, after) == (isoformat_ms(window.start), key_before(after))
    # a position older than the window leaves nothing to query (BETWEEN would refuse upper < lower)
    assert window_bounds(window, sort_key(window.start - timedelta(milliseconds=1))) is None


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ({"S": "x"}, "x"),
        ({"N": "42"}, 42),
        ({"N": "9.99"}, 9.99),
        ({"N": "1E+30"}, 10**30),
        ({"N": "1E-100"}, 1e-100),
        ({"N": "10000000000000000000000000000000000000"}, 10**37),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"L": [{"N": "1"}, {"S": "a"}]}, [1, "a"]),
        ({"M": {"a": {"M": {"b": {"N": "-2.5"}}}}}, {"a": {"b": -2.5}}),
        ({"SS": ["b", "a"]}, ["a", "b"]),
        ({"NS": ["2", "1.5"]}, [1.5, 2]),
    ],
)
def test_attributes_become_json_ready_values(attribute, value):
    assert from_attribute(attribute) == value
    assert type(from_attribute(attribute)) is type(value)


def test_deserialized_entities_lose_their_decimals_and_sets():
    assert plain({"p": Decimal("3"), "q": Decimal("0.1"), "s": {"b", "a"}, "l": [Decimal("1")]}) == {
        "p": 3,
        "q": 0.1,
        "s": ["a", "b"],
        "l": [1],
    }


def test_a_stored_event_reads_back_as_it_was_stored():
    # Given an event with every optional fact, stored as the track function stores it
    event = Event(
        id=new_event_id(MOMENT),
        project_id="project-a",
        client_id="c-1",
        name="purchase",
        properties={"price": 9.99, "qty": 2, "big": 10**37, "nested": {"list": [1.5, "x", None, True]}},
        profile_id="u1",
        groups=["org_acme"],
        device_id="d-1",
        session_id="s-1",
        created_at=MOMENT,
        received_at=MOMENT + timedelta(seconds=2),
        from_past=True,
        revenue=1299,
        device={"os": "iOS", "device": "mobile"},
        geo={"country": "SE", "latitude": 59.33},
        ip="203.0.113.7",
        path="/checkout",
        origin="https://shop.example.com",
        referrer="https://www.google.com",
        referrer_name="Google",
        referrer_type="search",
        sdk_name="web",
        sdk_version="1.0.1",
    )
    # When the item is read back
    data = event_from_item(event_to_item(event, retention_days=30))
    # Then it has the API's shape and the stored values, exactly
    assert ExportEvent.model_validate(data).model_dump() == data
    assert data == {
        "id": event.id,
        "name": "purchase",
        "projectId": "project-a",
        "clientId": "c-1",
        "profileId": "u1",
        "deviceId": "d-1",
        "sessionId": "s-1",
        "createdAt": "2026-11-22T12:00:00.123Z",
        "receivedAt": "2026-11-22T12:00:02.123Z",
        "clientTimestamp": None,
        "fromPast": True,
        "properties": {"price": 9.99, "qty": 2, "big": 10**37, "nested": {"list": [1.5, "x", None, True]}},
        "groups": ["org_acme"],
        "revenue": 1299,
        "device": {"os": "iOS", "device": "mobile"},
        "geo": {"country": "SE", "latitude": 59.33},
        "ip": "203.0.113.7",
        "path": "/checkout",
        "origin": "https://shop.example.com",
        "referrer": "https://www.google.com",
        "referrerName": "Google",
        "referrerType": "search",
        "sdkName": "web",
        "sdkVersion": "1.0.1",
    }


def test_an_anonymous_event_is_its_devices_and_has_null_groups_revenue_and_ip():
    event = Event(
        id=new_event_id(MOMENT),
        project_id="project-a",
        client_id="c-1",
        name="page_view",
        properties={},
        profile_id=None,
        groups=None,
        device_id="d-1",
        session_id="s-1",
        created_at=MOMENT,
        received_at=MOMENT,
    )
    data = event_from_item(event_to_item(event, retention_days=30))
    # Its profile is its device, as OpenPanel counts users (issue 16); the item stores no profileId (no index write)
    assert "profileId" not in deserialize_item(event_to_item(event, retention_days=30))
    assert (data["profileId"], data["groups"], data["revenue"], data["ip"], data["fromPast"]) == (
        "d-1",
        None,
        None,
        None,
        False,
    )
    assert (data["device"], data["geo"]) == ({}, {})
    # And an event that came with no page, referrer or SDK headers has those fields empty, not missing
    derived = ("path", "origin", "referrer", "referrerName", "referrerType", "sdkName", "sdkVersion")
    assert [data[name] for name in derived] == [""] * len(derived)


def test_an_item_stored_with_the_old_region_names_reads_with_region_as_the_name() -> None:
    from beacon.store.reads import current_geo

    old = {"country": "GB", "region": "ENG", "regionName": "England", "city": "London"}
    assert current_geo(old) == {"country": "GB", "region": "England", "regionCode": "ENG", "city": "London"}
    new = {"country": "GB", "region": "England", "regionCode": "ENG"}
    assert current_geo(new) is new
