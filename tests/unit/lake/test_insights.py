"""The insight queries, run for real on DuckDB over a small lake, against counts made directly in Python over
the same events; and their Athena form, which must parse as Trino and name only columns the Glue table has."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot.optimizer.qualify import qualify

from beacon.domain import insights
from beacon.domain.entities import Caller, ClientType
from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS, event_row
from beacon.errors import ForbiddenError, InvalidRequestError
from local.lake import DuckDBLakeReader, ParquetLakeSink

START = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 8, tzinfo=UTC)
PROJECT = "shop"
CALLER = Caller(client_id="c", project_id=PROJECT, client_type=ClientType.READ, secret_auth=True)
GLUE = '"beacon_lake"."events"'
PAGES = ["/", "/pricing", "/docs", "/cart"]
REFERRERS = [None, "Google", "Hacker News"]


def make_events(seed: int = 3) -> list[dict[str, Any]]:
    """Sessions of 1-5 screen views, some with signup steps, over a week, for the project and a neighbour."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for session in range(120):
        project = PROJECT if session % 6 else "neighbour"
        device = f"d{rng.randrange(40)}"
        at = START + timedelta(minutes=rng.randrange(7 * 24 * 60))
        referrer = rng.choice(REFERRERS)
        names = ["session_start"] + ["screen_view"] * rng.randint(1, 5)
        if rng.random() < 0.5:
            names += ["signup_started"] + (["signup_completed"] if rng.random() < 0.6 else [])
            if rng.random() < 0.5:
                names.append("purchase")
        for number, name in enumerate(names):
            items.append(
                {
                    "id": f"e{session:04d}{number:02d}",
                    "projectId": project,
                    "name": name,
                    "deviceId": device,
                    "sessionId": f"s{session}",
                    "createdAt": (at + timedelta(seconds=40 * number)).isoformat(),
                    **({"path": rng.choice(PAGES)} if name == "screen_view" else {}),
                    **({"referrerName": referrer} if referrer else {}),
                }
            )
    return items


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return make_events()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, events: list[dict[str, Any]]) -> DuckDBLakeReader:
    root = tmp_path_factory.mktemp("lake")
    rows = [event_row(item) for item in events]
    ParquetLakeSink(root).write(rows, "batch-1")
    ParquetLakeSink(root).write(rows[:50], "batch-2")  # a redelivery: the readers must count these once
    return DuckDBLakeReader(root)


def ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in events if item["projectId"] == PROJECT and item["name"] != "session_start"]


def at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["createdAt"])


def test_overview_counts_visitors_sessions_views_bounces_and_durations_like_a_direct_count(lake, events):
    # When the overview of the week is asked
    answer = insights.overview(CALLER, insights.InsightRequest(PROJECT), "day", lake, NOW)
    # Then every figure is the direct count over the same events, each event once
    mine = ours(events)
    sessions: dict[str, list[dict[str, Any]]] = {}
    for item in mine:
        sessions.setdefault(item["sessionId"], []).append(item)
    views = [item for item in mine if item["name"] == "screen_view"]
    bounces = sum(1 for items in sessions.values() if sum(i["name"] == "screen_view" for i in items) <= 1)
    durations = [(max(map(at, items)) - min(map(at, items))).total_seconds() for items in sessions.values()]
    assert answer["visitors"] == len({item["deviceId"] for item in mine})
    assert answer["sessions"] == len(sessions)
    assert answer["screenViews"] == len(views)
    assert answer["events"] == len(mine)
    assert answer["bounceRate"] == round(bounces / len(sessions), 4)
    assert answer["avgSessionDuration"] == pytest.approx(sum(durations) / len(durations), abs=0.001)
    # And the series has a point per day with events, adding up to the views
    assert [point["t"] for point in answer["series"]] == sorted({f"{at(i):%Y-%m-%d}T00:00:00Z" for i in mine})
    assert sum(point["screenViews"] for point in answer["series"]) == len(views)


def test_top_referrers_and_pages_are_counted_with_their_visitors(lake, events):
    answer = insights.top(CALLER, insights.InsightRequest(PROJECT), "referrerName", 10, lake, NOW)
    mine = [item for item in ours(events) if item.get("referrerName")]
    expected = {
        name: (
            sum(1 for i in mine if i["referrerName"] == name),
            len({i["deviceId"] for i in mine if i["referrerName"] == name}),
        )
        for name in {i["referrerName"] for i in mine}
    }
    assert {row["value"]: (row["count"], row["visitors"]) for row in answer["data"]} == expected
    counts = [row["count"] for row in answer["data"]]
    assert counts == sorted(counts, reverse=True)
    pages = insights.top(CALLER, insights.InsightRequest(PROJECT), "path", 2, lake, NOW)["data"]
    assert len(pages) == 2 and {row["value"] for row in pages} <= set(PAGES)


def test_the_funnel_counts_visitors_who_did_the_steps_in_order_within_the_window(lake, events):
    steps = "signup_started,signup_completed,purchase"
    answer = insights.funnel(CALLER, insights.InsightRequest(PROJECT), steps, 60, lake, NOW)
    # Direct: per visitor, the first step 1, then each next step after the previous, within 60 minutes of step 1
    mine = sorted(ours(events), key=at)
    by_visitor: dict[str, list[dict[str, Any]]] = {}
    for item in mine:
        by_visitor.setdefault(item["deviceId"], []).append(item)
    reached = [0, 0, 0]
    for items in by_visitor.values():
        firsts = [i for i in items if i["name"] == "signup_started"]
        if not firsts:
            continue
        first = at(firsts[0])
        reached[0] += 1
        previous = first
        for step, name in enumerate(["signup_completed", "purchase"], start=1):
            found = [at(i) for i in items if i["name"] == name and previous <= at(i) <= first + timedelta(minutes=60)]
            if not found:
                break
            previous = min(found)
            reached[step] += 1
    assert [step["count"] for step in answer["steps"]] == reached
    assert answer["steps"][0]["conversion"] == 1.0
    assert answer["steps"][2]["conversion"] == round(reached[2] / reached[0], 4)


def test_retention_cohorts_are_first_seen_visitors_and_the_share_that_returned(lake, events):
    answer = insights.retention(CALLER, insights.InsightRequest(PROJECT), "day", lake, NOW)
    mine = ours(events)
    days_of: dict[str, set[datetime]] = {}
    for item in mine:
        days_of.setdefault(item["deviceId"], set()).add(at(item).replace(hour=0, minute=0, second=0, microsecond=0))
    cohorts: dict[str, int] = {}
    for days in days_of.values():
        cohorts[min(days).date().isoformat()] = cohorts.get(min(days).date().isoformat(), 0) + 1
    assert {row["cohort"]: row["visitors"] for row in answer["cohorts"]} == cohorts
    first = answer["cohorts"][0]
    returned_next_day = sum(
        1
        for days in days_of.values()
        if min(days).date().isoformat() == first["cohort"] and min(days) + timedelta(days=1) in days
    )
    assert first["retention"][0] == 1.0
    assert first["retention"][1] == round(returned_next_day / first["visitors"], 4)


def test_the_overview_compares_with_the_period_of_the_same_length_before_it(lake, events):
    # When the second half of the week is asked, the first half is its previous period
    middle = START + timedelta(days=3, hours=12)
    answer = insights.overview(CALLER, insights.InsightRequest(PROJECT, start=middle, end=NOW), "day", lake, NOW)
    before = insights.overview(CALLER, insights.InsightRequest(PROJECT, start=START, end=middle), "day", lake, NOW)
    # Then `previous` holds exactly the figures the first half answers on its own, without a series
    assert answer["previous"] == {key: value for key, value in before.items() if key not in ("series", "previous")}
    earlier = [item for item in ours(events) if START <= at(item) < middle]
    assert answer["previous"]["events"] == len(earlier) > 0


def test_entry_and_exit_pages_are_the_first_and_last_screen_view_of_each_session(lake, events):
    sessions: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(ours(events), key=at):
        if item["name"] == "screen_view":
            sessions.setdefault(item["sessionId"], []).append(item)
    for dimension, pick in (("entryPath", 0), ("exitPath", -1)):
        answer = insights.top(CALLER, insights.InsightRequest(PROJECT), dimension, 10, lake, NOW)
        expected: dict[str, int] = {}
        for views in sessions.values():
            expected[views[pick]["path"]] = expected.get(views[pick]["path"], 0) + 1
        assert {row["value"]: row["count"] for row in answer["data"]} == expected, dimension
        assert sum(row["count"] for row in answer["data"]) == len(sessions)


class CountingLiveVisitors:
    def __init__(self, seen: dict[str, list[datetime]]) -> None:
        self.seen = seen
        self.asked: list[tuple[str, datetime]] = []

    def count_seen_since(self, project_id: str, since: datetime, now: datetime) -> int:
        self.asked.append((project_id, since))
        return sum(1 for moment in self.seen.get(project_id, []) if moment >= since)


def test_live_counts_the_callers_devices_seen_in_the_last_five_minutes():
    now = NOW
    store = CountingLiveVisitors(
        {PROJECT: [now - timedelta(minutes=1), now - timedelta(minutes=4, seconds=59), now - timedelta(minutes=6)]}
    )
    assert insights.live(CALLER, None, store, now) == {"visitors": 2, "since": "2026-12-07T23:55:00Z"}
    assert store.asked == [(PROJECT, now - timedelta(minutes=5))]
    with pytest.raises(ForbiddenError):
        insights.live(CALLER, "neighbour", store, now)
    writer = Caller(client_id="w", project_id=PROJECT, client_type=ClientType.WRITE, secret_auth=True)
    with pytest.raises(ForbiddenError):
        insights.live(writer, None, store, now)


def test_a_project_sees_only_its_own_rows(lake, events):
    neighbour = Caller(client_id="n", project_id="neighbour", client_type=ClientType.READ, secret_auth=True)
    answer = insights.overview(neighbour, insights.InsightRequest(None), "day", lake, NOW)
    theirs = [item for item in events if item["projectId"] == "neighbour" and item["name"] != "session_start"]
    assert answer["events"] == len(theirs)
    with pytest.raises(ForbiddenError):
        insights.overview(neighbour, insights.InsightRequest(PROJECT), "day", lake, NOW)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda lake: insights.top(CALLER, insights.InsightRequest(PROJECT), "password", 10, lake, NOW), "dimension"),
        (lambda lake: insights.funnel(CALLER, insights.InsightRequest(PROJECT), "a,b", 20_000, lake, NOW), "window"),
        (lambda lake: insights.funnel(CALLER, insights.InsightRequest(PROJECT), "only", 10, lake, NOW), "steps"),
        (
            lambda lake: insights.overview(
                CALLER, insights.InsightRequest(PROJECT, start=NOW, end=NOW - timedelta(days=1)), "day", lake, NOW
            ),
            "start",
        ),
    ],
)
def test_bad_parameters_are_refused_with_a_400(lake, call, field):
    with pytest.raises(InvalidRequestError) as refused:
        call(lake)
    assert refused.value.status == 400 and field in refused.value.message


GLUE_SCHEMA: dict[str, object] = {
    "beacon_lake": {
        "events": {
            name: {"string": "varchar", "array<string>": "array(varchar)"}.get(kind, kind)
            for name, kind in (*EVENT_COLUMNS, *PARTITION_COLUMNS)
        }
    }
}
PERIOD = insights.TimeRange.of(START, NOW, NOW)
ATHENA_FORMS = {
    "overview": insights.overview_sql(GLUE, PROJECT, PERIOD, "hour"),
    "top": insights.top_sql(GLUE, PROJECT, PERIOD, "utm_campaign", 10),
    "top-entry": insights.top_sql(GLUE, PROJECT, PERIOD, "entryPath", 10),
    "top-exit": insights.top_sql(GLUE, PROJECT, PERIOD, "exitPath", 10),
    "overview-previous": insights.overview_sql(GLUE, PROJECT, PERIOD.previous(), "day", series=False),
    "funnel": insights.funnel_sql(GLUE, PROJECT, PERIOD, ["a", "it's"], 30),
    "retention": insights.retention_sql(GLUE, PROJECT, PERIOD, "week"),
}


@pytest.mark.parametrize("name", ATHENA_FORMS)
def test_the_athena_form_parses_as_trino_and_names_only_columns_of_the_glue_table(name):
    tree = sqlglot.parse_one(ATHENA_FORMS[name], read="trino")
    qualify(tree, schema=GLUE_SCHEMA, dialect="trino", validate_qualify_columns=True)
    # And it reads the project's partition only
    assert f"project = '{PROJECT}'" in ATHENA_FORMS[name]


def test_the_column_check_catches_a_column_the_glue_table_lacks():
    tree = sqlglot.parse_one(ATHENA_FORMS["top"].replace("utm_campaign", "utm_campaing"), read="trino")
    with pytest.raises(sqlglot.errors.OptimizeError):
        qualify(tree, schema=GLUE_SCHEMA, dialect="trino", validate_qualify_columns=True)


def test_the_queries_prune_to_the_days_of_the_range(lake: DuckDBLakeReader):
    # A range of one day reads that day's partition: a day filter sits beside the project's
    sql = insights.overview_sql(GLUE, PROJECT, insights.TimeRange.of(START, START + timedelta(days=1), NOW), "day")
    assert "day >= '2026-12-01' AND day <= '2026-12-01'" in sql
    assert isinstance(lake.root, Path)


def test_a_screen_view_lasts_until_the_next_event_of_its_session(lake, events):
    # Issue 17 item 6: in the `events` view, not counting session markers; the session's last event has none
    from beacon.domain.lake_sql import LakeScope, with_lake_tables

    sql = with_lake_tables(
        lake.source(), LakeScope(PROJECT), "SELECT id, view_duration FROM events WHERE name = 'screen_view'"
    )
    got = {row["id"]: row["view_duration"] for row in lake.rows(sql)}
    expected: dict[str, int | None] = {}
    sessions: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(ours(events), key=lambda item: (at(item), item["id"])):
        sessions.setdefault(item["sessionId"], []).append(item)
    for items in sessions.values():
        for number, item in enumerate(items):
            if item["name"] == "screen_view":
                following = items[number + 1 :]
                expected[item["id"]] = int((at(following[0]) - at(item)).total_seconds() * 1000) if following else None
    assert got == expected
    assert any(value == 40_000 for value in got.values()) and None in got.values()


def test_the_view_duration_parses_as_trino_over_the_glue_table():
    from beacon.domain.lake_sql import LakeScope, with_lake_tables

    sql = with_lake_tables(GLUE, LakeScope(PROJECT), "SELECT path, avg(view_duration) AS d FROM events GROUP BY 1")
    tree = sqlglot.parse_one(sql, read="trino")
    qualify(tree, schema=GLUE_SCHEMA, dialect="trino", validate_qualify_columns=True)


def test_late_events_without_a_session_make_no_session_row_and_no_view_duration(tmp_path: Path):
    from beacon.domain.lake_sql import LakeScope, with_lake_tables

    late = [
        {"id": f"l{n}", "projectId": PROJECT, "name": "screen_view", "deviceId": "d", "sessionId": "",
         "createdAt": (START + timedelta(minutes=n)).isoformat(), "path": "/"}
        for n in range(3)
    ]  # fmt: skip
    ParquetLakeSink(tmp_path).write([event_row(item) for item in late], "batch-1")
    reader = DuckDBLakeReader(tmp_path)
    scope = LakeScope(PROJECT)
    assert reader.rows(with_lake_tables(reader.source(), scope, "SELECT count(*) AS n FROM sessions")) == [{"n": 0}]
    durations = reader.rows(with_lake_tables(reader.source(), scope, "SELECT view_duration FROM events"))
    assert durations == [{"view_duration": None}] * 3
    [totals] = reader.rows(insights.overview_sql(reader.source(), PROJECT, PERIOD, "day", series=False))
    assert (totals["sessions"], totals["screen_views"], totals["bounce_rate"]) == (0, 3, None)


def test_server_events_without_a_device_are_no_visitor(tmp_path: Path):
    # Given two browser visitors and a backend's events that name no device, no session and no profile (a server
    # agent's events carry deviceId "" and sessionId "", docs/API.md, Server-side events)
    browser = [
        {"id": f"b{n}", "projectId": PROJECT, "name": name, "deviceId": f"d{n % 2}", "sessionId": f"s{n % 2}",
         "createdAt": (START + timedelta(minutes=n)).isoformat(), "path": "/"}
        for n, name in enumerate(["screen_view", "screen_view", "signup_started", "signup_started"])
    ]  # fmt: skip
    server = [
        {"id": f"x{n}", "projectId": PROJECT, "name": "signup_started", "deviceId": "", "sessionId": "",
         "createdAt": (START + timedelta(minutes=10 + n)).isoformat(), "path": "/"}
        for n in range(3)
    ]  # fmt: skip
    ParquetLakeSink(tmp_path).write([event_row(item) for item in browser + server], "batch-1")
    reader = DuckDBLakeReader(tmp_path)
    request = insights.InsightRequest(PROJECT)

    # Then the overview, the ranked pages, a funnel and retention count the two browsers only
    assert insights.overview(CALLER, request, "day", reader, NOW)["visitors"] == 2
    assert insights.top(CALLER, request, "path", 10, reader, NOW)["data"][0]["visitors"] == 2
    first_step = insights.funnel(CALLER, request, "signup_started,purchase", 60, reader, NOW)["steps"][0]
    assert first_step["count"] == 2
    cohorts = insights.retention(CALLER, request, "week", reader, NOW)["cohorts"]
    assert sum(cohort["visitors"] for cohort in cohorts) == 2
