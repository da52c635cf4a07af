"""Project filters: blocked IPs/networks and profile ids refuse a request before anything is stored."""

from __future__ import annotations

import json

import pytest

from beacon.domain.entities import RequestContext, RequestMeta
from beacon.domain.filters import ProjectFilters
from beacon.domain.ingest import ingest
from beacon.errors import BlockedByFilterError
from beacon.models.requests import parse_track_request
from tests.constants import CALLER
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProfileStore,
    FakeProjectSettingsStore,
    fake_stores,
)


def world(networks: list[str] = (), profiles: list[str] = ()):  # type: ignore[assignment]
    events, profile_store = FakeEventStore(), FakeProfileStore()
    stores = fake_stores(events, profile_store)
    assert isinstance(stores.projects, FakeProjectSettingsStore)
    stores.projects.filters["project-a"] = ProjectFilters.parse(list(networks), list(profiles))
    return stores, events, profile_store


def send(stores, type_: str, source_ip: str = "203.0.113.7", **payload):
    request = parse_track_request(json.dumps({"type": type_, "payload": payload}))
    return ingest(
        request, RequestContext(CALLER, RequestMeta("r", source_ip, "curl/8.5.0"), NOW), stores, UNIT_TEST_ENRICHER
    )


@pytest.mark.parametrize(
    ("blocked", "source_ip", "refused"),
    [
        (["203.0.113.7"], "203.0.113.7", True),
        (["203.0.113.0/24"], "203.0.113.99", True),
        (["203.0.113.0/24"], "198.51.100.1", False),
        (["2001:db8::/32"], "2001:db8::5", True),
        (["2001:db8::/32"], "203.0.113.7", False),
        (["not-a-network", "198.51.100.0/24"], "198.51.100.3", True),
    ],
)
def test_ip_filter(blocked, source_ip, refused):
    stores, events, _ = world(networks=blocked)
    if refused:
        with pytest.raises(BlockedByFilterError) as caught:
            send(stores, "track", source_ip=source_ip, name="a")
        assert caught.value.status == 401 and "IP filter" in caught.value.message
        assert events.events == []
    else:
        send(stores, "track", source_ip=source_ip, name="a")
        assert events.events


@pytest.mark.parametrize(
    ("type_", "payload"),
    [
        ("track", {"name": "a", "profileId": "bad"}),
        ("identify", {"profileId": "bad", "firstName": "x"}),
        ("increment", {"profileId": "bad", "property": "n"}),
        ("assign_group", {"profileId": "bad", "groupIds": ["g"]}),
        ("alias", {"profileId": "good", "alias": "bad"}),
        ("track", {"name": "a", "profileId": "u", "properties": {"__identify": {"profileId": "bad"}}}),
    ],
)
def test_profile_filter_refuses_every_type_naming_a_blocked_profile(type_, payload):
    stores, events, profiles = world(profiles=["bad"])
    with pytest.raises(BlockedByFilterError) as caught:
        send(stores, type_, **payload)
    assert "profile filter" in caught.value.message
    assert events.events == [] and profiles.profiles == {} and profiles.aliases == {}


def test_an_alias_cannot_route_around_a_blocked_profile():
    # Given alias a1 → 1, then profile 1 blocked
    stores, events, _ = world()
    send(stores, "alias", profileId="1", alias="a1")
    stores.projects.filters["project-a"] = ProjectFilters.parse([], ["1"])
    # When an event names the alias, Then it is refused as profile 1 would be
    with pytest.raises(BlockedByFilterError):
        send(stores, "track", name="a", profileId="a1")
    assert events.events == []
