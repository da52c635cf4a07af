"""Server-side events (issue 17 item 4, DESIGN.md §49): they open no session; with a profile whose browser session
is live they join it and inherit its page, source, device and geo; otherwise they carry no session and no device."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from beacon.domain.entities import Caller, ClientType, Event, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.models.requests import parse_track_request
from tests.constants import FIREFOX
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, accepted, fake_stores

PROJECT = "project-a"
SERVER = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"
CLIENT_ID = "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11"


class Stack:
    """One project's stores; requests from a browser (its own IP) and from a backend (the server's IP)."""

    def __init__(self) -> None:
        self.events = FakeEventStore()
        self.stores = fake_stores(self.events)

    def send(
        self,
        user_agent: str,
        now: datetime = NOW,
        source_ip: str = "203.0.113.7",
        secret: bool = True,
        **payload: Any,
    ) -> Any:
        request = parse_track_request(json.dumps({"type": "track", "payload": payload}))
        caller = Caller(PROJECT, CLIENT_ID, ClientType.WRITE, secret_auth=secret)
        meta = RequestMeta("r", source_ip, user_agent)
        return accepted(ingest(request, RequestContext(caller, meta, now), self.stores, UNIT_TEST_ENRICHER))

    def visit(self, profile_id: str, now: datetime = NOW, source_ip: str = "203.0.113.7") -> Any:
        """A browser's page view of a campaign visit from a search engine, by `profile_id`."""
        return self.send(
            FIREFOX,
            now,
            source_ip,
            name="screen_view",
            profileId=profile_id,
            properties={
                "__path": "https://shop.example/pricing?utm_source=newsletter",
                "__referrer": "https://www.google.com/",
            },
        )

    def backend(self, name: str, profile_id: str | None, now: datetime = NOW, **options: Any) -> Any:
        payload: dict[str, Any] = {"name": name, **options}
        if profile_id is not None:
            payload["profileId"] = profile_id
        secret = payload.pop("secret", True)
        return self.send(SERVER, now, "198.51.100.20", secret, **payload)

    def named(self, name: str) -> Event:
        (event,) = [event for event in self.events.events if event.name == name]
        return event


def test_a_server_event_joins_its_profiles_live_browser_session_and_inherits_the_visit() -> None:
    # Given a browser visit by profile u-1 that came from a search engine on a campaign link
    stack = Stack()
    visit = stack.visit("u-1")
    # When the backend reports the invoice paid two minutes later, for that profile
    answer = stack.backend("invoice_paid", "u-1", NOW + timedelta(minutes=2), properties={"amount": 42})
    # Then it is in the visit's session, on the visit's device, and attributed to how the visit began
    assert (answer.device_id, answer.session_id) == (visit.device_id, visit.session_id)
    paid = stack.named("invoice_paid")
    assert (paid.device_id, paid.session_id) == (visit.device_id, visit.session_id)
    assert (paid.path, paid.origin) == ("/pricing", "https://shop.example")
    view = stack.named("screen_view")
    assert (
        (paid.referrer, paid.referrer_name)
        == (view.referrer, view.referrer_name)
        == ("https://www.google.com", "newsletter")
    )
    assert paid.properties["__query"] == {"utm_source": "newsletter"} and paid.properties["amount"] == 42
    # And it carries the browser's device, not the server's
    assert paid.device["browser"] == "Firefox" and paid.device["device"] == "desktop"
    # And it started no session of its own
    assert [event.name for event in stack.events.events].count("session_start") == 1


def test_two_profiles_from_one_server_share_no_device_and_no_session() -> None:
    # Given a backend that reports events of two users who have no browser session
    stack = Stack()
    first = stack.backend("invoice_paid", "u-1")
    second = stack.backend("invoice_paid", "u-2", NOW + timedelta(seconds=5))
    third = stack.backend("nightly_job", None, NOW + timedelta(seconds=9))
    # Then none of them is in a session, none has a device id, and no session_start was stored
    assert [(r.device_id, r.session_id) for r in (first, second, third)] == [("", ""), ("", ""), ("", "")]
    assert [event.name for event in stack.events.events] == ["invoice_paid", "invoice_paid", "nightly_job"]
    assert {event.session_id for event in stack.events.events} == {""}
    # And each keeps its own device fields: the server's
    assert stack.events.events[0].device["device"] == "server"
    assert stack.events.events[0].device["browser"] == "node-fetch"


def test_a_server_event_keeps_the_device_id_it_names() -> None:
    stack = Stack()
    answer = stack.backend("sync", "u-1", properties={"__deviceId": "phone-7"})
    assert (answer.device_id, answer.session_id) == ("phone-7", "")


def test_a_server_event_joins_only_a_live_session_of_its_own_profile() -> None:
    # Given u-1's visit, and u-2's visit from another browser
    stack = Stack()
    stack.visit("u-1")
    other = stack.visit("u-2", source_ip="203.0.113.99")
    # When the backend reports for u-2, and 31 minutes after the visits for u-1
    for_u2 = stack.backend("invoice_paid", "u-2", NOW + timedelta(minutes=1))
    late_u1 = stack.backend("renewal", "u-1", NOW + timedelta(minutes=31))
    # Then u-2's event is in u-2's session, and u-1's finds no live session
    assert for_u2.session_id == other.session_id
    assert (late_u1.device_id, late_u1.session_id) == ("", "")


def test_a_server_event_does_not_extend_the_session_it_joins() -> None:
    # Given a visit, and a server event of its profile 25 minutes later, in that session
    stack = Stack()
    visit = stack.visit("u-1")
    assert stack.backend("invoice_paid", "u-1", NOW + timedelta(minutes=25)).session_id == visit.session_id
    # When the browser comes back 35 minutes after its last page view
    again = stack.visit("u-1", NOW + timedelta(minutes=35))
    # Then that is a new session: the server event did not keep the visit alive
    assert again.session_id not in {visit.session_id, ""}


def test_without_the_secret_or_when_back_dated_a_server_event_joins_no_session() -> None:
    # Given u-1's live visit
    stack = Stack()
    stack.visit("u-1")
    # When a server agent sends for u-1 without the client secret, and a back-dated one with it
    unsigned = stack.backend("probe", "u-1", NOW + timedelta(minutes=1), secret=False)
    late = stack.backend(
        "imported", "u-1", NOW + timedelta(minutes=1), properties={"__timestamp": "2026-11-22T10:00:00Z"}
    )
    # Then neither joins the visit (nor names its device or session)
    assert [(r.device_id, r.session_id) for r in (unsigned, late)] == [("", ""), ("", "")]
    assert stack.named("imported").from_past


def test_an_app_behind_an_http_client_agent_that_says_it_is_mobile_has_sessions() -> None:
    # An Android app's default okhttp agent looks like a server's; `__device` says what it is
    stack = Stack()
    answer = stack.send("okhttp/4.12.0", name="app_open", properties={"__device": "mobile"})
    assert answer.session_id != "" and answer.device_id != ""
    assert [event.name for event in stack.events.events] == ["session_start", "app_open"]


def test_a_browser_agent_that_says_it_is_a_server_opens_no_session() -> None:
    stack = Stack()
    answer = stack.send(FIREFOX, name="webhook", properties={"__device": "server"})
    assert (answer.device_id, answer.session_id) == ("", "")
    assert [event.name for event in stack.events.events] == ["webhook"]


def test_a_backends_batch_joins_each_profiles_live_session_and_opens_none() -> None:
    from beacon.domain.batch import ingest_batch
    from tests.unit.support.batches import batch_of

    # Given u-1's live visit, and none for u-2
    stack = Stack()
    visit = stack.visit("u-1")
    items = [
        {"type": "track", "payload": {"name": "invoice_paid", "profileId": "u-1", "properties": {"n": i}}}
        for i in range(2)
    ] + [{"type": "track", "payload": {"name": "invoice_paid", "profileId": "u-2"}}]
    # When the backend sends them in one batch
    caller = Caller(PROJECT, CLIENT_ID, ClientType.WRITE, secret_auth=True)
    context = RequestContext(caller, RequestMeta("r", "198.51.100.20", SERVER), NOW + timedelta(minutes=1))
    outcome = ingest_batch(batch_of(items, "batch#backend"), context, stack.stores, UNIT_TEST_ENRICHER)
    # Then u-1's are in the visit's session, with its page and device, and u-2's in none
    answers = dict(outcome.results)
    assert [(answers[i].device_id, answers[i].session_id) for i in range(3)] == [
        (visit.device_id, visit.session_id),
        (visit.device_id, visit.session_id),
        ("", ""),
    ]
    paid = [event for event in stack.events.events if event.name == "invoice_paid"]
    assert sorted((event.session_id, event.path, event.device["device"]) for event in paid) == [
        ("", "", "server"),
        (visit.session_id, "/pricing", "desktop"),
        (visit.session_id, "/pricing", "desktop"),
    ]
    assert [event.name for event in stack.events.events].count("session_start") == 1


def test_device_id_answers_a_server_agent_no_ids_and_a_browser_its_own() -> None:
    from beacon.domain.ingest import current_ids

    stack = Stack()
    caller = Caller(PROJECT, CLIENT_ID, ClientType.WRITE, secret_auth=True)
    server = current_ids(
        RequestContext(caller, RequestMeta("r", "198.51.100.20", SERVER), NOW), stack.stores, UNIT_TEST_ENRICHER
    )
    browser = current_ids(
        RequestContext(caller, RequestMeta("r", "203.0.113.7", FIREFOX), NOW), stack.stores, UNIT_TEST_ENRICHER
    )
    assert (server.device_id, server.session_id) == ("", "")
    assert browser.device_id != "" and browser.session_id != ""
