"""The export's pages (beacon/domain/privacy.py `export_page`) over fakes: every id of the person in turn, cursors that
stay short whatever the person's aliases, and ids that change between pages."""

from __future__ import annotations

from typing import Any

from beacon.domain.entities import Caller, ClientType
from beacon.domain.erasure import ErasureRequest, ErasureScope
from beacon.domain.privacy import ExportCursorCodec, export_page
from beacon.models.reads import MAX_CURSOR_LENGTH

ROOT = Caller("project-a", "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.ROOT, True)
CODEC = ExportCursorCodec(lambda: b"unit-secret")


class Person:
    """A person's ids and each id's events (plain numbers), the store's position an integer in a dict."""

    def __init__(self, events: dict[str, list[int]]) -> None:
        self.events = events

    def resolve(self, request: ErasureRequest) -> ErasureScope:
        return ErasureScope(request.project_id, frozenset(self.events))

    def head(self, scope: ErasureScope) -> dict[str, list[dict[str, Any]]]:
        return {"profiles": [], "aliases": [], "groups": [], "sessions": []}

    def profile_ids(self, project_id: str, profile_id: str) -> frozenset[str]:
        return frozenset(self.events)

    def events_page(
        self, project_id: str, profile_id: str, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        start = 0 if after is None else int(after["n"])
        found = self.events[profile_id][start : start + limit]
        end = start + len(found)
        return [{"n": n} for n in found], ({"n": end} if end < len(self.events[profile_id]) else None)


def all_pages(person: Person, profile: str, limit: int) -> list[Any]:
    pages = [export_page(ROOT, None, profile, None, limit, person, person, CODEC)]
    while pages[-1].next_cursor:
        pages.append(export_page(ROOT, None, profile, pages[-1].next_cursor, limit, person, person, CODEC))
    return pages


def test_a_person_with_many_long_aliases_pages_with_cursors_the_api_accepts() -> None:
    # Given a person with 60 aliases of 256 characters (not ASCII), two events under each
    aliases = {f"{'é' * 250}{n:06d}": [2 * n, 2 * n + 1] for n in range(60)}
    person = Person({"p": [-1], **aliases})
    # When the export is paged one event at a time
    pages = all_pages(person, "p", 1)
    # Then every event comes once, and no cursor is longer than the API takes
    assert sorted(event["n"] for page in pages for event in page.events) == list(range(-1, 120))
    assert max(len(page.next_cursor or "") for page in pages) <= MAX_CURSOR_LENGTH


def test_an_id_that_stops_being_the_persons_between_pages_is_passed_over() -> None:
    # Given a person whose second id goes away after the first page
    person = Person({"a": [1, 2], "b": [3, 4], "c": [5]})
    first = export_page(ROOT, None, "a", None, 3, person, person, CODEC)
    assert [event["n"] for event in first.events] == [1, 2, 3]
    del person.events["b"]
    # When the next page is read
    second = export_page(ROOT, None, "a", first.next_cursor, 3, person, person, CODEC)
    # Then it goes on with the next id still the person's
    assert [event["n"] for event in second.events] == [5] and second.next_cursor is None
