"""The read API's rules, with in-memory readers: who may read, which project and window, cursors, entities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beacon.domain import reads
from beacon.domain.entities import ClientType, TimeWindow
from beacon.domain.ports import Readers
from beacon.domain.reads import resolve_window
from beacon.errors import ForbiddenError, InvalidCredentialsError, InvalidRequestError, NotFoundError
from beacon.gateway.read_responses import events_page_response, group_response, profile_response
from beacon.models.reads import EntityQuery, ExportEventsQuery, ProfileEventsQuery
from tests.constants import NOVEMBER_NOON as NOW
from tests.unit.support.read_fakes import (
    FakeEntityReader,
    FakeEventReader,
    cursor_codec,
    fake_readers,
    reader,
    stored_event,
)


def export(readers, caller=None, now=NOW, **params):
    query = ExportEventsQuery.model_validate(params)
    return events_page_response(reads.export_events(caller or reader(), query, readers, cursor_codec(), now))


def page_all(readers, limit, **params):
    """Every page of a query, following meta.next; the ids in the order they came."""
    ids, pages, cursor = [], 0, None
    while True:
        page = export(readers, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        ids += [event.id for event in page.data]
        pages += 1
        cursor = page.meta.next
        if cursor is None:
            return ids, pages


# -- who may read ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client_type", [ClientType.READ, ClientType.ROOT])
def test_read_and_root_clients_with_their_secret_may_read(client_type):
    page = export(fake_readers(), caller=reader(client_type=client_type))
    assert page.meta.count == 0


def test_a_write_client_is_forbidden_even_with_its_secret():
    with pytest.raises(ForbiddenError) as refusal:
        export(fake_readers(), caller=reader(client_type=ClientType.WRITE))
    assert refusal.value.status == 403


def test_a_read_client_without_its_secret_is_refused_as_a_browser_would_be():
    # Given a read client authenticated by an allowed Origin only (no secret)
    with pytest.raises(InvalidCredentialsError) as refusal:
        export(fake_readers(), caller=reader(secret=False))
    # Then it is a 401 that names the secret
    assert refusal.value.status == 401 and "secret" in refusal.value.message


def test_another_project_is_forbidden_and_nothing_is_read():
    # Given project-b's events and a reader of project-a
    readers = fake_readers([stored_event("project-b", NOW - timedelta(minutes=1), 1)])
    # When project-a's client asks for projectId=project-b
    with pytest.raises(ForbiddenError):
        export(readers, projectId="project-b")
    # Then it is refused before any read
    assert readers.events.calls == []  # type: ignore[attr-defined]


def test_the_callers_own_project_is_the_default_and_may_be_named():
    readers = fake_readers([stored_event("project-a", NOW - timedelta(minutes=1), 1)])
    assert export(readers).meta.count == export(readers, projectId="project-a").meta.count == 1


# -- time window -----------------------------------------------------------------------------------------------


def test_the_window_defaults_to_the_last_24_hours():
    assert resolve_window(None, None, NOW) == TimeWindow(NOW - timedelta(hours=24), NOW)


def test_an_end_alone_looks_24_hours_back_from_it():
    end = NOW - timedelta(days=3)
    assert resolve_window(None, end, NOW) == TimeWindow(end - timedelta(hours=24), end)


def test_exactly_31_days_is_allowed_and_one_millisecond_more_is_400():
    start = NOW - timedelta(days=31)
    assert resolve_window(start, NOW, NOW).start == start
    with pytest.raises(InvalidRequestError) as refusal:
        resolve_window(start - timedelta(milliseconds=1), NOW, NOW)
    assert refusal.value.details == [
        {
            "field": "end",
            "message": "at most 31 days after start; page through longer periods",
            "type": "range_too_long",
        }
    ]


def test_a_start_alone_older_than_31_days_is_400():
    with pytest.raises(InvalidRequestError):
        resolve_window(NOW - timedelta(days=40), None, NOW)


def test_start_after_end_is_400():
    with pytest.raises(InvalidRequestError) as refusal:
        resolve_window(NOW, NOW - timedelta(seconds=1), NOW)
    assert refusal.value.details and refusal.value.details[0]["field"] == "start"


def test_times_are_utc_with_milliseconds_and_naive_means_utc():
    window = resolve_window(
        datetime(2026, 11, 20, 10, 0, 0, 123999), datetime(2026, 11, 21, 12, 0, 0, 999999, tzinfo=UTC), NOW
    )
    assert window == TimeWindow(
        datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC), datetime(2026, 11, 21, 12, 0, 0, 999000, tzinfo=UTC)
    )


def test_a_date_alone_as_end_is_the_whole_day():
    query = ExportEventsQuery.model_validate({"start": "2026-11-01", "end": "2026-11-30"})
    window = resolve_window(query.start, query.end, NOW)
    assert window == TimeWindow(
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC)
    )


def test_events_on_both_edges_of_the_window_are_included():
    # Given events at the window's first and last millisecond, and one just outside each edge
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    edges = [start - timedelta(milliseconds=1), start, end, end + timedelta(milliseconds=1)]
    readers = fake_readers([stored_event("project-a", moment, number) for number, moment in enumerate(edges)])
    # When the window is read
    page = export(readers, start=start.isoformat(), end=end.isoformat())
    # Then exactly the two on the edges come back, newest first
    assert [event.properties["n"] for event in page.data] == [2, 1]


# -- pages and cursors -----------------------------------------------------------------------------------------


def test_paging_returns_every_event_once_newest_first_with_ties_in_the_same_millisecond():
    # Given 50 events, five per millisecond
    events = [stored_event("project-a", NOW - timedelta(milliseconds=n // 5), n) for n in range(50)]
    readers = fake_readers(events)
    # When they are read 7 at a time
    ids, pages = page_all(readers, limit=7)
    # Then every event comes once, in sort-key order, over ceil(50/7) pages
    expected = [event["id"] for event in sorted(events, key=lambda e: (e["createdAt"], e["id"]), reverse=True)]
    assert ids == expected and pages == 8


def test_later_pages_keep_the_first_pages_window_even_as_time_passes():
    # Given a first page read with the default window, and an event stored just after
    events = [stored_event("project-a", NOW - timedelta(minutes=n), n) for n in range(3)]
    readers = fake_readers(events)
    first = export(readers, limit=1)
    readers.events.events.append(stored_event("project-a", NOW + timedelta(minutes=1), 99))  # type: ignore[attr-defined]
    # When the next page is read an hour later
    query = ExportEventsQuery.model_validate({"limit": 5, "cursor": first.meta.next})
    second = events_page_response(
        reads.export_events(reader(), query, readers, cursor_codec(), NOW + timedelta(hours=1))
    )
    # Then it continues the same window: the newer event is not slipped in
    assert [event.properties["n"] for event in second.data] == [1, 2]


def test_parameters_repeated_with_a_cursor_must_be_the_first_pages():
    readers = fake_readers([stored_event("project-a", NOW - timedelta(minutes=n), n, name="a") for n in range(3)])
    first = export(readers, limit=1, event="a", start="2026-11-22T00:00:00Z")
    cursor = first.meta.next
    # The same parameters, or none, are fine
    assert export(readers, limit=1, event="a", start="2026-11-22T00:00:00.000Z", cursor=cursor).meta.count == 1
    assert export(readers, limit=1, cursor=cursor).meta.count == 1
    # Different ones are a 400 naming the parameter
    for changed in ({"event": "b"}, {"start": "2026-11-21T00:00:00Z"}, {"profileId": "u1"}):
        with pytest.raises(InvalidRequestError) as refusal:
            export(readers, limit=1, cursor=cursor, **changed)
        assert refusal.value.details and refusal.value.details[0]["field"] == next(iter(changed))


def test_a_cursor_of_another_project_is_refused():
    # Given a cursor issued to project-b's reader
    readers = fake_readers([stored_event("project-b", NOW - timedelta(minutes=n), n) for n in range(3)])
    cursor = export(readers, caller=reader("project-b"), limit=1).meta.next
    # When project-a's reader sends it, Then it is refused and nothing of project-b is read for project-a
    with pytest.raises(InvalidRequestError):
        export(readers, limit=1, cursor=cursor)


def test_the_last_page_has_no_next():
    readers = fake_readers([stored_event("project-a", NOW - timedelta(minutes=n), n) for n in range(4)])
    assert export(readers, limit=4).meta.next is None
    assert export(readers, limit=3).meta.next is not None


def test_the_event_filter_keeps_only_that_name():
    events = [stored_event("project-a", NOW - timedelta(minutes=n), n, name="ab"[n % 2]) for n in range(10)]
    page = export(fake_readers(events), event="b")
    assert [event.properties["n"] for event in page.data] == [1, 3, 5, 7, 9]


def test_a_profile_filter_is_resolved_through_its_alias_once_per_query():
    # Given events of profile 1, and a1 an alias of 1
    events = [stored_event("project-a", NOW - timedelta(minutes=n), n, profile_id="1") for n in range(5)]
    readers = fake_readers(events)
    readers.entities.aliases[("project-a", "a1")] = "1"  # type: ignore[attr-defined]
    # When they are paged by the alias
    ids, _ = page_all(readers, limit=2, profileId="a1")
    # Then every event of profile 1 comes back, and the alias was looked up on the first page only
    assert len(ids) == 5
    assert readers.entities.resolved == ["a1"]  # type: ignore[attr-defined]


def test_profile_events_use_the_path_profile():
    events = [stored_event("project-a", NOW - timedelta(minutes=n), n, profile_id=str(n % 2)) for n in range(6)]
    readers = fake_readers(events)
    query = ProfileEventsQuery.model_validate({})
    page = events_page_response(reads.profile_events(reader(), "1", query, readers, cursor_codec(), NOW))
    assert [event.properties["n"] for event in page.data] == [1, 3, 5]


# -- profiles and groups ---------------------------------------------------------------------------------------


def test_a_profile_read_by_its_alias_is_the_canonical_profile_with_first_and_last_seen():
    # Given profile 1 (identified at 10:00, updated at 11:00), an alias a1, and events at 09:00 and 11:30
    entities = FakeEntityReader()
    entities.aliases[("project-a", "a1")] = "1"
    entities.profiles[("project-a", "1")] = {
        "profileId": "1",
        "firstName": "Joe",
        "properties": {"visits": 2},
        "groups": ["org_acme"],
        "aliases": ["a1"],
        "createdAt": "2026-11-22T10:00:00.000Z",
        "updatedAt": "2026-11-22T11:00:00.000Z",
    }
    events = FakeEventReader(
        [
            stored_event("project-a", datetime(2026, 11, 22, 9, tzinfo=UTC), 1, profile_id="1"),
            stored_event("project-a", datetime(2026, 11, 22, 11, 30, tzinfo=UTC), 2, profile_id="1"),
        ]
    )
    # When it is read by the alias
    profile = profile_response(reads.read_profile(reader(), "a1", EntityQuery(), Readers(events, entities)))
    # Then it is profile 1, seen first at its oldest event and last at its newest
    assert (profile.profileId, profile.firstName, profile.properties) == ("1", "Joe", {"visits": 2})
    assert (profile.groups, profile.aliases) == (["org_acme"], ["a1"])
    assert (profile.firstSeenAt, profile.lastSeenAt) == ("2026-11-22T09:00:00.000Z", "2026-11-22T11:30:00.000Z")


def test_a_profile_known_only_from_its_events_is_found():
    events = [stored_event("project-a", NOW - timedelta(minutes=1), 1, profile_id="u9")]
    profile = profile_response(reads.read_profile(reader(), "u9", EntityQuery(), fake_readers(events)))
    assert profile.profileId == "u9" and profile.properties == {} and profile.lastSeenAt is not None


def test_an_unknown_profile_or_group_is_404():
    with pytest.raises(NotFoundError) as refusal:
        reads.read_profile(reader(), "nobody", EntityQuery(), fake_readers())
    assert refusal.value.status == 404
    with pytest.raises(NotFoundError):
        reads.read_group(reader(), "nothing", EntityQuery(), fake_readers())


def test_a_group_is_read_with_its_properties():
    readers = fake_readers()
    readers.entities.groups[("project-a", "org_acme")] = {  # type: ignore[attr-defined]
        "groupId": "org_acme",
        "type": "company",
        "name": "Acme Inc",
        "properties": {"seats": 25},
        "createdAt": "2026-11-22T10:00:00.000Z",
        "updatedAt": "2026-11-22T10:00:00.000Z",
    }
    group = group_response(reads.read_group(reader(), "org_acme", EntityQuery(), readers))
    assert (group.id, group.type, group.name, group.properties) == ("org_acme", "company", "Acme Inc", {"seats": 25})


def test_entities_of_another_project_are_forbidden():
    with pytest.raises(ForbiddenError):
        reads.read_group(reader(), "org_acme", EntityQuery(projectId="project-b"), fake_readers())
    with pytest.raises(ForbiddenError):
        reads.read_profile(reader(client_type=ClientType.WRITE), "1", EntityQuery(), fake_readers())
