"""The session's traffic source as its later events take it: referrer, name, type and campaign parameters, for
single events and batches alike (docs/API.md, Derived fields; the classification itself: tests/unit/enrich/
test_referrers.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from beacon.domain.batch import ingest_batch
from beacon.domain.entities import Event, RequestContext
from beacon.domain.ingest import ingest
from beacon.models.requests import parse_track_request
from tests.constants import CALLER, META, NOW
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import UNIT_TEST_ENRICHER, FakeEventStore, fake_stores, tracked

PAGE = "https://shop.example.com/products"


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
