"""Wire contract of the insights: `GET /insights/overview`, `/insights/top`, `/insights/funnel`,
`/insights/retention` (docs/LAKE.md), answered from the lake (Athena in AWS, DuckDB locally); and `/insights/live`,
answered from DynamoDB's sessions table."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from beacon.models.reads import EmptyIsAbsent, QueryTime, _Query, _whole_day_end

Dimension = Literal[
    "path",
    "origin",
    "referrer",
    "referrerName",
    "referrerType",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country",
    "region",
    "city",
    "device",
    "os",
    "browser",
    "name",
    "entryPath",
    "exitPath",
]


class InsightsQuery(_Query):
    start: Annotated[
        datetime | None,
        EmptyIsAbsent,
        QueryTime,
        Field(
            description="Oldest event time, inclusive (ISO 8601, UTC without an offset). Default: 7 days before end."
        ),
    ] = None
    end: Annotated[
        datetime | None,
        BeforeValidator(_whole_day_end),
        QueryTime,
        Field(
            description="Newest event time (a date alone means the end of that day). Default: now. 400 days at most."
        ),
    ] = None


class OverviewQuery(InsightsQuery):
    interval: Literal["hour", "day"] = Field(default="day", description="The series' step.")


class TopQuery(InsightsQuery):
    dimension: Dimension = Field(description="What to rank: a page, a source, a place, a device, an event name.")
    limit: int = Field(default=10, ge=1, le=1000)


class FunnelQuery(InsightsQuery):
    steps: str = Field(min_length=3, max_length=2100, description="2 to 10 event names, comma-separated, in order.")
    windowMinutes: int = Field(
        default=1440, ge=1, le=10080, description="All steps within this many minutes of the first (7 days at most)."
    )


class RetentionQuery(InsightsQuery):
    period: Literal["day", "week"] = Field(default="week", description="The cohorts' and the returns' period.")


# -- responses ----------------------------------------------------------------------------------------------------
class OverviewPoint(BaseModel):
    t: str = Field(description="Start of the interval (ISO 8601, UTC).")
    visitors: int
    sessions: int
    screenViews: int


class OverviewTotals(BaseModel):
    visitors: int
    sessions: int
    screenViews: int
    events: int
    bounceRate: float
    avgSessionDuration: float


class OverviewResponse(BaseModel):
    visitors: int = Field(description="Distinct devices with an event in the range.")
    sessions: int
    screenViews: int
    events: int = Field(description="Events, not counting session_start / session_end.")
    bounceRate: float = Field(description="Share (0-1) of the sessions with at most one screen view.")
    avgSessionDuration: float = Field(description="Seconds from a session's first to its last event, on average.")
    series: list[OverviewPoint]
    previous: OverviewTotals | None = Field(
        default=None, description="The same figures over the range of the same length just before this one."
    )


class TopEntry(BaseModel):
    value: str
    count: int = Field(description="Events with this value (sessions, for entryPath and exitPath).")
    visitors: int = Field(description="Distinct devices among them.")


class TopResponse(BaseModel):
    data: list[TopEntry]


class FunnelStep(BaseModel):
    name: str
    count: int = Field(description="Visitors (profiles; a device when anonymous) who reached this step in order.")
    conversion: float = Field(description="Share of the first step's visitors.")


class FunnelResponse(BaseModel):
    steps: list[FunnelStep]


class RetentionCohort(BaseModel):
    cohort: str = Field(description="The day (or the Monday of the week) its visitors were first seen.")
    visitors: int
    retention: list[float] = Field(description="Share of the cohort active in each period from its first (1.0).")


class RetentionResponse(BaseModel):
    period: Literal["day", "week"]
    cohorts: list[RetentionCohort]


class LiveQuery(_Query):
    pass


class LiveResponse(BaseModel):
    visitors: int = Field(description="Devices whose session's last event was received in the last 5 minutes.")
    since: str = Field(description="The window's start (ISO 8601, UTC).")
