"""What a stored event says about its page, from `__path` as the web SDK sends it (the full URL) or as an app sends
it (a screen name), and which SDK sent it (docs/API.md, Derived fields)."""

from __future__ import annotations

import pytest

from beacon.domain.page import MAX_QUERY_PARAMETERS, Page, page_properties, parse_page, sdk_identity


def test_a_full_url_is_split_into_path_origin_query_and_hash() -> None:
    page = parse_page("https://Shop.Example.com/products/shoes?utm_source=Newsletter&size=42#reviews")
    assert page == Page(
        path="/products/shoes",
        origin="https://shop.example.com",
        host="shop.example.com",
        query={"utm_source": "Newsletter", "size": "42"},
        hash="#reviews",
    )


@pytest.mark.parametrize(
    ("sent", "path", "origin"),
    [
        pytest.param("https://example.com", "/", "https://example.com", id="no-path-is-root"),
        pytest.param("https://example.com:443/a", "/a", "https://example.com", id="default-port-dropped"),
        pytest.param("http://example.com:80/a", "/a", "http://example.com", id="default-http-port-dropped"),
        pytest.param("http://localhost:3000/a/", "/a/", "http://localhost:3000", id="other-port-kept"),
        pytest.param("https://user:pw@example.com/a", "/a", "https://example.com", id="credentials-never-kept"),
        pytest.param("HTTPS://example.com/A", "/A", "https://example.com", id="scheme-case"),
        pytest.param("https://[2001:db8::1]:8443/x", "/x", "https://[2001:db8::1]:8443", id="ipv6"),
        pytest.param("https://example.com/caf%C3%A9", "/caf%C3%A9", "https://example.com", id="percent-kept"),
    ],
)
def test_the_origin_is_scheme_host_and_a_port_that_is_not_the_default(sent: str, path: str, origin: str) -> None:
    page = parse_page(sent)
    assert (page.path, page.origin) == (path, origin)


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("HomeScreen", id="app-screen"),
        pytest.param("/settings?tab=1", id="relative-path"),
        pytest.param("Checkout/Step 2", id="screen-with-space"),
        pytest.param("ftp://example.com/file", id="other-scheme"),
        pytest.param("https://example.com:99999/a", id="invalid-port"),
        pytest.param("https:///no-host", id="no-host"),
    ],
)
def test_anything_but_an_http_url_is_the_path_as_sent_with_no_origin(sent: str) -> None:
    page = parse_page(sent)
    assert page == Page(path=sent)


def test_no_path_or_one_that_is_not_text_gives_no_page_fields() -> None:
    assert parse_page(None) == parse_page("") == parse_page(42) == Page()


def test_the_query_reads_as_a_browser_does_and_is_bounded() -> None:
    # A repeated name keeps its last value, blank values stay, names that are empty are dropped
    assert parse_page("https://a.com/?x=1&x=2&empty=&=nameless&plus=a+b&enc=%2F").query == {
        "x": "2",
        "empty": "",
        "plus": "a b",
        "enc": "/",
    }
    # And at most the first 100 names are kept (a long URL cannot make a map of a thousand keys)
    many = "&".join(f"p{i}={i}" for i in range(500))
    query = parse_page(f"https://a.com/?{many}").query
    assert list(query) == [f"p{i}" for i in range(MAX_QUERY_PARAMETERS)]


def test_stored_properties_consume_path_and_referrer_and_gain_query_and_hash() -> None:
    properties = {"__path": "https://a.com/p?q=1#h", "__referrer": "https://www.google.com/", "__title": "P", "x": 1}
    assert page_properties(properties, parse_page(properties["__path"])) == {
        "__title": "P",
        "x": 1,
        "__query": {"q": "1"},
        "__hash": "#h",
    }
    # A value that is not text is not read, so it stays as sent; properties without a page are returned as they are
    odd = {"__path": ["not", "text"], "y": 2}
    assert page_properties(odd, parse_page(odd["__path"])) == odd
    plain = {"y": 2}
    assert page_properties(plain, Page()) is plain


def test_the_sdk_is_named_by_its_headers_with_visible_text_only_and_bounded() -> None:
    assert sdk_identity({"openpanel-sdk-name": "web", "openpanel-sdk-version": "1.0.1"}) == ("web", "1.0.1")
    assert sdk_identity({}) == ("", "")
    assert sdk_identity({"openpanel-sdk-name": "we\u202eb\x00", "openpanel-sdk-version": "9" * 500}) == (
        "web",
        "9" * 64,
    )
