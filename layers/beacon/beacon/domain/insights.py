"""Insights over the lake: the questions behind /insights/*, as SQL written once in the subset DuckDB and Athena's
Trino both read (no dialect-only function), and the answers shaped from the rows (docs/LAKE.md, docs/API.md).

Every query runs over the project's `events` and `sessions` (domain/lake_sql.py), limited to the days of the
asked range, so a query reads only that project's partitions of those days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from beacon.domain.entities import Caller
from beacon.domain.lake_sql import SESSION_MARKERS, LakeScope, with_lake_tables
from beacon.domain.reads import invalid_query, readable_project

DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=400)
MAX_FUNNEL_WINDOW_MINUTES = 7 * 24 * 60
MAX_FUNNEL_STEPS = 10
MAX_STEP_NAME = 200
# /insights/top?dimension= → the lake column
DIMENSIONS = {
    "path": "path",
    "origin": "origin",
    "referrer": "referrer",
    "referrerName": "referrer_name",
    "referrerType": "referrer_type",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "country": "country",
    "region": "region",
    "city": "city",
    "device": "device",
    "os": "os",
    "browser": "browser",
    "name": "name",
}
# Dimensions of a session rather than of an event, ranked over the sessions view: count = sessions.
SESSION_DIMENSIONS = {"entryPath": "entry_path", "exitPath": "exit_path"}
MARKERS = ", ".join(f"'{name}'" for name in SESSION_MARKERS)


class LakeReader(Protocol):
    """Runs SQL over the lake: Athena in AWS (store/athena.py); `source` is the raw events table as it names it."""

    def source(self) -> str: ...

    def rows(self, sql: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, now: datetime) -> TimeRange:
        """`start`/`end` as asked (naive = UTC), defaulting to the last 7 days; refused when empty or too long."""
        end = _utc(end) if end is not None else now
        start = _utc(start) if start is not None else end - DEFAULT_RANGE
        if start >= end:
            raise invalid_query("start", "must be before end", "range_order")
        if end - start > MAX_RANGE:
            raise invalid_query("end", f"at most {MAX_RANGE.days} days after start", "range_too_long")
        return cls(start, end)

    def scope(self, project_id: str, from_first_day: bool = True) -> LakeScope:
        last = (self.end - timedelta(microseconds=1)).date()
        return LakeScope(project_id, self.start.date() if from_first_day else None, last)

    def previous(self) -> TimeRange:
        """The range of the same length just before this one (the overview's comparison)."""
        return TimeRange(self.start - (self.end - self.start), self.start)

    def condition(self, column: str = "created_at") -> str:
        return f"{column} >= {_literal(self.start)} AND {column} < {_literal(self.end)}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _literal(moment: datetime) -> str:
    """A TIMESTAMP literal both engines read (UTC, naive, millisecond precision as the lake stores it)."""
    return f"TIMESTAMP '{_utc(moment).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'"


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamp(value: Any) -> datetime:
    """A timestamp as an engine answers it: a datetime (DuckDB) or its text (Athena), naive UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return _utc(moment)


def _iso(value: Any) -> str:
    return _timestamp(value).isoformat().replace("+00:00", "Z")


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


# -- queries ------------------------------------------------------------------------------------------------------
def overview_sql(source: str, project_id: str, period: TimeRange, interval: str, series: bool = True) -> str:
    """The totals (the row whose `t` is NULL) and, with `series`, one row per interval."""
    if interval not in ("hour", "day"):
        raise invalid_query("interval", "must be hour or day", "enum")
    # `events` is read once (a CTE read twice is materialized whole), and only the columns the answer needs.
    in_range = (
        (
            "range_events",
            "SELECT device_id, session_id, name, created_at FROM events "
            f"WHERE {period.condition()} AND name NOT IN ({MARKERS})",
        ),
        (
            "range_sessions",
            "SELECT session_id, count_if(name = 'screen_view') <= 1 AS bounce, "
            "date_diff('millisecond', min(created_at), max(created_at)) AS duration "
            "FROM range_events WHERE session_id <> '' GROUP BY session_id",  # "": late events, in no session
        ),
    )
    query = (
        "SELECT CAST(NULL AS TIMESTAMP) AS t, count(DISTINCT NULLIF(device_id, '')) AS visitors, "
        "count(DISTINCT NULLIF(session_id, '')) AS sessions, count_if(name = 'screen_view') AS screen_views, "
        "count(*) AS events, "
        "(SELECT avg(CASE WHEN bounce THEN 1.0 ELSE 0.0 END) FROM range_sessions) AS bounce_rate, "
        "(SELECT avg(duration) FROM range_sessions) AS avg_duration_ms FROM range_events"
    )
    if series:
        query += (
            " UNION ALL "
            f"SELECT date_trunc('{interval}', created_at) AS t, count(DISTINCT NULLIF(device_id, '')), "
            "count(DISTINCT NULLIF(session_id, '')), "
            "count_if(name = 'screen_view'), count(*), NULL, NULL FROM range_events "
            f"GROUP BY date_trunc('{interval}', created_at)"
        )
    return with_lake_tables(source, period.scope(project_id), query, in_range)


def top_sql(source: str, project_id: str, period: TimeRange, dimension: str, limit: int) -> str:
    """Events per value of `dimension` (sessions per entry / exit page), with their distinct devices."""
    column = DIMENSIONS.get(dimension)
    session_column = SESSION_DIMENSIONS.get(dimension)
    if column is None and session_column is None:
        raise invalid_query("dimension", f"must be one of {', '.join([*DIMENSIONS, *SESSION_DIMENSIONS])}", "enum")
    if not 1 <= limit <= 1000:
        raise invalid_query("limit", "must be between 1 and 1000", "range")
    if session_column is not None:
        # A session belongs to the range it started in; its entry / exit page is its first / last screen view.
        query = (
            f"SELECT {session_column} AS value, count(*) AS count, count(DISTINCT NULLIF(device_id, '')) AS visitors "
            f"FROM sessions WHERE {period.condition('started_at')} AND {session_column} IS NOT NULL "
            f"GROUP BY {session_column} ORDER BY count(*) DESC, {session_column} LIMIT {limit}"
        )
        return with_lake_tables(source, period.scope(project_id), query)
    query = (
        f"SELECT {column} AS value, count(*) AS count, count(DISTINCT NULLIF(device_id, '')) AS visitors FROM events "
        f"WHERE {period.condition()} AND name NOT IN ({MARKERS}) AND {column} IS NOT NULL "
        f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT {limit}"
    )
    return with_lake_tables(source, period.scope(project_id), query)


def funnel_steps(steps: str) -> list[str]:
    names = [name.strip() for name in steps.split(",")]
    if not 2 <= len(names) <= MAX_FUNNEL_STEPS or not all(names):
        raise invalid_query("steps", f"2 to {MAX_FUNNEL_STEPS} comma-separated event names", "steps")
    if any(len(name) > MAX_STEP_NAME for name in names):
        raise invalid_query("steps", f"a step name is at most {MAX_STEP_NAME} characters", "steps")
    return names


def funnel_sql(source: str, project_id: str, period: TimeRange, steps: Sequence[str], window_minutes: int) -> str:
    """Visitors (profile ids: a device when anonymous) who did the steps in order, each after the one before and
    all within `window_minutes` of the first."""
    if not 1 <= window_minutes <= MAX_FUNNEL_WINDOW_MINUTES:
        raise invalid_query("windowMinutes", f"between 1 and {MAX_FUNNEL_WINDOW_MINUTES} (7 days)", "window_too_large")
    window = f"INTERVAL '{window_minutes}' MINUTE"
    ctes = [
        (
            "step1",
            f"SELECT profile_id, min(created_at) AS first_at, min(created_at) AS at FROM events "
            f"WHERE {period.condition()} AND name = {_string(steps[0])} AND profile_id <> '' GROUP BY profile_id",
        )
    ]
    for number, name in enumerate(steps[1:], start=2):
        ctes.append(
            (
                f"step{number}",
                f"SELECT s.profile_id, s.first_at, min(e.created_at) AS at FROM step{number - 1} AS s "
                f"JOIN events AS e ON e.profile_id = s.profile_id AND e.name = {_string(name)} "
                f"AND e.created_at >= s.at AND e.created_at <= s.first_at + {window} "
                f"AND {period.condition('e.created_at')} GROUP BY s.profile_id, s.first_at",
            )
        )
    counts = ", ".join(f"(SELECT count(*) FROM step{number}) AS step{number}" for number in range(1, len(steps) + 1))
    return with_lake_tables(source, period.scope(project_id), f"SELECT {counts}", tuple(ctes))


def retention_sql(source: str, project_id: str, period: TimeRange, unit: str) -> str:
    """Cohorts of visitors by the period they were first seen in (over all the lake's history up to `end`), and
    how many of each came back in each later period."""
    if unit not in ("day", "week"):
        raise invalid_query("period", "must be day or week", "enum")
    ctes = (
        (
            "activity",
            f"SELECT profile_id, date_trunc('{unit}', created_at) AS period FROM events "
            f"WHERE created_at < {_literal(period.end)} AND name NOT IN ({MARKERS}) AND profile_id <> '' "
            "GROUP BY 1, 2",
        ),
        ("firsts", "SELECT profile_id, min(period) AS cohort FROM activity GROUP BY profile_id"),
    )
    query = (
        f"SELECT f.cohort AS cohort, date_diff('{unit}', f.cohort, a.period) AS offset_periods, "
        "count(DISTINCT a.profile_id) AS visitors FROM firsts AS f JOIN activity AS a ON a.profile_id = f.profile_id "
        f"WHERE f.cohort >= date_trunc('{unit}', {_literal(period.start)}) "
        "GROUP BY f.cohort, date_diff('" + unit + "', f.cohort, a.period) ORDER BY 1, 2"
    )
    return with_lake_tables(source, period.scope(project_id, from_first_day=False), query, ctes)


# -- answers ------------------------------------------------------------------------------------------------------
def overview_answer(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals = next((row for row in rows if row["t"] is None), None)
    series = sorted((row for row in rows if row["t"] is not None), key=lambda row: _timestamp(row["t"]))
    avg_ms = None if totals is None else totals["avg_duration_ms"]
    return {
        "visitors": int(_number(totals and totals["visitors"])),
        "sessions": int(_number(totals and totals["sessions"])),
        "screenViews": int(_number(totals and totals["screen_views"])),
        "events": int(_number(totals and totals["events"])),
        "bounceRate": round(_number(totals and totals["bounce_rate"]), 4),
        "avgSessionDuration": round(_number(avg_ms) / 1000, 3),  # seconds
        "series": [
            {
                "t": _iso(row["t"]),
                "visitors": int(row["visitors"]),
                "sessions": int(row["sessions"]),
                "screenViews": int(row["screen_views"]),
            }
            for row in series
        ],
    }


def top_answer(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": [
            {"value": str(row["value"]), "count": int(row["count"]), "visitors": int(row["visitors"])} for row in rows
        ]
    }


def funnel_answer(steps: Sequence[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    row = rows[0] if rows else {}
    counts = [int(_number(row.get(f"step{number}"))) for number in range(1, len(steps) + 1)]
    first = counts[0]
    return {
        "steps": [
            {"name": name, "count": count, "conversion": round(count / first, 4) if first else 0.0}
            for name, count in zip(steps, counts, strict=True)
        ]
    }


def retention_answer(unit: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    cohorts: dict[datetime, dict[int, int]] = {}
    for row in rows:
        cohorts.setdefault(_timestamp(row["cohort"]), {})[int(row["offset_periods"])] = int(row["visitors"])
    answer = []
    for cohort, returning in sorted(cohorts.items()):
        size = returning.get(0, 0)
        last = max(returning)
        answer.append(
            {
                "cohort": cohort.date().isoformat(),
                "visitors": size,
                "retention": [round(returning.get(k, 0) / size, 4) if size else 0.0 for k in range(last + 1)],
            }
        )
    return {"period": unit, "cohorts": answer}


def live_answer(visitors: int, since: datetime) -> dict[str, Any]:
    return {"visitors": visitors, "since": _iso(since)}


# -- entry points (the read function's routes) --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InsightRequest:
    project_id: str | None
    start: datetime | None = None
    end: datetime | None = None


def _ask(
    caller: Caller,
    request: InsightRequest,
    lake: LakeReader,
    now: datetime,
    build: Callable[[str, str, TimeRange], str],
) -> list[dict[str, Any]]:
    project_id = readable_project(caller, request.project_id)
    period = TimeRange.of(request.start, request.end, now)
    return lake.rows(build(lake.source(), project_id, period))


def overview(caller: Caller, request: InsightRequest, interval: str, lake: LakeReader, now: datetime) -> dict[str, Any]:
    """The range's figures and series, and under `previous` the same figures over the range just before it."""
    answer = overview_answer(_ask(caller, request, lake, now, lambda s, p, r: overview_sql(s, p, r, interval)))
    project_id = readable_project(caller, request.project_id)
    before = TimeRange.of(request.start, request.end, now).previous()
    previous = overview_answer(lake.rows(overview_sql(lake.source(), project_id, before, interval, series=False)))
    previous.pop("series")
    return {**answer, "previous": previous}


def top(
    caller: Caller, request: InsightRequest, dimension: str, limit: int, lake: LakeReader, now: datetime
) -> dict[str, Any]:
    return top_answer(_ask(caller, request, lake, now, lambda s, p, r: top_sql(s, p, r, dimension, limit)))


def funnel(
    caller: Caller, request: InsightRequest, steps: str, window_minutes: int, lake: LakeReader, now: datetime
) -> dict[str, Any]:
    names = funnel_steps(steps)
    rows = _ask(caller, request, lake, now, lambda s, p, r: funnel_sql(s, p, r, names, window_minutes))
    return funnel_answer(names, rows)


def retention(caller: Caller, request: InsightRequest, unit: str, lake: LakeReader, now: datetime) -> dict[str, Any]:
    return retention_answer(unit, _ask(caller, request, lake, now, lambda s, p, r: retention_sql(s, p, r, unit)))


LIVE_WINDOW = timedelta(minutes=5)


class LiveVisitors(Protocol):
    """Devices of a project seen since a moment: DynamoDB's sessions (store/live.py), not the lake."""

    def count_seen_since(self, project_id: str, since: datetime, now: datetime) -> int: ...


def live(caller: Caller, project_id: str | None, visitors: LiveVisitors, now: datetime) -> dict[str, Any]:
    """Visitors (devices) active in the last 5 minutes: their session's last event was received since then."""
    project = readable_project(caller, project_id)
    since = _utc(now) - LIVE_WINDOW
    return live_answer(visitors.count_seen_since(project, since, _utc(now)), since)
