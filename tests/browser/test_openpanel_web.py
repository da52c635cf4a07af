"""A real @openpanel/web (npm, pinned in package.json) in headless Chromium, against the local gateway.

One visit, as a reader arriving from Google at a campaign link: a page on www.google.com (resolved to 127.0.0.1)
links to `http://localhost:P/landing?utm_source=newsletter&utm_campaign=winter`; the click is a real
cross-site navigation, so the landing page's `document.referrer` is the browser's own (the origin only, by
the default `strict-origin-when-cross-origin` policy: `http://www.google.com:P/`). The landing page loads the
SDK's script-tag build from node_modules with `trackScreenViews`, then makes a second page view in the same
session (`history.pushState`), identifies the visitor and fires a custom event. What the browser sent is
checked on the wire; what Beacon stored is read back through the read API (`GET /export/events`), with the
field names of OpenPanel's export (issue 16)."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.conftest import (
    NAVIGATION_TIMEOUT_MS,
    Clients,
    NetworkLog,
    StaticSite,
    link_page,
    open_context,
    openpanel_page,
    screenshot,
    sdk_version,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SEARCH_HOST = "www.google.com"
PAGE_HOST = "localhost"
CAMPAIGN = "?utm_source=newsletter&utm_campaign=winter"
PROFILE_ID = "user-42"
SDK_VERSION = "1.4.1"  # package.json's pin: a newer SDK is a deliberate change of this test


@dataclass(frozen=True)
class Visit:
    clients: Clients
    log: NetworkLog
    landing_url: str
    pricing_url: str
    referrer: str  # document.referrer, as the browser set it
    page_origin: str
    events: list[dict[str, Any]]  # as GET /export/events answers, oldest first, session_start left out
    profile: tuple[int, Any]  # GET /profile/{PROFILE_ID}: status and answer


def read_api(gateway_url: str, clients: Clients, path: str, **params: str) -> tuple[int, Any]:
    """(status, JSON answer) of a read API call, with the read client's secret."""
    query = urllib.parse.urlencode({"projectId": clients.project, **params})
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        f"{gateway_url}{path}?{query}",
        headers={
            "openpanel-client-id": clients.read["clientId"],
            "openpanel-client-secret": clients.read["clientSecret"],
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw, status, encoding = response.read(), response.status, response.headers.get("Content-Encoding")
    except urllib.error.HTTPError as error:
        raw, status, encoding = error.read(), error.code, error.headers.get("Content-Encoding")
    return status, json.loads(gzip.decompress(raw) if encoding == "gzip" else raw)


def wait_for_tracks(page: Any, log: NetworkLog, count: int) -> None:
    """Until `count` POST /track calls have been answered (or failed); page.wait_for_timeout lets the page's
    events be dispatched meanwhile."""
    deadline = time.monotonic() + NAVIGATION_TIMEOUT_MS / 1000
    while sum(1 for exchange in log.tracks() if exchange.status or exchange.failure) < count:
        if time.monotonic() > deadline:
            screenshot(page, "openpanel-web-timeout")
            pytest.fail(f"{count} /track calls expected, the browser made: {log.exchanges}", pytrace=False)
        page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def visit(
    browser: Any,
    browser_user_agent: str,
    site: StaticSite,
    gateway_url: str,
    browser_clients: Callable[[tuple[str, ...]], Clients],
) -> Visit:
    page_origin = site.origin(PAGE_HOST)
    clients = browser_clients((page_origin,))
    landing_url = site.url(PAGE_HOST, "/landing" + CAMPAIGN)
    pricing_url = site.url(PAGE_HOST, "/landing/pricing#plans")
    init = {"clientId": clients.write["clientId"], "apiUrl": gateway_url, "trackScreenViews": True}
    site.add_page("/landing", openpanel_page("Winter sale", init, "<h1>Winter sale</h1>"))
    site.add_page("/search", link_page("Beacon winter sale - Google Search", landing_url))

    context = open_context(browser, browser_user_agent)
    try:
        page = context.new_page()
        log = NetworkLog(prefix=gateway_url)
        log.attach(page)
        # Arrive from the search page: a real click, so the referrer is the browser's
        page.goto(site.url(SEARCH_HOST, "/search"))
        page.click("#go")
        page.wait_for_url(landing_url)
        wait_for_tracks(page, log, 1)  # the first screen_view
        referrer = page.evaluate("document.referrer")
        # A second page view in the same session: an SPA navigation
        page.evaluate("document.title = 'Pricing'; history.pushState({}, '', '/landing/pricing#plans')")
        wait_for_tracks(page, log, 2)
        page.evaluate("id => op('identify', {profileId: id, firstName: 'Ada', email: 'ada@example.com'})", PROFILE_ID)
        wait_for_tracks(page, log, 3)
        page.evaluate("op('track', 'signup_clicked', {plan: 'pro'})")
        wait_for_tracks(page, log, 4)
        screenshot(page, "openpanel-web-landing")
    finally:
        context.close()

    status, answer = read_api(gateway_url, clients, "/export/events", limit="100")
    assert status == 200, answer
    events = sorted(
        (event for event in answer["data"] if event["name"] != "session_start"),
        key=lambda event: (event["createdAt"], event["id"]),
    )
    profile = read_api(gateway_url, clients, f"/profile/{PROFILE_ID}")  # (status, answer)
    return Visit(clients, log, landing_url, pricing_url, referrer, page_origin, events, profile)


def by_name(visit: Visit) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    names = [event["name"] for event in visit.events]
    assert names == ["screen_view", "screen_view", "signup_clicked"], visit.events
    first, second, custom = visit.events
    return first, second, custom


# -- what the SDK sent, on the wire ------------------------------------------------------------------------------
def test_the_pinned_sdk_is_the_one_served():
    assert sdk_version() == SDK_VERSION


def test_the_browser_arrives_with_a_real_cross_site_referrer(visit, site):
    # The browser itself set document.referrer on the click: the search page's origin (cross-site policy)
    assert visit.referrer == site.url(SEARCH_HOST, "/")


def test_every_sdk_call_is_answered_200(visit):
    tracks = visit.log.tracks()
    assert [exchange.body["type"] for exchange in tracks] == ["track", "track", "identify", "track"]
    assert [(exchange.status, exchange.failure) for exchange in tracks] == [(200, None)] * 4
    # and only /track was called (no stray requests the gateway refused)
    assert all(exchange in tracks for exchange in visit.log.exchanges)


def test_the_sdk_sends_page_fields_and_its_identity(visit):
    first, second, identify, custom = visit.log.tracks()
    for exchange in (first, second, identify, custom):
        # Only the client id: a browser has no secret; its Origin is what the client allows
        assert exchange.headers["openpanel-client-id"] == visit.clients.write["clientId"]
        assert "openpanel-client-secret" not in exchange.headers
        assert exchange.headers["origin"] == visit.page_origin
        assert exchange.headers["openpanel-sdk-name"] == "web"
        assert exchange.headers["openpanel-sdk-version"] == SDK_VERSION
    assert first.body["payload"]["name"] == "screen_view"
    assert first.body["payload"]["properties"] == {
        "__referrer": visit.referrer,
        "__path": visit.landing_url,
        "__title": "Winter sale",
    }
    assert second.body["payload"]["name"] == "screen_view"
    assert second.body["payload"]["properties"] == {
        "__referrer": visit.referrer,
        "__path": visit.pricing_url,
        "__title": "Pricing",
    }
    assert identify.body["payload"]["profileId"] == PROFILE_ID
    assert custom.body["payload"]["name"] == "signup_clicked"
    assert custom.body["payload"]["profileId"] == PROFILE_ID
    assert custom.body["payload"]["properties"]["plan"] == "pro"
    assert custom.body["payload"]["properties"]["__path"] == visit.pricing_url


# -- what Beacon stored -------------------------------------------------------------------------------------------
def test_every_event_is_stored_in_one_session_with_its_sent_properties(visit):
    first, second, custom = by_name(visit)
    answered = visit.log.tracks("track")[0].answer
    assert {event["sessionId"] for event in visit.events} == {answered["sessionId"]}
    assert {event["deviceId"] for event in visit.events} == {answered["deviceId"]}
    assert first["properties"]["__title"] == "Winter sale"
    assert second["properties"]["__title"] == "Pricing"
    assert custom["properties"]["plan"] == "pro"
    assert first["device"]["browser"] == "Chrome"
    # and the identify made the profile
    status, profile = visit.profile
    assert status == 200, profile
    assert (profile["profileId"], profile["firstName"], profile["email"]) == (PROFILE_ID, "Ada", "ada@example.com")


# -- the derived fields of issue 16 -------------------------------------------------------------------------------
def test_page_fields_are_derived_from_the_path(visit, site):
    first, second, custom = by_name(visit)
    assert first["path"] == "/landing"  # no query
    assert second["path"] == "/landing/pricing"  # no hash
    assert custom["path"] == "/landing/pricing"  # the SDK sends the last page's URL
    assert {event["origin"] for event in visit.events} == {site.origin(PAGE_HOST)}
    assert first["properties"]["__query"] == {"utm_source": "newsletter", "utm_campaign": "winter"}


def test_the_referrer_is_classified_and_utm_source_names_it(visit, site):
    first, _, _ = by_name(visit)
    assert first["referrer"] == site.origin(SEARCH_HOST)  # no trailing slash
    # utm_source names the referrer (an unknown source, lower-cased); its type stays the referring host's
    assert first["referrerName"] == "newsletter"
    assert first["referrerType"] == "search"


def test_later_events_of_the_session_inherit_its_referrer(visit, site):
    first, second, custom = by_name(visit)
    session_referrer = (site.origin(SEARCH_HOST), "newsletter", "search")
    for event in (first, second, custom):
        assert (event["referrer"], event["referrerName"], event["referrerType"]) == session_referrer, event


def test_sdk_identity_is_stored(visit):
    for event in by_name(visit):
        assert (event["sdkName"], event["sdkVersion"]) == ("web", SDK_VERSION)


def test_events_are_linked_to_the_profile_as_openpanel_links_them(visit):
    first, second, custom = by_name(visit)
    # Anonymous page views carry the device id as their profile; after identify, the profile's id
    assert first["profileId"] == first["deviceId"]
    assert second["profileId"] == second["deviceId"]
    assert custom["profileId"] == PROFILE_ID


# -- the harness's own premise ------------------------------------------------------------------------------------
def test_headless_chromium_as_it_is_is_a_bot_and_stores_nothing(browser, site, gateway_url, browser_clients):
    """Why the harness sends a headed Chrome's user agent: `HeadlessChrome` is answered 202 and not stored."""
    page_origin = site.origin(PAGE_HOST)
    clients = browser_clients((page_origin,))
    init = {"clientId": clients.write["clientId"], "apiUrl": gateway_url, "trackScreenViews": True}
    site.add_page("/headless", openpanel_page("Headless", init))
    context = browser.new_context()  # Chromium's own user agent
    try:
        page = context.new_page()
        log = NetworkLog(prefix=gateway_url)
        log.attach(page)
        page.goto(site.url(PAGE_HOST, "/headless"))
        wait_for_tracks(page, log, 1)
        assert "HeadlessChrome/" in log.tracks()[0].headers["user-agent"]
    finally:
        context.close()
    assert log.tracks()[0].status == 202
    assert log.tracks()[0].answer["bot"]["type"]
    status, answer = read_api(gateway_url, clients, "/export/events")
    assert (status, answer["data"]) == (200, [])
