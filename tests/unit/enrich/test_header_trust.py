"""Which client-settable headers may describe the end user: forwarded-IP headers only from a caller with its secret
(a server speaking for its users), CloudFront's viewer headers only when they are vouched for. A browser's own
`X-Forwarded-For`, `x-client-ip` or `CloudFront-Viewer-Country` neither passes the IP filter, mints device ids
nor forges a location."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from beacon.domain.client_ip import HeaderTrust
from beacon.domain.enrich import Enricher, SharedEnricher
from beacon.domain.entities import Caller, RequestContext, RequestMeta, TrackResult
from beacon.domain.filters import ProjectFilters
from beacon.domain.geo import Geo
from beacon.domain.ingest import current_ids, ingest
from beacon.errors import BlockedByFilterError
from beacon.models.requests import parse_track_request
from tests.constants import CALLER, CHROME
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.support.fakes import (
    UNIT_TEST_ENRICHER,
    FakeEventStore,
    FakeProjectSettingsStore,
    accepted,
    fake_stores,
    tracked,
)

BROWSER = replace(CALLER, secret_auth=False, allowed_origin="https://app.example.com")
SOURCE_IP = "198.51.100.9"  # what API Gateway saw (requestContext.identity.sourceIp)
BLOCKED = "198.51.100.0/24"
FORGED = (
    {"x-forwarded-for": "8.8.8.8, 198.51.100.9"},
    {"x-forwarded-for": "8.8.8.8"},
    {"x-client-ip": "8.8.8.8"},
    {"openpanel-client-ip": "8.8.8.8"},
)
VIEWER_GEO = {"cloudfront-viewer-country": "BR", "cloudfront-viewer-city": "S%C3%A3o%20Paulo"}


def world(blocked: tuple[str, ...] = ()):
    events = FakeEventStore()
    stores = fake_stores(events)
    assert isinstance(stores.projects, FakeProjectSettingsStore)
    stores.projects.filters[CALLER.project_id] = ProjectFilters.parse(list(blocked), [])
    return stores, events


def context(caller: Caller, headers: dict[str, str], source_ip: str = SOURCE_IP) -> RequestContext:
    return RequestContext(caller, RequestMeta("r", source_ip, CHROME, headers), NOW)


def send(stores, caller: Caller, headers: dict[str, str], source_ip: str = SOURCE_IP) -> TrackResult:
    request = parse_track_request(json.dumps({"type": "track", "payload": {"name": "page_view"}}))
    return accepted(ingest(request, context(caller, headers, source_ip), stores, UNIT_TEST_ENRICHER))


@pytest.mark.parametrize("headers", FORGED, ids=lambda headers: ",".join(headers))
def test_a_browser_cannot_pass_the_ip_filter_with_a_forwarded_ip_header(headers: dict[str, str]) -> None:
    # Given a project that blocks the network a browser connects from
    stores, events = world(blocked=(BLOCKED,))

    # When the browser (no secret) claims another address in a forwarded-IP header
    # Then the address the gateway saw is filtered, and nothing is stored
    with pytest.raises(BlockedByFilterError):
        send(stores, BROWSER, headers)
    assert events.events == []


@pytest.mark.parametrize("headers", FORGED, ids=lambda headers: ",".join(headers))
def test_a_browser_cannot_mint_device_ids_with_forwarded_ip_headers(headers: dict[str, str]) -> None:
    # Given a browser's event without any IP header
    stores, _ = world()
    plain = send(stores, BROWSER, {})

    # When the same browser sends one claiming another address, Then it is the same device
    assert send(stores, BROWSER, headers).device_id == plain.device_id


def test_a_server_with_its_secret_still_speaks_for_its_users() -> None:
    # Given a server forwarding its users' addresses, with its secret
    stores, _ = world(blocked=("203.0.113.0/24",))

    # When it forwards a blocked user's address, Then that address is filtered
    with pytest.raises(BlockedByFilterError):
        send(stores, CALLER, {"x-client-ip": "203.0.113.9"})
    # And two users behind the one server are two devices
    first = send(stores, CALLER, {"openpanel-client-ip": "192.0.2.1"})
    second = send(stores, CALLER, {"openpanel-client-ip": "192.0.2.2"})
    assert first.device_id != second.device_id


def test_the_device_id_endpoint_answers_a_server_what_track_assigns_its_user() -> None:
    # Given a server that tracked an event for a user whose address it forwards
    stores, _ = world()
    headers = {"openpanel-client-ip": "192.0.2.44"}
    tracked_ids = send(stores, CALLER, headers)

    # When it asks for that user's ids, Then they are the ids the event got
    asked = current_ids(context(CALLER, headers), stores, UNIT_TEST_ENRICHER)
    assert asked == tracked_ids


def test_a_browser_cannot_forge_its_location_with_viewer_headers() -> None:
    # Given a browser that sends CloudFront's viewer-location headers itself (no proof they are CloudFront's)
    stores, events = world()

    # When its event is stored, Then no location is attributed from them
    send(stores, BROWSER, VIEWER_GEO)
    [event] = tracked(events)
    assert event.geo == {}


def test_a_server_vouches_for_the_viewer_headers_of_its_own_connection() -> None:
    # Given a server with its secret whose request carries viewer-location headers (and no forwarded user IP)
    stores, events = world()

    # When its event is stored, Then the location is read from them, as before
    send(stores, CALLER, VIEWER_GEO)
    [event] = tracked(events)
    assert (event.geo["country"], event.geo["city"]) == ("BR", "São Paulo")


def test_cloudfront_viewer_address_is_not_read_without_proof_of_the_distribution() -> None:
    # Given a browser that sends CloudFront-Viewer-Address itself, and a project blocking its real network
    stores, _ = world(blocked=(BLOCKED,))

    # When it claims another viewer address, Then the gateway's source IP is still the one filtered
    with pytest.raises(BlockedByFilterError):
        send(stores, BROWSER, {"cloudfront-viewer-address": "8.8.8.8:443"})


class FixedGeoIp:
    """A GeoIP lookup that places every address in Lisbon, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def lookup(self, ip: str) -> Geo | None:
        self.asked.append(ip)
        return Geo(country="PT", city="Lisbon")


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        pytest.param(HeaderTrust(), Geo(country="PT", city="Lisbon"), id="browser-geoip"),
        pytest.param(HeaderTrust(secret_auth=True), Geo(country="BR", city="São Paulo"), id="server"),
        pytest.param(HeaderTrust(via_distribution=True), Geo(country="BR", city="São Paulo"), id="distribution"),
    ],
)
def test_viewer_headers_count_only_when_vouched_for(trust: HeaderTrust, expected: Geo) -> None:
    # Given a request with viewer-location headers and a GeoIP database
    geoip = FixedGeoIp()
    enricher = Enricher(stack_secret=lambda: b"secret", geoip=geoip)
    meta = RequestMeta("r", SOURCE_IP, CHROME, VIEWER_GEO)

    # When it is enriched, Then the headers are read only when vouched for; else the gateway's IP is looked up
    enrichment = enricher.enrich(CALLER.project_id, meta, NOW, trust=trust)
    assert enrichment.geo == expected
    assert geoip.asked == ([SOURCE_IP] if expected.country == "PT" else [])


def test_a_batch_shares_enrichment_only_between_items_of_the_same_trust() -> None:
    # Given one batch's request, enriched once as a browser's and once as a server's
    meta = RequestMeta("r", SOURCE_IP, CHROME, {"x-client-ip": "203.0.113.5"})
    shared = SharedEnricher(UNIT_TEST_ENRICHER, meta, NOW)
    browser = shared.enrich(CALLER.project_id, meta, NOW, trust=HeaderTrust())
    server = shared.enrich(CALLER.project_id, meta, NOW, trust=HeaderTrust(secret_auth=True))

    # Then each got its own answer
    assert (browser.ip.address, server.ip.address) == (SOURCE_IP, "203.0.113.5")


# -- through Beacon's CloudFront distribution (the authorizer saw its origin-verify header) --------------------------
VIA_DISTRIBUTION = replace(BROWSER, via_distribution=True)
CLOUDFRONT_IP = "130.176.0.10"  # API Gateway's source IP behind the distribution is CloudFront's


def test_through_the_distribution_the_viewer_address_is_the_one_filtered() -> None:
    # Given a project blocking a network, and a browser in it whose request came through the distribution
    stores, _ = world(blocked=(BLOCKED,))
    headers = {"cloudfront-viewer-address": "198.51.100.9:50432"}

    # When its event arrives (API Gateway's source IP being CloudFront's), Then the viewer's own address is filtered
    with pytest.raises(BlockedByFilterError):
        send(stores, VIA_DISTRIBUTION, headers, source_ip=CLOUDFRONT_IP)
    # And the same request around the distribution would have been judged by CloudFront's address alone
    send(stores, BROWSER, headers, source_ip=CLOUDFRONT_IP)


def test_through_the_distribution_viewer_location_counts_but_forwarded_ips_still_do_not() -> None:
    # Given a browser through the distribution, with CloudFront's viewer headers and a forged X-Forwarded-For
    stores, events = world(blocked=(BLOCKED,))
    headers = {**VIEWER_GEO, "cloudfront-viewer-address": "203.0.113.7:443", "x-forwarded-for": "198.51.100.9"}

    # When its event is stored
    send(stores, VIA_DISTRIBUTION, headers, source_ip=CLOUDFRONT_IP)

    # Then the location is CloudFront's word for the viewer, and the forged address neither blocked nor placed it
    [event] = tracked(events)
    assert (event.geo["country"], event.geo["city"]) == ("BR", "São Paulo")


def test_the_authorizer_context_carries_the_distribution_proof_as_api_gateway_strings() -> None:
    from beacon.gateway.authorizer_context import caller_from_context, caller_to_context

    # Given what the authorizer returns, as API Gateway hands it to the function (every value a string)
    for caller in (VIA_DISTRIBUTION, BROWSER):
        context = {
            key: str(value).lower() if isinstance(value, bool) else value
            for key, value in caller_to_context(caller).items()
        }

        # Then the function reads back the same caller, distribution proof included
        assert caller_from_context(context) == caller
    # And a context without the key (an older authorizer version during a deploy) proves nothing
    legacy = {k: v for k, v in caller_to_context(VIA_DISTRIBUTION).items() if k != "viaDistribution"}
    assert caller_from_context(legacy).via_distribution is False
