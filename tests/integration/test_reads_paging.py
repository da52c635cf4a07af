"""The read API's queries against DynamoDB Local (tables from template.yaml): pages across the write shards and
the profile index, exactly once and in order, window edges, filters, aliases, projects kept apart."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.domain import reads
from beacon.domain.entities import Caller, ClientType, Event, TimeWindow
from beacon.domain.ports import Readers
from beacon.errors import InvalidRequestError
from beacon.gateway.read_responses import events_page_response, group_response, profile_response
from beacon.models.reads import EntityQuery, ExportEventsQuery, ProfileEventsQuery
from beacon.store.events import EVENT_SHARDS, event_to_item, isoformat_ms
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.reads import DynamoDBEntityReader, DynamoDBEventReader
from local.template import read_template

pytestmark = pytest.mark.integration

# Event times are chosen freely; receipt is now, so the items' TTL (receipt + retention) lies in the future.
BASE = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
CODEC = reads.CursorCodec(lambda: b"integration-test-cursor-secret")


@pytest.fixture(scope="module")
def tables() -> dict[str, str]:
    return read_template().functions()["ReadFunction"].environment


@pytest.fixture
def store_events(dynamodb: Any, tables: dict[str, str]) -> Callable[[list[Event]], None]:
    def store(events: list[Event]) -> None:
        requests = [{"PutRequest": {"Item": event_to_item(event, retention_days=30)}} for event in events]
        for start in range(0, len(requests), 25):
            pending = {tables["EVENTS_TABLE"]: requests[start : start + 25]}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    return store


def make_event(
    project: str, moment: datetime, number: int, name: str = "page_view", profile: str | None = None
) -> Event:
    millis = int(moment.timestamp() * 1000)
    return Event(
        id=f"{millis:012x}{random.getrandbits(64):016x}",
        project_id=project,
        client_id="3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
        name=name,
        properties={"n": number, "path": f"/p/{number % 17}", "price": 9.99},
        profile_id=profile,
        groups=None,
        device_id="d",
        session_id="s",
        created_at=moment,
        received_at=datetime.now(UTC),
        device={"os": "Mac OS X", "browser": "Safari", "device": "desktop"},
        geo={"country": "SE"},
    )


def newest_first(events: list[Event]) -> list[str]:
    return [event.id for event in sorted(events, key=lambda e: f"{isoformat_ms(e.created_at)}#{e.id}", reverse=True)]


@pytest.fixture
def readers(dynamodb: Any, tables: dict[str, str]) -> Readers:
    return Readers(
        events=DynamoDBEventReader(tables["EVENTS_TABLE"], client=dynamodb),
        entities=DynamoDBEntityReader(tables["ENTITIES_TABLE"], client=dynamodb),
    )


def read_client(project: str) -> Caller:
    return Caller(project, "c-read", ClientType.READ, True)


def all_pages(readers: Readers, project: str, limit: int, now: datetime, **params: Any) -> list[list[str]]:
    """Every page of an export, following meta.next; each page's event ids."""
    pages, cursor = [], None
    while True:
        query = ExportEventsQuery.model_validate({**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        page = events_page_response(reads.export_events(read_client(project), query, readers, CODEC, now))
        pages.append([event.id for event in page.data])
        cursor = page.meta.next
        if cursor is None:
            return pages
        assert len(pages) < 1000, "paging does not end"


WINDOW = {"start": (BASE - timedelta(hours=1)).isoformat(), "end": (BASE + timedelta(hours=2)).isoformat()}


def test_paging_returns_every_event_once_in_order_with_many_sharing_a_millisecond(store_events, readers, project_id):
    # Given 350 events of a project, seven per millisecond, spread over the 8 write shards
    events = [make_event(project_id, BASE + timedelta(milliseconds=(n // 7) * 37), n) for n in range(350)]
    store_events(events)
    for limit in (7, 100):
        # When they are paged `limit` at a time
        pages = all_pages(readers, project_id, limit, BASE + timedelta(days=1), **WINDOW)
        # Then every event comes exactly once, newest first (ties by id), every page but the last is full
        assert [event_id for page in pages for event_id in page] == newest_first(events)
        assert all(len(page) == limit for page in pages[:-1]), limit
        assert len(pages) == -(-350 // limit), limit


def test_data_ending_exactly_on_a_page_boundary_ends_with_next_null(store_events, readers, project_id):
    # Given exactly 4 events in each of the 8 shards, so every shard's first query of 4 fills its Limit
    # (DynamoDB then hands a LastEvaluatedKey although nothing is left), and pages of 8 end exactly at the end
    from beacon.store.events import EVENT_SHARDS, event_shard

    # The oldest four all in one shard: on the last page that shard's query returns exactly its Limit,
    # so only another look can tell that nothing is left.
    per_shard: dict[int, list[Event]] = {shard: [] for shard in range(EVENT_SHARDS)}
    number, oldest_shard = 0, None
    while any(len(events) < 4 for events in per_shard.values()):
        event = make_event(project_id, BASE + timedelta(seconds=number), number)
        number += 1
        shard = event_shard(event.id)
        oldest_shard = shard if oldest_shard is None else oldest_shard
        first_phase = len(per_shard[oldest_shard]) < 4
        if (shard == oldest_shard) == first_phase and len(per_shard[shard]) < 4:
            per_shard[shard].append(event)
    events = [event for shard_events in per_shard.values() for event in shard_events]
    store_events(events)
    # When they are paged 8 at a time
    pages = all_pages(readers, project_id, 8, BASE + timedelta(days=1), **WINDOW)
    # Then there are exactly 4 full pages: no cursor to an empty fifth
    assert [len(page) for page in pages] == [8, 8, 8, 8]
    assert [event_id for page in pages for event_id in page] == newest_first(events)


def test_the_window_includes_both_edges_to_the_millisecond(store_events, readers, project_id):
    # Given events one millisecond outside, and exactly on, each edge of a window
    start, end = BASE, BASE + timedelta(minutes=10)
    moments = [start - timedelta(milliseconds=1), start, end, end + timedelta(milliseconds=1)]
    events = [make_event(project_id, moment, n) for n, moment in enumerate(moments)]
    store_events(events)
    # When the window is read
    [page] = all_pages(readers, project_id, 100, BASE + timedelta(days=1), start=start.isoformat(), end=end.isoformat())
    # Then exactly the two on the edges are returned
    assert page == [events[2].id, events[1].id]


def test_the_default_window_is_the_last_24_hours(store_events, readers, project_id):
    now = BASE
    events = [make_event(project_id, now - timedelta(hours=hours), n) for n, hours in enumerate((1, 23.9, 24.1))]
    store_events(events)
    [page] = all_pages(readers, project_id, 100, now)
    assert page == [events[0].id, events[1].id]


def test_a_rare_event_is_paged_exactly_once_even_when_pages_stop_early(store_events, dynamodb, tables, project_id):
    # Given 400 events of which 1 in 20 is a purchase
    events = [
        make_event(project_id, BASE + timedelta(seconds=n), n, name="purchase" if n % 20 == 0 else "page_view")
        for n in range(400)
    ]
    store_events(events)
    # And a reader allowed one round of shard queries per page (pages stop early and carry on from a cursor)
    stingy = Readers(
        events=DynamoDBEventReader(tables["EVENTS_TABLE"], client=dynamodb, max_queries=EVENT_SHARDS),
        entities=DynamoDBEntityReader(tables["ENTITIES_TABLE"], client=dynamodb),
    )
    # When the purchases are paged 3 at a time
    pages = all_pages(stingy, project_id, 3, BASE + timedelta(days=1), event="purchase", **WINDOW)
    # Then every purchase comes once, newest first, though some pages held fewer than 3
    purchases = [event for event in events if event.name == "purchase"]
    assert [event_id for page in pages for event_id in page] == newest_first(purchases)
    assert any(len(page) < 3 for page in pages[:-1])


def test_the_event_filter_with_the_default_budget_fills_pages(store_events, readers, project_id):
    events = [make_event(project_id, BASE + timedelta(seconds=n), n, name="ab"[n % 3 == 0]) for n in range(300)]
    store_events(events)
    pages = all_pages(readers, project_id, 20, BASE + timedelta(days=1), event="b", **WINDOW)
    assert [event_id for page in pages for event_id in page] == newest_first([e for e in events if e.name == "b"])
    assert all(len(page) == 20 for page in pages[:-1])


def test_profile_events_come_from_the_profile_index_through_an_alias(
    store_events, readers, dynamodb, tables, project_id
):
    # Given profile 1 with an alias a1, its 60 events (three per millisecond) among other profiles' events
    DynamoDBProfileStore(tables["ENTITIES_TABLE"], client=dynamodb).add_alias(project_id, "1", "a1", BASE)
    mine = [make_event(project_id, BASE + timedelta(milliseconds=n // 3), n, profile="1") for n in range(60)]
    others = [make_event(project_id, BASE + timedelta(milliseconds=n // 3), n, profile="2") for n in range(60)]
    store_events(mine + others)
    # When they are paged by the alias through /export/events and through /profile/{id}/events
    pages = all_pages(readers, project_id, 7, BASE + timedelta(days=1), profileId="a1", **WINDOW)
    by_path, cursor = [], None
    while True:
        query = ProfileEventsQuery.model_validate({"limit": 7, **WINDOW, **({"cursor": cursor} if cursor else {})})
        page = events_page_response(
            reads.profile_events(read_client(project_id), "a1", query, readers, CODEC, BASE + timedelta(days=1))
        )
        by_path += [event.id for event in page.data]
        cursor = page.meta.next
        if cursor is None:
            break
    # Then both give exactly profile 1's events, newest first, each once
    assert [event_id for page in pages for event_id in page] == by_path == newest_first(mine)


def test_a_profile_read_through_its_alias_with_its_activity(store_events, readers, dynamodb, tables, project_id):
    # Given profile 1 identified with numeric properties, aliased as a1, with two events
    profiles = DynamoDBProfileStore(tables["ENTITIES_TABLE"], client=dynamodb)
    from beacon.domain.entities import GroupUpdate, ProfileUpdate

    profiles.identify(project_id, ProfileUpdate("1", first_name="Ada", properties={"visits": 3, "score": 1.5}), BASE)
    profiles.add_alias(project_id, "1", "a1", BASE)
    profiles.upsert_group(project_id, GroupUpdate("org", "company", "Acme", {"seats": 25}), BASE)
    profiles.add_groups(project_id, "1", ["org"], BASE)
    store_events([make_event(project_id, BASE - timedelta(hours=2), 1, profile="1")])
    store_events([make_event(project_id, BASE + timedelta(hours=3), 2, profile="1")])
    # When it is read by the alias, and its group by id
    profile = profile_response(reads.read_profile(read_client(project_id), "a1", EntityQuery(), readers))
    group = group_response(reads.read_group(read_client(project_id), "org", EntityQuery(), readers))
    # Then it is profile 1, its numbers are numbers, first/last seen span its events and its record
    assert (profile.profileId, profile.firstName, profile.properties) == ("1", "Ada", {"visits": 3, "score": 1.5})
    assert (profile.aliases, profile.groups) == (["a1"], ["org"])
    assert profile.firstSeenAt == isoformat_ms(BASE - timedelta(hours=2))
    assert profile.lastSeenAt == isoformat_ms(BASE + timedelta(hours=3))
    assert (group.name, group.properties) == ("Acme", {"seats": 25})


def test_projects_never_see_each_others_events(store_events, readers, project_id):
    # Given two projects with events at the same moments (and a project whose id extends the other's)
    other, longer = project_id + "-b", project_id + "x"
    mine = [make_event(project_id, BASE + timedelta(seconds=n), n, profile="u1") for n in range(30)]
    theirs = [
        make_event(project, BASE + timedelta(seconds=n), n, profile="u1")
        for project in (other, longer)
        for n in range(30)
    ]
    store_events(mine + theirs)
    now = BASE + timedelta(days=1)
    # When my project is paged, whole and by profile
    whole = [event_id for page in all_pages(readers, project_id, 8, now, **WINDOW) for event_id in page]
    by_profile = [
        event_id for page in all_pages(readers, project_id, 8, now, profileId="u1", **WINDOW) for event_id in page
    ]
    # Then only my events come back
    assert whole == by_profile == newest_first(mine)
    # And a cursor of the other project is refused here, whatever it points at
    query = ExportEventsQuery.model_validate({"limit": 8, **WINDOW})
    their_cursor = events_page_response(reads.export_events(read_client(other), query, readers, CODEC, now)).meta.next
    with pytest.raises(InvalidRequestError):
        reads.export_events(read_client(project_id), ExportEventsQuery(cursor=their_cursor), readers, CODEC, now)


def test_pages_stop_at_their_byte_budget_and_carry_on(store_events, dynamodb, tables, project_id):
    # Given 60 events and a reader whose pages stop after ~2 KB of items (2 MB in production)
    events = [make_event(project_id, BASE + timedelta(seconds=n), n) for n in range(60)]
    store_events(events)
    small = Readers(
        events=DynamoDBEventReader(tables["EVENTS_TABLE"], client=dynamodb, max_page_bytes=2_000),
        entities=DynamoDBEntityReader(tables["ENTITIES_TABLE"], client=dynamodb),
    )
    # When they are paged 100 at a time
    pages = all_pages(small, project_id, 100, BASE + timedelta(days=1), **WINDOW)
    # Then pages hold far fewer than 100, and every event still comes once, in order
    assert max(len(page) for page in pages) < 10
    assert [event_id for page in pages for event_id in page] == newest_first(events)


def test_items_parsed_by_json_loads_equal_those_botocore_parses(store_events, local_stack, tables, project_id):
    # Given events with nested, numeric, boolean and null properties
    events = [make_event(project_id, BASE + timedelta(seconds=n), n, profile="u1") for n in range(20)]
    store_events(events)
    window = TimeWindow(BASE - timedelta(hours=1), BASE + timedelta(hours=1))
    pages = []
    for fast in (True, False):
        # When they are read with and without the before-parse shortcut (each on its own client)
        reader = DynamoDBEventReader(
            tables["EVENTS_TABLE"], client=local_stack.boto3_client("dynamodb"), fast_items=fast
        )
        pages.append(
            (reader.project_events(project_id, window, 50, None, None), reader.profile_activity(project_id, "u1"))
        )
    # Then both read exactly the same
    assert pages[0] == pages[1]
    assert len(pages[0][0].events) == 20


def test_a_page_costs_one_query_per_shard_and_few_read_units(store_events, local_stack, tables, project_id):
    # Given 400 events of the usual size, and a reader on a client that reports consumed capacity
    store_events([make_event(project_id, BASE + timedelta(seconds=n), n) for n in range(400)])
    client = local_stack.boto3_client("dynamodb")
    units: list[float] = []
    client.meta.events.register("provide-client-params.dynamodb.Query", _ask_for_capacity)
    client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: units.append(parsed["ConsumedCapacity"]["CapacityUnits"])
    )
    reader = DynamoDBEventReader(tables["EVENTS_TABLE"], client=client)
    window = TimeWindow(BASE - timedelta(hours=1), BASE + timedelta(hours=1))
    # When one page of 100 is read
    page = reader.project_events(project_id, window, 100, None, None)
    # Then it took one query per shard (a second round for a shard is rare) and about 10 read units
    assert len(page.events) == 100
    assert EVENT_SHARDS <= reader.last_stats.queries <= EVENT_SHARDS + 3
    assert len(units) == reader.last_stats.queries and sum(units) <= 16


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params.setdefault("ReturnConsumedCapacity", "TOTAL")


def test_repeated_event_names_and_page_numbers_read_as_openpanels_export(store_events, readers, project_id):
    # Given 90 events of three names across the shards
    events = [make_event(project_id, BASE + timedelta(seconds=n), n, name="abc"[n % 3]) for n in range(90)]
    store_events(events)
    now = BASE + timedelta(days=1)

    def page(number: int, **params: Any) -> Any:
        query = ExportEventsQuery.model_validate({**WINDOW, "limit": 25, "page": number, **params})
        return events_page_response(reads.export_events(read_client(project_id), query, readers, CODEC, now))

    # When they are read by page number for two of the names, Then the pages are the cursor's, in order
    wanted = newest_first([e for e in events if e.name in ("a", "c")])
    pages = [page(n, event=["a", "c"]) for n in (1, 2, 3)]
    assert [event.id for p in pages for event in p.data] == wanted
    # And only the last page, which read every match, says the total
    assert [(p.meta.current, p.meta.totalCount, p.meta.pages) for p in pages] == [
        (1, None, None),
        (2, None, None),
        (3, 60, 3),
    ]
