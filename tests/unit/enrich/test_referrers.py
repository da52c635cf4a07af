"""Referrer classification: OpenPanel's same-site rule, host table lookups, and the query's source override."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from admin import referrers as generator
from beacon.domain.referrers import TABLE_FILE, Referrer, classify_referrer
from tests.constants import ROOT

PAGE = "shop.example"


# OpenPanel's own documented cases (parseReferrer, getReferrerWithQuery and the worker's same-domain rule).


def test_a_referrer_from_the_page_s_own_host_is_dropped() -> None:
    # Given a visitor moving between two pages of the same site
    # When the second page's referrer is classified
    referrer = classify_referrer("https://shop.example/cart", PAGE, {})

    # Then there is no referrer to store
    assert referrer is None


def test_a_known_referrer_keeps_its_url_with_query_and_gets_name_and_type() -> None:
    assert classify_referrer("https://google.com/search?q=test", PAGE, {}) == Referrer(
        url="https://google.com/search?q=test", name="Google", type="search"
    )


@pytest.mark.parametrize("url", ["https://www.twitter.com/user", "https://twitter.com/user"])
def test_www_and_bare_hosts_resolve_to_the_same_source(url: str) -> None:
    assert classify_referrer(url, PAGE, {}) == Referrer(url=url, name="Twitter", type="social")


def test_an_unknown_host_is_stored_without_name_or_type() -> None:
    assert classify_referrer("https://unknown-site.com", PAGE, {}) == Referrer("https://unknown-site.com", "", "")


def test_a_referrer_that_is_not_a_url_is_stored_as_sent() -> None:
    assert classify_referrer("not-a-url", PAGE, {}) == Referrer("not-a-url", "", "")


@pytest.mark.parametrize("referrer", [None, "", "   "])
def test_no_referrer_and_no_query_source_is_nothing_to_store(referrer: str | None) -> None:
    assert classify_referrer(referrer, PAGE, {}) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"utm_source": "google"}, Referrer("", "Google", "search")),
        ({"ref": "facebook"}, Referrer("", "Facebook", "social")),
        ({"utm_referrer": "twitter"}, Referrer("", "Twitter", "social")),
        ({"utm_source": "GoOgLe"}, Referrer("", "Google", "search")),
        ({"utm_source": "unknown-source"}, Referrer("", "unknown-source", "")),
        ({"utm_source": "google", "ref": "facebook", "utm_referrer": "twitter"}, Referrer("", "Google", "search")),
        ({"ref": "facebook", "utm_referrer": "twitter"}, Referrer("", "Facebook", "social")),
    ],
    ids=["utm_source", "ref", "utm_referrer", "case", "unknown", "utm_source-first", "ref-before-utm_referrer"],
)
def test_the_query_names_the_source_when_there_is_no_referrer(query: dict[str, str], expected: Referrer) -> None:
    assert classify_referrer(None, PAGE, query) == expected


# Beacon's own cases.


def test_an_unknown_query_source_keeps_its_own_lowercase_name() -> None:
    assert classify_referrer(None, PAGE, {"utm_source": "Spring-Newsletter"}) == Referrer("", "spring-newsletter", "")


def test_the_query_source_overrides_the_referrer_s_name_and_type_but_keeps_its_url() -> None:
    # Given a click from a Facebook ad whose landing page says utm_source=google (a mistagged campaign)
    # When it is classified
    referrer = classify_referrer("https://l.facebook.com/", PAGE, {"utm_source": "Google"})

    # Then the URL is the real referrer, name and type the query's
    assert referrer == Referrer("https://l.facebook.com", "Google", "search")


def test_an_unknown_query_source_takes_the_referrer_s_type() -> None:
    # As OpenPanel: the name is the query's, the type falls back to the referrer host's.
    assert classify_referrer("https://www.google.com/", PAGE, {"utm_source": "newsletter"}) == Referrer(
        "https://www.google.com", "newsletter", "search"
    )


def test_a_query_source_survives_a_same_site_referrer() -> None:
    # Given a landing page reached by an internal redirect that kept ?utm_source=
    referrer = classify_referrer("https://shop.example/go", PAGE, {"utm_source": "facebook"})

    # Then the referrer URL is dropped and the source kept
    assert referrer == Referrer("", "Facebook", "social")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"utm_source": "chatgpt.com"}, Referrer("", "ChatGPT", "ai")),
        ({"utm_source": "Hacker News"}, Referrer("", "Hacker News", "social")),
        ({"utm_source": "yahoo!"}, Referrer("", "Yahoo!", "search")),
        ({"utm_source": "", "ref": "facebook"}, Referrer("", "Facebook", "social")),
        ({"utm_source": "  Google "}, Referrer("", "Google", "search")),
        ({"UTM_SOURCE": "google"}, None),
        ({"utm_campaign": "spring", "utm_medium": "email"}, None),
    ],
    ids=["host", "name", "name-prefers-search", "blank-falls-through", "padded", "keys-are-exact", "no-source"],
)
def test_query_sources_resolve_by_host_then_dotcom_then_name(query: dict[str, str], expected: Referrer | None) -> None:
    assert classify_referrer(None, PAGE, query) == expected


@pytest.mark.parametrize(
    ("referrer", "page_host"),
    [
        ("https://www.shop.example/", "shop.example"),
        ("https://shop.example/", "www.shop.example"),
        ("http://shop.example:8080/a", "shop.example"),
        ("https://SHOP.Example/a", "shop.example"),
        ("https://shop.example./a", "shop.example"),
        ("http://localhost:5173/", "localhost:3000"),
        ("https://shop.example/", "Shop.Example:443"),
    ],
    ids=["www-referrer", "www-page", "port-and-scheme", "case", "trailing-dot", "both-ports", "page-host-port"],
)
def test_the_same_site_ignores_scheme_port_case_and_one_www(referrer: str, page_host: str) -> None:
    assert classify_referrer(referrer, page_host, {}) is None


@pytest.mark.parametrize(
    ("referrer", "page_host"),
    [
        ("https://blog.shop.example/post", "shop.example"),
        ("https://shop.example/", "shop.example.org"),
        ("https://www2.shop.example/", "shop.example"),
    ],
    ids=["subdomain", "longer-host", "www2"],
)
def test_another_host_of_the_same_company_is_a_referrer(referrer: str, page_host: str) -> None:
    # OpenPanel compares whole host names: a blog linking to the shop is traffic the shop wants to see.
    result = classify_referrer(referrer, page_host, {})

    assert result is not None and result.url == referrer.rstrip("/")


def test_an_app_screen_keeps_any_referrer() -> None:
    # An app screen has no page host: nothing is the same site.
    assert classify_referrer("https://shop.example/", None, {}) == Referrer("https://shop.example", "", "")


@pytest.mark.parametrize(
    ("url", "name", "kind"),
    [
        ("https://m.facebook.com/", "Facebook", "social"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example%2F", "Facebook", "social"),
        ("https://www.google.co.uk/", "Google", "search"),
        ("https://google.co.uk:443/", "Google", "search"),
        ("https://news.ycombinator.com/item?id=1", "Hacker News", "social"),
        ("https://t.co/abc", "Twitter", "social"),
        ("https://x.com/someone/status/1", "Twitter", "social"),
        ("https://mail.google.com/mail/u/0/", "Gmail", "email"),
        ("android-app://com.google.android.gm/", "Gmail", "email"),
        ("android-app://com.google.android.googlequicksearchbox/", "Google", "search"),
        ("https://chatgpt.com/", "ChatGPT", "ai"),
        ("https://chat.openai.com/c/1", "ChatGPT", "ai"),
        ("https://www.perplexity.ai/search?q=x", "Perplexity", "ai"),
        ("https://claude.ai/chat/1", "Claude", "ai"),
        ("https://gemini.google.com/app", "Google Gemini", "ai"),
        ("https://copilot.microsoft.com/", "Microsoft Copilot", "ai"),
        ("https://bsky.app/profile/x", "Bluesky", "social"),
        ("https://someone.substack.com/p/post", "Substack", "content"),
    ],
)
def test_hosts_and_their_subdomains_resolve_through_the_table(url: str, name: str, kind: str) -> None:
    result = classify_referrer(url, PAGE, {})

    assert result is not None and (result.name, result.type) == (name, kind)


def test_an_unlisted_subdomain_resolves_to_its_parent_and_a_bare_suffix_to_nothing() -> None:
    # calendar.google.com is not listed, google.com is; "co.uk" alone must never match anything.
    assert classify_referrer("https://calendar.google.com/", PAGE, {}) == Referrer(
        "https://calendar.google.com", "Google", "search"
    )
    assert classify_referrer("https://someone.co.uk/", PAGE, {}) == Referrer("https://someone.co.uk", "", "")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("https://www.google.com/", "https://www.google.com"),
        ("https://example.org/a///", "https://example.org/a"),
        ("https://example.org/a/?b=1", "https://example.org/a/?b=1"),
        ("https://example.org/a?b=1#frag", "https://example.org/a?b=1#frag"),
        ("  https://example.org/  ", "https://example.org"),
    ],
    ids=["one-slash", "many-slashes", "slash-before-query", "query-and-fragment", "surrounding-spaces"],
)
def test_the_url_is_stored_as_sent_without_its_trailing_slashes(sent: str, stored: str) -> None:
    result = classify_referrer(sent, PAGE, {})

    assert result is not None and result.url == stored


def test_a_referrer_whose_url_is_only_slashes_is_nothing_to_store() -> None:
    assert classify_referrer("///", PAGE, {}) is None


def test_a_malformed_host_is_stored_without_name_rather_than_raising() -> None:
    assert classify_referrer("http://[::1", PAGE, {}) == Referrer("http://[::1", "", "")


def test_a_host_longer_than_dns_allows_is_unknown_even_under_a_listed_domain() -> None:
    url = "https://" + "a." * 200 + "facebook.com/"

    assert classify_referrer(url, PAGE, {}) == Referrer(url.rstrip("/"), "", "")


def test_the_table_is_loaded_at_the_first_referrer_not_at_import() -> None:
    # Given a fresh interpreter (a new container), when the module is imported and then used
    script = (
        "from beacon.domain import referrers as r\n"
        "before = r._table.cache_info().currsize\n"
        "r.classify_referrer('https://t.co/x', 'shop.example', {})\n"
        "r.classify_referrer('https://bing.com/', 'shop.example', {})\n"
        "print(before, r._table.cache_info().currsize, r._table.cache_info().misses)"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "beacon")}
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment
    ).stdout

    # Then nothing was read at import, and the table was built once for both events
    assert output.split() == ["0", "1", "1"]


# The vendored table and its generator (admin/referrers.py, `make referrers`).


def test_the_committed_table_is_what_the_generator_builds_from_the_committed_sources() -> None:
    # No network: the generator's inputs (Snowplow's referers.yml and Beacon's supplement) are committed too.
    assert TABLE_FILE.read_text(encoding="utf-8") == generator.build()


def test_the_table_lists_every_host_once() -> None:
    hosts = [host for _, _, domains in json.loads(TABLE_FILE.read_bytes())["referrers"] for host in domains]

    assert len(hosts) == len(set(hosts)) > 1500


def test_the_generator_renames_chatbot_to_ai_and_leaves_out_hosts_with_a_path() -> None:
    snowplow = "chatbot:\n  Bot:\n    domains: [bot.example]\nsearch:\n  Finder:\n    domains: [find.example/images]\n"

    document = json.loads(generator.build_document(snowplow, "{}"))

    assert document["referrers"] == [["Bot", "ai", ["bot.example"]]]


def test_a_host_listed_twice_by_snowplow_keeps_its_last_entry() -> None:
    snowplow = "unknown:\n  Site:\n    domains: [a.example]\nsearch:\n  Site:\n    domains: [a.example]\n"

    document = json.loads(generator.build_document(snowplow, "{}"))

    assert document["referrers"] == [["Site", "search", ["a.example"]]]


def test_the_supplement_may_not_redefine_a_snowplow_host() -> None:
    snowplow = "social:\n  Site:\n    domains: [a.example]\n"
    supplement = "ai:\n  Other:\n    domains: [a.example, b.example]\n"

    with pytest.raises(generator.ReferrerDataError, match=r"remove them there: a\.example$"):
        generator.build_document(snowplow, supplement)
