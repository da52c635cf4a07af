"""Where a visit came from: `__referrer` classified, the page's campaign parameters overriding it, and the
session's source inherited by its later events (docs/API.md, Derived fields)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from beacon.domain.batch import ingest_batch
from beacon.domain.entities import NO_SOURCE, Event, RequestContext, TrafficSource
from beacon.domain.ingest import ingest
from beacon.domain.page import parse_page
from beacon.domain.referrer import classify_source, referrer_table, site_of_host
from beacon.models.requests import parse_track_request
from tests.constants import CALLER, META, NOW
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, fake_stores, tracked

PAGE = "https://shop.example.com/products"


def source(referrer: object, page: str = PAGE) -> TrafficSource:
    return classify_source(referrer, parse_page(page))


# OpenPanel's documented cases (parse-referrer tests and the worker's use of them)


@pytest.mark.parametrize("referrer", [None, "", "   ", 42])
def test_no_referrer_gives_no_source(referrer: object) -> None:
    assert source(referrer) is NO_SOURCE


def test_a_known_search_engine_is_named_and_typed_and_kept_whole() -> None:
    assert source("https://google.com/search?q=test") == TrafficSource(
        "https://google.com/search?q=test", "Google", "search"
    )


@pytest.mark.parametrize("referrer", ["https://www.twitter.com/user", "https://twitter.com/user"])
def test_www_and_the_bare_host_are_the_same_site(referrer: str) -> None:
    assert source(referrer) == TrafficSource(referrer, "Twitter", "social")


def test_an_unknown_host_is_kept_and_named_by_the_referrer_itself() -> None:
    assert source("https://unknown-site.com") == TrafficSource("https://unknown-site.com", "https://unknown-site.com")


def test_an_invalid_url_is_kept_as_sent_with_no_type() -> None:
    assert source("not-a-url") == TrafficSource("not-a-url", "not-a-url", "")


def test_a_referrer_on_the_pages_own_host_is_dropped() -> None:
    assert source("https://shop.example.com/cart") is NO_SOURCE


def test_same_site_compares_hosts_exactly_as_openpanel_does() -> None:
    # www. is another host to OpenPanel's same-domain rule, and so is a sub-domain
    assert source("https://www.shop.example.com/").referrer == "https://www.shop.example.com"
    assert source("https://blog.shop.example.com/post").referrer == "https://blog.shop.example.com/post"


def test_without_a_page_url_the_referrer_is_never_same_site() -> None:
    assert source("https://shop.example.com/", page="HomeScreen").referrer == "https://shop.example.com"


def test_one_trailing_slash_is_dropped() -> None:
    assert source("https://duckduckgo.com/").referrer == "https://duckduckgo.com"
    assert source("https://news.ycombinator.com/item?id=1/").referrer == "https://news.ycombinator.com/item?id=1"


@pytest.mark.parametrize(
    ("query", "name", "kind"),
    [
        pytest.param("utm_source=google", "Google", "search", id="utm_source"),
        pytest.param("ref=facebook", "Facebook", "social", id="ref"),
        pytest.param("utm_referrer=twitter", "Twitter", "social", id="utm_referrer"),
        pytest.param("utm_source=GoOgLe", "Google", "search", id="case-insensitive"),
        pytest.param("utm_source=unknown-source", "unknown-source", "", id="unknown-keeps-its-name"),
        pytest.param("utm_source=Newsletter", "newsletter", "", id="unknown-is-lowercased"),
        pytest.param("utm_source=google&ref=facebook&utm_referrer=twitter", "Google", "search", id="utm_source-first"),
        pytest.param("ref=facebook&utm_referrer=twitter", "Facebook", "social", id="ref-before-utm_referrer"),
        pytest.param("utm_source=hacker%20news", "Hacker News", "social", id="by-site-name"),
        pytest.param("utm_source=t.co", "Twitter", "social", id="by-host"),
    ],
)
def test_the_pages_campaign_source_names_the_visit(query: str, name: str, kind: str) -> None:
    got = source(None, page=f"{PAGE}?{query}")
    assert (got.referrer, got.referrer_name, got.referrer_type) == ("", name, kind)


def test_a_campaign_source_overrides_the_referrers_name_but_keeps_its_url() -> None:
    got = source("https://www.bing.com/search?q=socks", page=f"{PAGE}?utm_source=Google&utm_medium=cpc")
    assert got == TrafficSource(
        "https://www.bing.com/search?q=socks",
        "Google",
        "search",
        (("utm_medium", "cpc"), ("utm_source", "Google")),
    )


def test_an_unknown_campaign_source_keeps_the_referrers_type() -> None:
    got = source("https://l.facebook.com/", page=f"{PAGE}?utm_source=spring-promo")
    assert (got.referrer_name, got.referrer_type) == ("spring-promo", "social")


def test_a_same_site_referrer_still_lets_the_campaign_name_the_visit() -> None:
    got = source("https://shop.example.com/", page=f"{PAGE}?ref=producthunt")
    assert (got.referrer, got.referrer_name, got.referrer_type) == ("", "Product Hunt", "social")


# Beyond OpenPanel's cases


@pytest.mark.parametrize(
    ("referrer", "name", "kind"),
    [
        ("https://chatgpt.com/", "ChatGPT", "ai"),
        ("https://www.perplexity.ai/search/abc", "Perplexity", "ai"),
        ("https://claude.ai/chat/1", "Claude", "ai"),
        ("https://gemini.google.com/app", "Gemini", "ai"),
        ("https://copilot.microsoft.com/", "Microsoft Copilot", "ai"),
        ("https://mail.google.com/mail/u/0/", "Gmail", "email"),
        ("https://www.google.co.uk/", "Google", "search"),
        ("https://x.com/someone/status/1", "Twitter", "social"),
        ("https://t.co/x1", "Twitter", "social"),
        ("https://de.search.yahoo.com/search?p=x", "Yahoo!", "search"),
        ("android-app://com.google.android.gm/", "", ""),
    ],
)
def test_hosts_from_the_data_and_the_supplement_are_typed(referrer: str, name: str, kind: str) -> None:
    got = source(referrer)
    assert (got.referrer_name or "", got.referrer_type) == (name or referrer.removesuffix("/"), kind)


def test_parent_domains_are_looked_up_but_never_a_bare_top_level_domain() -> None:
    assert site_of_host("a.b.news.ycombinator.com") == ("Hacker News", "social")
    assert site_of_host("com") is None
    assert site_of_host("example.com") is None


def test_the_supplement_adds_the_ai_type_and_names_prefer_a_typed_site() -> None:
    hosts, names = referrer_table()
    assert hosts["chatgpt.com"] == ("ChatGPT", "ai")
    assert {kind for _, kind in hosts.values()} <= {"search", "social", "email", "paid", "unknown", "ai"}
    assert names["google"] == hosts["google.com"]


# The session's source, inherited


def send(stores: Any, properties: dict[str, Any], minutes: int = 0) -> None:
    body = {"type": "track", "payload": {"name": "screen_view", "properties": properties}}
    request = parse_track_request(json.dumps(body))
    ingest(request, RequestContext(CALLER, META, NOW + timedelta(minutes=minutes)), stores, UNIT_TEST_ENRICHER)


def sources(store: FakeEventStore) -> list[tuple[str, str, str, Any]]:
    return [(e.referrer, e.referrer_name, e.referrer_type, e.properties.get("__query")) for e in store.events]


def test_a_later_page_view_in_the_session_inherits_the_entry_source_and_campaign() -> None:
    # Given a visit that arrived from Google on a campaign URL
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, {"__path": f"{PAGE}?utm_source=google&utm_campaign=brand", "__referrer": "https://www.google.com/"})

    # When a second page view follows, referred by the site itself, with a query of its own
    send(stores, {"__path": f"{PAGE}/socks?size=42", "__referrer": f"{PAGE}?utm_source=google"}, minutes=2)

    # Then it still says Google, with the campaign beside its own query; session_start says so too
    entry = ("https://www.google.com", "Google", "search", {"utm_source": "google", "utm_campaign": "brand"})
    second = (
        "https://www.google.com",
        "Google",
        "search",
        {"size": "42", "utm_source": "google", "utm_campaign": "brand"},
    )
    assert sources(store) == [entry, entry, second]


def test_an_event_with_a_source_of_its_own_keeps_it() -> None:
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, {"__path": PAGE, "__referrer": "https://www.google.com/"})
    send(stores, {"__path": PAGE, "__referrer": "https://chatgpt.com/"}, minutes=1)
    assert [e.referrer_name for e in tracked(store)] == ["Google", "ChatGPT"]


def test_a_new_session_does_not_inherit_the_ended_ones_source() -> None:
    store = FakeEventStore()
    stores = fake_stores(store)
    send(stores, {"__path": f"{PAGE}?utm_source=newsletter", "__referrer": "https://www.google.com/"})
    send(stores, {"__path": PAGE}, minutes=45)
    last: Event = tracked(store)[-1]
    assert (last.referrer, last.referrer_name, last.properties.get("__query")) == ("", "", None)


def test_a_batch_inherits_like_single_events() -> None:
    # Given a batch whose first page view came from a search engine and whose others carry no source
    store = FakeEventStore()
    stores = fake_stores(store)
    items = [
        {"type": "track", "payload": {"name": "screen_view", "properties": props}}
        for props in (
            {"__path": PAGE, "__referrer": "https://duckduckgo.com/"},
            {"__path": f"{PAGE}/a"},
            {"__path": f"{PAGE}/b", "__referrer": PAGE},
        )
    ]

    # When it is ingested, and another batch follows in the same session
    ingest_batch(batch_of(items, "batch#r1"), RequestContext(CALLER, META, NOW), stores, UNIT_TEST_ENRICHER)
    later = RequestContext(CALLER, META, NOW + timedelta(minutes=3))
    ingest_batch(batch_of(items[1:], "batch#r2"), later, stores, UNIT_TEST_ENRICHER)

    # Then every event says DuckDuckGo
    assert [(e.referrer, e.referrer_name) for e in tracked(store)] == [("https://duckduckgo.com", "DuckDuckGo")] * 5
