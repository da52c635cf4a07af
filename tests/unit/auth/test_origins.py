"""Which page origins a browser client may send from: the entries a client allows, and Origin values that match
nothing (they are never echoed in Access-Control-Allow-Origin either)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from beacon.domain.auth import authenticate
from beacon.domain.origins import origin_allowed, parse_origin
from beacon.errors import InvalidCredentialsError
from tests.constants import CLIENT_ID, NOW
from tests.unit.support.fakes import FakeClientLookup, client_record

ALLOWED = ("https://app.example.com", "shop.example.net", "https://example.com:8443", "*.example.org")


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com",
        "https://APP.example.com",
        "https://app.example.com:443",
        "http://shop.example.net",
        "https://shop.example.net",
        "https://example.com:8443",
        "https://a.b.example.org",
        "https://[::1]:8443",  # not allowed below, but well-formed
    ],
)
def test_well_formed_origins_parse(origin: str) -> None:
    assert parse_origin(origin) is not None


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://app.exa\tmple.com", id="tab-inside"),
        pytest.param("https://app.example.com\t", id="tab-after"),
        pytest.param("\thttps://app.example.com", id="tab-before"),
        pytest.param("https://app.example.com\r\n", id="line-break"),
        pytest.param("https://app.exam\nple.com", id="newline-inside"),
        pytest.param("https://app.example.com ", id="space-after"),
        pytest.param(" https://app.example.com", id="space-before"),
        pytest.param("https://app.example.com\x00", id="nul"),
        pytest.param("https://app.example.com\x7f", id="delete"),
        pytest.param("https://app.example.com\x0b", id="vertical-tab"),
        pytest.param("https://app.example.com\u00a0", id="no-break-space"),
        pytest.param("https://app.example.com\u2028", id="line-separator"),
        pytest.param("https://app.example.com\u200b", id="zero-width-space"),
        pytest.param("https://app.example.com\u202e", id="right-to-left-override"),
        pytest.param("https://\u0430pp.example.com", id="non-ascii-host"),  # U+0430 CYRILLIC a: browsers send punycode
        pytest.param("https://a.b.exa\tmple.org", id="tab-in-wildcard-match"),
    ],
)
def test_an_origin_with_control_whitespace_or_non_ascii_characters_matches_nothing(origin: str) -> None:
    # Given an Origin value that is not how any browser serialises an origin (a URL parser would drop the tab and
    # line breaks, and read what is left as an allowed origin)
    # When it is checked, Then it is no origin, and no entry, not even "*", allows it
    assert parse_origin(origin) is None
    assert not origin_allowed(origin, ALLOWED)
    assert not origin_allowed(origin, ("*",))


@pytest.mark.parametrize("entry", ["https://app.exa\tmple.com", "app.exam\nple.com", "*.exam\tple.org"])
def test_an_allowed_entry_with_control_characters_matches_nothing(entry: str) -> None:
    # Given a client entry with a control character inside (surrounding whitespace is trimmed, as before)
    # When a browser's origin is checked against it, Then it matches nothing
    assert not origin_allowed("https://app.example.com", (entry,))
    assert not origin_allowed("https://a.example.org", (entry,))


def test_surrounding_whitespace_of_an_allowed_entry_is_still_trimmed() -> None:
    assert origin_allowed("https://app.example.com", ("  https://app.example.com  ",))


@pytest.mark.parametrize(
    "origin", ["https://app.exa\tmple.com", "https://app.example.com\t", "https://app.example.com "]
)
def test_such_an_origin_is_refused_and_never_echoed(origin: str) -> None:
    # Given a browser client that allows https://app.example.com
    record = replace(client_record(CLIENT_ID, "sec_known"), origins=("https://app.example.com",))
    clients = FakeClientLookup(record)

    # When a request without a secret comes with that origin, Then it is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(CLIENT_ID, None, origin, clients, NOW)
    # And with the secret it is accepted, but the origin is not echoed for CORS
    caller = authenticate(CLIENT_ID, "sec_known", origin, clients, NOW).caller
    assert caller.allowed_origin is None


# -- OpenPanel's tolerance: a leading www. and a missing scheme --------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        pytest.param("https://shop.example.com", "https://www.shop.example.com", id="www-added-to-the-entry"),
        pytest.param("https://www.shop.example.com", "https://shop.example.com", id="www-left-out-of-the-entry"),
        pytest.param("shop.example.com", "http://www.shop.example.com", id="scheme-less-http-with-www"),
        pytest.param("shop.example.com", "https://www.shop.example.com", id="scheme-less-https-with-www"),
        pytest.param("www.shop.example.com", "http://shop.example.com", id="scheme-less-www-entry"),
        pytest.param("https://shop.example.com:8443", "https://www.shop.example.com:8443", id="www-same-port"),
        pytest.param("HTTPS://WWW.Shop.Example.com", "https://shop.example.com", id="case-insensitive"),
    ],
)
def test_a_leading_www_does_not_count_on_either_side(entry: str, origin: str) -> None:
    # Given a client that allows one site, written with or without www.
    # When its page is served from the other spelling, Then the origin is allowed (as OpenPanel allows it)
    assert origin_allowed(origin, (entry,))


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        pytest.param("https://shop.example.com", "http://www.shop.example.com", id="scheme-still-counts"),
        pytest.param("https://shop.example.com", "https://www.shop.example.com:8443", id="port-still-counts"),
        pytest.param("https://shop.example.com", "https://www.www.shop.example.com", id="only-one-www"),
        pytest.param("https://shop.example.com", "https://wwwshop.example.com", id="www-is-a-whole-label"),
        pytest.param("https://shop.example.com", "https://www2.shop.example.com", id="not-www2"),
        pytest.param("https://shop.example.com", "https://api.shop.example.com", id="not-other-subdomains"),
        pytest.param("https://shop.example.com", "https://shop.www.example.com", id="www-only-at-the-start"),
        pytest.param("https://example.com", "https://www.example.com.evil.test", id="not-a-prefix-match"),
        pytest.param("https://shop.example.com", "https://www.shop.example.com.evil.test", id="not-a-suffix-of-it"),
        pytest.param("*.shop.example.com", "https://shop.example.com", id="wildcard-still-excludes-the-apex"),
        pytest.param("shop.example.com", "ftp://www.shop.example.com", id="scheme-less-means-http-or-https"),
        pytest.param("shop.example.com", "null", id="null-never"),
    ],
)
def test_the_www_tolerance_keeps_the_scheme_port_and_label_rules(entry: str, origin: str) -> None:
    # Given an allowed entry, When an origin differs from it in more than a leading www., Then it is refused
    assert not origin_allowed(origin, (entry,))


def test_a_scheme_less_entry_allows_http_and_https_on_their_default_ports() -> None:
    assert origin_allowed("http://shop.example.com", ("shop.example.com",))
    assert origin_allowed("https://shop.example.com", ("shop.example.com",))
    assert origin_allowed("https://shop.example.com:443", ("shop.example.com",))
    assert not origin_allowed("http://shop.example.com:8080", ("shop.example.com",))


def test_a_browser_on_the_www_host_is_echoed_as_it_sent_its_origin() -> None:
    # Given a browser client that allows https://shop.example.com
    record = replace(client_record(CLIENT_ID, "sec_known"), origins=("https://shop.example.com",))

    # When a page on https://www.shop.example.com sends an event with only the client id
    caller = authenticate(CLIENT_ID, None, "https://www.shop.example.com", FakeClientLookup(record), NOW).caller

    # Then it is accepted, and CORS echoes the page's own origin (what the browser compares), not the entry
    assert caller.allowed_origin == "https://www.shop.example.com"
