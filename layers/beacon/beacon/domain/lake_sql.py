"""The lake's tables as every query sees them, written once in the SQL both DuckDB and Athena (Trino) read.

`events` is the project's rows, one per event id: a delivery that reached the lake twice (a stream batch retried
after Firehose took part of it) is read once, by keeping the first copy in each (day, id). The copies of an event
share its day (the partition is the event time's), so the window runs inside a partition and filters on `day`
still prune partitions. Its `view_duration` is a screen view's time to the next event of its session.
`sessions` is one row per session, derived from its events (docs/LAKE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from beacon.domain.lake import EVENT_COLUMNS, PROJECT_ID

EVENT_COLUMN_NAMES = tuple(name for name, _ in EVENT_COLUMNS)
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("session_id", "string"),
    ("device_id", "string"),
    ("profile_id", "string"),
    ("started_at", "timestamp"),
    ("ended_at", "timestamp"),
    ("duration", "bigint"),  # ms between the first and the last event
    ("event_count", "bigint"),
    ("screen_view_count", "bigint"),
    ("bounce", "boolean"),  # at most one screen view
    ("entry_path", "string"),
    ("exit_path", "string"),
    ("referrer", "string"),
    ("referrer_name", "string"),
    ("referrer_type", "string"),
    ("utm_source", "string"),
    ("utm_medium", "string"),
    ("utm_campaign", "string"),
    ("country", "string"),
    ("device", "string"),
    ("os", "string"),
    ("browser", "string"),
    ("revenue", "bigint"),
    ("day", "string"),  # the day the session started
)
# Events that mark a session rather than happen in it.
SESSION_MARKERS = ("session_start", "session_end")
_MARKERS = ", ".join(repr(name) for name in SESSION_MARKERS)
# A screen view's duration (ms): the time to the next event of its session that is not a marker (issue 17 item 6,
# computed in reads as OpenPanel does); null for other events, for the session's last event and outside sessions
# (a late event's session id is "": not one session).
VIEW_DURATION_SQL = (
    "CASE WHEN name = 'screen_view' AND session_id <> '' THEN date_diff('millisecond', created_at, "
    f"min(CASE WHEN name NOT IN ({_MARKERS}) THEN created_at END) OVER (PARTITION BY session_id "
    "ORDER BY created_at, id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)) END AS view_duration"
)


@dataclass(frozen=True, slots=True)
class LakeScope:
    """What every query of one project is limited to: its partition, and optionally a range of days."""

    project_id: str
    first_day: date | None = None
    last_day: date | None = None

    def __post_init__(self) -> None:
        if not PROJECT_ID.fullmatch(self.project_id):
            raise ValueError("not a project id")


def events_sql(source: str, scope: LakeScope) -> str:
    """The project's events, deduplicated; `source` is the raw table (Athena's Glue table, DuckDB's files)."""
    columns = ", ".join(EVENT_COLUMN_NAMES)
    conditions = [f"project = '{scope.project_id}'"]  # PROJECT_ID admits no quote
    if scope.first_day is not None:
        conditions.append(f"day >= '{scope.first_day.isoformat()}'")
    if scope.last_day is not None:
        conditions.append(f"day <= '{scope.last_day.isoformat()}'")
    return (
        f"SELECT {columns}, day, {VIEW_DURATION_SQL} FROM ("
        f"SELECT {columns}, day, row_number() OVER (PARTITION BY day, id ORDER BY received_at) AS copy_number "
        f"FROM {source} WHERE {' AND '.join(conditions)}"
        ") AS copies WHERE copy_number = 1"
    )


def _first(column: str) -> str:
    return f"min_by({column}, created_at) AS {column}"


SESSIONS_SQL = (
    "SELECT session_id, device_id, profile_id, started_at, ended_at, duration, event_count, screen_view_count, "
    "screen_view_count <= 1 AS bounce, entry_path, exit_path, referrer, referrer_name, referrer_type, "
    "utm_source, utm_medium, utm_campaign, country, device, os, browser, revenue, day FROM ("
    "SELECT session_id, min_by(device_id, created_at) AS device_id, max_by(profile_id, created_at) AS profile_id, "
    "min(created_at) AS started_at, max(created_at) AS ended_at, "
    "date_diff('millisecond', min(created_at), max(created_at)) AS duration, count(*) AS event_count, "
    "count_if(name = 'screen_view') AS screen_view_count, "
    "min_by(CASE WHEN name = 'screen_view' THEN path END, CASE WHEN name = 'screen_view' THEN created_at END) "
    "AS entry_path, "
    "max_by(CASE WHEN name = 'screen_view' THEN path END, CASE WHEN name = 'screen_view' THEN created_at END) "
    "AS exit_path, "
    + ", ".join(
        _first(column)
        for column in (
            "referrer",
            "referrer_name",
            "referrer_type",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "country",
            "device",
            "os",
            "browser",
        )
    )
    + ", sum(revenue) AS revenue, min(day) AS day "
    f"FROM events WHERE name NOT IN ({_MARKERS}) AND session_id <> '' GROUP BY session_id"
    ") AS by_session"
)


def with_lake_tables(source: str, scope: LakeScope, query: str, ctes: tuple[tuple[str, str], ...] = ()) -> str:
    """`query` (and its own `ctes`, in order) over the tables `events` and `sessions` of one project."""
    own = "".join(f", {name} AS ({body})" for name, body in ctes)
    return f"WITH events AS ({events_sql(source, scope)}), sessions AS ({SESSIONS_SQL}){own} {query}"
