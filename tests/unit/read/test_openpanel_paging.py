"""OpenPanel's export parameters: `page` numbers, repeated `event` names, and `meta.totalCount` only where it is
known exactly (docs/API.md, Read API)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from beacon.domain import reads
from beacon.errors import InvalidRequestError
from beacon.gateway.read_responses import events_page_response
from beacon.models.reads import ExportEventsQuery
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.read.test_handler import invoke, read_app, readers, request  # noqa: F401 - fixtures
from tests.unit.support.read_fakes import cursor_codec, fake_readers, reader, stored_event

NAMES = ["screen_view", "signup", "screen_view", "purchase", "screen_view", "signup", "screen_view"]


def seven():
    return fake_readers(
        [stored_event("project-a", NOW - timedelta(minutes=n + 1), n, name) for n, name in enumerate(NAMES)]
    )


def export(readers_, **params):
    query = ExportEventsQuery.model_validate(params)
    return events_page_response(reads.export_events(reader(), query, readers_, cursor_codec(), NOW))


def test_page_numbers_walk_the_same_events_as_the_cursor() -> None:
    store = seven()
    by_page = [[e.id for e in export(store, limit=3, page=n).data] for n in (1, 2, 3)]
    first = export(store, limit=3)
    second = export(store, limit=3, cursor=first.meta.next)
    assert by_page[0] == [e.id for e in first.data]
    assert by_page[1] == [e.id for e in second.data]
    assert [len(ids) for ids in by_page] == [3, 3, 1]


def test_the_total_is_given_on_the_last_page_reached_by_number_and_never_guessed() -> None:
    store = seven()
    assert (export(store, limit=3, page=1).meta.totalCount, export(store, limit=3, page=2).meta.totalCount) == (
        None,
        None,
    )
    last = export(store, limit=3, page=3).meta
    assert (last.current, last.totalCount, last.pages, last.next) == (3, 7, 3, None)
    past = export(store, limit=3, page=9).meta
    assert (past.count, past.totalCount, past.next) == (0, 7, None)
    # a single page holding everything knows its total too
    assert export(store, limit=50).meta.totalCount == 7


def test_a_page_reached_by_cursor_has_no_total() -> None:
    store = seven()
    first = export(store, limit=5)
    assert export(store, limit=5, cursor=first.meta.next).meta.totalCount is None


def test_repeated_event_names_match_any_of_them() -> None:
    page = export(seven(), event=["signup", "purchase"], limit=50)
    assert sorted(e.name for e in page.data) == ["purchase", "signup", "signup"]
    assert page.meta.totalCount == 3


def test_a_page_number_with_a_cursor_or_too_far_in_is_a_400() -> None:
    store = seven()
    cursor = export(store, limit=2).meta.next
    with pytest.raises(InvalidRequestError):
        export(store, limit=2, cursor=cursor, page=2)
    with pytest.raises(InvalidRequestError):
        export(store, limit=1000, page=12)


def test_the_handler_reads_every_value_of_a_repeated_event(read_app, readers) -> None:  # noqa: F811
    event = request("/export/events", {"event": "signup"})
    event["multiValueQueryStringParameters"]["event"] = ["signup", "screen_view"]
    status, body, _ = invoke(read_app, event)
    assert status == 200, body
    assert body["meta"]["current"] == 1


def test_more_than_twenty_event_names_are_refused() -> None:
    with pytest.raises(ValueError, match="event"):
        ExportEventsQuery.model_validate({"event": [f"e{n}" for n in range(21)]})
