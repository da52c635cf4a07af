"""Every request type through the domain, with in-memory fakes of the stores (no sockets)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.filters import ProjectFilters
from beacon.domain.ingest import ingest
from beacon.errors import ConflictError, InvalidRequestError, RevenueRequiresSecretError, SecretRequiredError
from beacon.models.requests import parse_track_request
from tests.constants import FIREFOX
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeProjectSettingsStore,
    accepted,
    fake_stores,
    tracked,
)

PROJECT = "project-a"


class World:
    """The stores and the caller a test sends requests as."""

    def __init__(self, secret_auth: bool = True, user_agent: str = "curl/8.5.0") -> None:
        self.user_agent = user_agent  # a server's by default: its events open no session (DESIGN.md §49)
        self.events = FakeEventStore()
        self.profiles = FakeProfileStore()
        self.stores = fake_stores(self.events, self.profiles)
        self.caller = Caller(PROJECT, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, secret_auth)

    def send(self, type_: str, now: datetime = NOW, source_ip: str = "203.0.113.7", **payload: Any) -> Any:
        request = parse_track_request(json.dumps({"type": type_, "payload": payload}))
        meta = RequestMeta(request_id="r", source_ip=source_ip, user_agent=self.user_agent)
        return accepted(ingest(request, RequestContext(self.caller, meta, now), self.stores, UNIT_TEST_ENRICHER))

    def profile(self, profile_id: str) -> dict[str, Any]:
        return self.profiles.profiles[(PROJECT, profile_id)]


@pytest.fixture
def world() -> World:
    return World()


def test_identify_creates_then_merges_keeping_absent_fields(world: World) -> None:
    # Given a profile identified with a name, an email and a property
    world.send("identify", profileId="1", firstName="Joe", email="joe@doe.com", properties={"tier": "premium"})
    # When it is identified again with another first name and another property
    world.send("identify", profileId="1", firstName="Jo", properties={"seats": 3}, now=NOW + timedelta(minutes=1))
    # Then given fields overwrite, absent ones are kept, createdAt stays and updatedAt moves
    profile = world.profile("1")
    assert (profile["first_name"], profile["email"]) == ("Jo", "joe@doe.com")
    assert profile["properties"] == {"tier": "premium", "seats": 3}
    assert (profile["createdAt"], profile["updatedAt"]) == (NOW, NOW + timedelta(minutes=1))


def test_identify_stores_no_event(world: World) -> None:
    world.send("identify", profileId="1", firstName="Joe")
    assert tracked(world.events) == []


def test_alias_makes_later_writes_land_on_the_profile(world: World) -> None:
    # Given profile 1 with alias a1
    world.send("alias", profileId="1", alias="a1")
    # When identify, increment, assign_group and track are sent under the alias
    world.send("identify", profileId="a1", firstName="Ada")
    world.send("increment", profileId="a1", property="visits")
    world.send("assign_group", profileId="a1", groupIds=["org"])
    world.send("track", name="login", profileId="a1")
    # Then all of them land on profile 1
    profile = world.profile("1")
    assert profile["first_name"] == "Ada" and profile["properties"]["visits"] == 1 and profile["groups"] == {"org"}
    assert tracked(world.events)[0].profile_id == "1"
    assert (PROJECT, "a1") not in world.profiles.profiles


def test_alias_of_an_alias_resolves_to_the_same_profile(world: World) -> None:
    # Given a1 → 1, When an alias is declared on a1, Then it points at 1 directly (one hop to resolve)
    world.send("alias", profileId="1", alias="a1")
    world.send("alias", profileId="a1", alias="a2")
    assert world.profiles.resolve_profile_id(PROJECT, "a2") == "1"


def test_alias_taken_by_another_profile_is_a_conflict(world: World) -> None:
    world.send("alias", profileId="1", alias="a1")
    with pytest.raises(ConflictError) as caught:
        world.send("alias", profileId="2", alias="a1")
    assert caught.value.status == 409
    assert world.profiles.resolve_profile_id(PROJECT, "a1") == "1"


def test_alias_of_itself_is_a_400(world: World) -> None:
    with pytest.raises(InvalidRequestError):
        world.send("alias", profileId="1", alias="1")


def test_increment_and_decrement_start_missing_properties_at_zero(world: World) -> None:
    # Given no profile, When stats.visits is incremented twice by default and decremented by 5
    world.send("increment", profileId="1", property="stats.visits")
    world.send("increment", profileId="1", property="stats.visits")
    world.send("decrement", profileId="1", property="credits", value=5)
    # Then nested maps were created and values started at 0
    assert world.profile("1")["properties"] == {"stats": {"visits": Decimal(2)}, "credits": Decimal(-5)}


def test_increment_of_a_non_numeric_property_is_a_400(world: World) -> None:
    world.send("identify", profileId="1", properties={"plan": "pro"})
    with pytest.raises(InvalidRequestError):
        world.send("increment", profileId="1", property="plan")
    assert world.profile("1")["properties"] == {"plan": "pro"}


def test_group_creates_then_merges(world: World) -> None:
    world.send("group", id="org_acme", type="company", name="Acme", properties={"plan": "enterprise"})
    world.send("group", id="org_acme", type="company", name="Acme Inc", properties={"seats": 25})
    group = world.profiles.groups[(PROJECT, "org_acme")]
    assert (group["name"], group["properties"]) == ("Acme Inc", {"plan": "enterprise", "seats": 25})


def test_assign_group_without_profile_falls_back_to_the_device_id(world: World) -> None:
    # Given no profileId, When groups are assigned
    result = world.send("assign_group", groupIds=["g1", "g2", "g1"])
    # Then the device's profile holds them once each
    assert world.profile(result.device_id)["groups"] == {"g1", "g2"}


def test_track_stores_groups_exactly_as_sent_never_from_the_profile(world: World) -> None:
    world.send("assign_group", profileId="u", groupIds=["org"])
    world.send("track", name="a", profileId="u")
    world.send("track", name="b", profileId="u", groups=["other"])
    assert [event.groups for event in tracked(world.events)] == [None, ["other"]]


def test_reserved_properties_are_consumed_not_stored(world: World) -> None:
    # Given a track event with reserved properties beside ordinary ones (including an SDK's __path)
    properties = {"plan": "pro", "__path": "/home", "__os": "iOS", "__model": "iPhone15,2", "__revenue": 499}
    world.send("track", name="revenue", properties=properties)
    # Then only ordinary properties stay properties; overrides and revenue have their own place
    [event] = tracked(world.events)
    assert event.properties == {"plan": "pro"}
    assert event.path == "/home"  # __path is the event's path (domain/page.py)
    assert (event.device["os"], event.device["model"]) == ("iOS", "iPhone15,2")  # overrides beat the user-agent
    assert event.revenue == 499


@pytest.mark.parametrize("name", ["purchase", "Revenue", "revenue_refund"])
def test_revenue_counts_only_on_events_named_revenue(world: World, name: str) -> None:
    # Given a server sending __revenue on an event of another name (OpenPanel's rule: only `revenue` events)
    world.send("track", name=name, properties={"__revenue": 499, "plan": "pro"})
    # Then the event is stored without revenue, and __revenue is consumed, not kept as a property
    [event] = tracked(world.events)
    assert (event.revenue, event.properties) == (None, {"plan": "pro"})


def test_a_project_allowing_unsafe_revenue_tracking_takes_a_browsers_revenue() -> None:
    # Given a project whose operator allowed revenue without the client secret
    browser = World(secret_auth=False)
    assert isinstance(browser.stores.projects, FakeProjectSettingsStore)
    browser.stores.projects.filters[PROJECT] = ProjectFilters(allow_unsafe_revenue=True)
    # When a browser sends a revenue event
    browser.send("track", name="revenue", properties={"__revenue": 100})
    # Then it is stored with its revenue
    [event] = tracked(browser.events)
    assert event.revenue == 100


def test_revenue_without_a_secret_is_a_401_and_stores_nothing() -> None:
    browser = World(secret_auth=False)
    with pytest.raises(RevenueRequiresSecretError) as caught:
        browser.send("track", name="purchase", properties={"__revenue": 100})
    assert caught.value.status == 401
    assert tracked(browser.events) == []


def test_ip_override_is_honoured_only_with_a_secret() -> None:
    # Given the same request from a server (secret) and from a browser (no secret), both naming __ip, for a browser's
    # visit (a server-side event of no profile's session has no device id of its own: DESIGN.md §49)
    server, browser = World(secret_auth=True, user_agent=FIREFOX), World(secret_auth=False, user_agent=FIREFOX)
    forged = {"__ip": "198.51.100.9"}
    # Then the server's __ip changes the device, the browser's is ignored
    assert server.send("track", name="a", properties=forged).device_id != server.send("track", name="a").device_id
    assert browser.send("track", name="a", properties=forged).device_id == browser.send("track", name="a").device_id


def test_device_id_override(world: World) -> None:
    result = world.send("track", name="a", properties={"__deviceId": "my-device"})
    assert result.device_id == "my-device" == tracked(world.events)[0].device_id


def test_identify_inside_a_track_event_applies_to_the_events_profile(world: World) -> None:
    world.send("track", name="signup", profileId="u-1", properties={"__identify": {"firstName": "Ada"}, "a": 1})
    assert world.profile("u-1")["first_name"] == "Ada"
    assert tracked(world.events)[0].properties == {"a": 1}


def test_identify_inside_a_track_event_without_any_profile_is_a_400_and_stores_nothing(world: World) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        world.send("track", name="signup", properties={"__identify": {"firstName": "Ada"}})
    assert caught.value.details and caught.value.details[0]["field"] == "payload.properties.__identify.profileId"
    assert tracked(world.events) == [] and world.profiles.profiles == {}


@pytest.mark.parametrize(
    ("timestamp", "expected_time", "from_past"),
    [
        pytest.param("2026-11-22T11:59:00Z", NOW - timedelta(minutes=1), False, id="recent"),
        pytest.param("2026-11-22T13:59:00+02:00", NOW - timedelta(minutes=1), False, id="other-zone"),
        pytest.param("2026-11-22T11:00:00Z", NOW - timedelta(hours=1), True, id="from-the-past"),
        pytest.param("2026-11-22T12:00:59Z", NOW + timedelta(seconds=59), False, id="under-a-minute-ahead"),
        pytest.param("2026-11-22T12:05:00Z", NOW, False, id="future-uses-server-time"),
        pytest.param("yesterday", NOW, False, id="unparsable-uses-server-time"),
        # Epoch milliseconds, as JavaScript's Date.now() gives them, are honoured (OpenPanel reads them so)
        pytest.param(int(NOW.timestamp() * 1000) - 60_000, NOW - timedelta(minutes=1), False, id="epoch-ms"),
        pytest.param(1795000000000, NOW - timedelta(days=4, minutes=53, seconds=20), True, id="epoch-ms-past"),
        pytest.param(True, NOW, False, id="a-boolean-uses-server-time"),
        pytest.param(1e18, NOW, False, id="epoch-ms-beyond-any-date-uses-server-time"),
    ],
)
def test_timestamp_sets_the_event_time(world: World, timestamp: Any, expected_time: datetime, from_past: bool) -> None:
    world.send("track", name="a", properties={"__timestamp": timestamp})
    [event] = tracked(world.events)
    assert (event.created_at, event.from_past, event.received_at) == (expected_time, from_past, NOW)


def test_an_increment_repeated_with_the_same_idempotency_key_counts_once(world: World) -> None:
    # Given an increment sent with an Idempotency-Key
    request = parse_track_request(
        json.dumps({"type": "increment", "payload": {"profileId": "1", "property": "visits"}})
    )
    meta = RequestMeta(request_id="r", source_ip="203.0.113.7", user_agent="curl/8.5.0")
    first = ingest(
        request, RequestContext(world.caller, meta, NOW, idempotency_key="retry-1"), world.stores, UNIT_TEST_ENRICHER
    )
    # When the same request is retried with the same key, and another key is used afterwards
    again = ingest(
        request, RequestContext(world.caller, meta, NOW, idempotency_key="retry-1"), world.stores, UNIT_TEST_ENRICHER
    )
    ingest(
        request, RequestContext(world.caller, meta, NOW, idempotency_key="retry-2"), world.stores, UNIT_TEST_ENRICHER
    )
    # Then the retry changed nothing and answered as the first did
    assert again == first
    assert world.profile("1")["properties"]["visits"] == 2


def test_alias_without_a_secret_is_a_401_and_cannot_take_over_a_profile() -> None:
    # Given a victim's profile, and a browser client (no secret: anyone who can read the page) naming it as an alias
    browser = World(secret_auth=False)
    browser.send("identify", profileId="victim", firstName="Vic")
    # When the browser client aliases the victim to its own profile (issue 15, finding 2)
    with pytest.raises(SecretRequiredError) as caught:
        browser.send("alias", profileId="attacker", alias="victim")
    # Then it is refused with 401, and the victim's id still resolves to the victim's own profile
    assert caught.value.status == 401
    assert browser.profile("victim")["first_name"] == "Vic"
    assert browser.stores.profiles.resolve_profile_id("project-a", "victim") == "victim"


# -- OpenPanel's leniency with reserved properties (issue 16, item 6) ------------------------------------------------
@pytest.mark.parametrize(
    "properties",
    [
        pytest.param({"__deviceId": ""}, id="empty-device-id"),
        pytest.param({"__deviceId": "d" * 65}, id="long-device-id"),
        pytest.param({"__deviceId": 42}, id="numeric-device-id"),
        pytest.param({"__ip": "not-an-ip"}, id="invalid-ip"),
        pytest.param({"__ip": 12345}, id="numeric-ip"),
    ],
)
def test_an_unusable_device_id_or_ip_is_ignored_and_the_event_stored(world: World, properties: dict[str, Any]) -> None:
    # When an event names a device id or IP Beacon cannot use
    result = world.send("track", name="a", properties={**properties, "plan": "pro"})
    # Then it is stored as if they were absent (OpenPanel ignores them too), and they are not stored as properties
    plain = World().send("track", name="a")
    [event] = tracked(world.events)
    assert result.device_id == plain.device_id
    assert event.properties == {"plan": "pro"}


def test_a_clients_own_bot_verdict_is_dropped(world: World) -> None:
    world.send("track", name="a", properties={"__bot": False, "__bot_reasons": ["none"], "plan": "pro"})
    [event] = tracked(world.events)
    assert event.properties == {"plan": "pro"}


def test_a_counter_with_a_null_value_counts_one(world: World) -> None:
    # Given the Python SDK's increment and decrement without a value ("value": null)
    world.send("increment", profileId="1", property="visits", value=None)
    world.send("increment", profileId="1", property="visits", value=None)
    world.send("decrement", profileId="1", property="credits", value=None)
    # Then each counted one
    assert world.profile("1")["properties"] == {"visits": Decimal(2), "credits": Decimal(-1)}


def test_a_late_event_opens_and_extends_no_session() -> None:
    # Issue 17 item 5 (OpenPanel's rule): more than 15 minutes in the past, a browser's event carries no session
    world = World(user_agent=FIREFOX)
    world.send("track", name="live")
    world.send("track", name="late", properties={"__timestamp": "2026-11-22T11:00:00Z"})
    world.send("track", name="later", now=NOW + timedelta(minutes=20))
    by_name = {event.name: event for event in world.events.events}
    assert by_name["late"].session_id == "" and by_name["late"].from_past
    assert by_name["late"].device_id == by_name["live"].device_id
    # The live session was not extended by it: 20 minutes on, the next event is still in it (30-minute timeout)
    assert by_name["later"].session_id == by_name["live"].session_id != ""
    assert [event.name for event in world.events.events].count("session_start") == 1
