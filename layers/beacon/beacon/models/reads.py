"""Wire contract of the read API: query and path parameters in, pages of events and entities out.

`GET /export/events`, `GET /profile/{profileId}`, `GET /profile/{profileId}/events`, `GET /group/{groupId}`.
The read function validates requests with these models and the OpenAPI document is generated from them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from beacon.models.requests import EntityId, ProfileId, within_query_times

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_LENGTH = 2048
DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_DAYS = 31

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _absent_when_empty(value: Any) -> Any:
    # `?cursor=` (an empty value) means "not given": clients often send every parameter they know of.
    return None if value == "" else value


MAX_EVENT_NAMES = 20
MAX_PAGE_SKIP = 10_000  # events a `page` may skip: each one skipped is read


def _names(value: Any) -> Any:
    """One `event` or several (repeated); empty values mean "not given"."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list):
        names = [name for name in names if name != ""]
        return names or None
    return value


def _whole_day_end(value: Any) -> Any:
    """A date without a time as `end` means the end of that day (UTC), so `end=2026-01-31` includes the 31st."""
    value = _absent_when_empty(value)
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        return f"{value}T23:59:59.999Z"
    return value


def _query_time(value: datetime | None) -> datetime | None:
    """Within the times events can have (naive means UTC): beyond them a time cannot even be converted to UTC."""
    if value is None:
        return None
    within_query_times(value)
    return value


EmptyIsAbsent = BeforeValidator(_absent_when_empty)
QueryTime = AfterValidator(_query_time)
IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


ProjectIdParam = Annotated[str, Field(min_length=1, max_length=64)]
EventName = Annotated[str, Field(min_length=1, max_length=80)]
Cursor = Annotated[str, Field(min_length=1, max_length=MAX_CURSOR_LENGTH)]


class _Query(BaseModel):
    # Unknown parameters are ignored, as OpenPanel does (its `includes` does nothing here).
    model_config = ConfigDict(extra="ignore")

    projectId: Annotated[
        ProjectIdParam | None,
        EmptyIsAbsent,
        Field(description="The caller's project (the default). Any other project is refused with 403."),
    ] = None


class EntityQuery(_Query):
    """Query parameters of `GET /profile/{profileId}` and `GET /group/{groupId}`."""


class ProfileEventsQuery(_Query):
    """Query parameters of `GET /profile/{profileId}/events`."""

    start: Annotated[
        datetime | None,
        EmptyIsAbsent,
        QueryTime,
        Field(
            description=(
                "Oldest event time, inclusive (ISO 8601; no offset means UTC; a date alone means 00:00; from "
                "2000-01-01 to before 2100-01-01). "
                f"Default: {DEFAULT_WINDOW_HOURS} hours before `end`."
            )
        ),
    ] = None
    end: Annotated[
        datetime | None,
        BeforeValidator(_whole_day_end),
        QueryTime,
        Field(
            description=(
                "Newest event time, inclusive (ISO 8601; a date alone means the end of that day). Default: now. "
                f"At most {MAX_WINDOW_DAYS} days after `start`."
            )
        ),
    ] = None
    event: Annotated[
        Annotated[list[EventName], Field(max_length=MAX_EVENT_NAMES)] | None,
        BeforeValidator(_names),
        Field(
            description=(
                f"Only events of this name; repeat it (`event=a&event=b`, at most {MAX_EVENT_NAMES}) for any of "
                "several, as OpenPanel's export takes it."
            ),
        ),
    ] = None
    page: int = Field(
        default=1,
        ge=1,
        description=(
            f"OpenPanel's page number: page N skips (N-1) x `limit` events, at most {MAX_PAGE_SKIP} in all, and "
            "reads every skipped one (a cursor costs nothing of the kind: prefer `cursor`). Not with `cursor`."
        ),
    )
    cursor: Annotated[
        Cursor | None,
        EmptyIsAbsent,
        Field(
            description=(
                "`meta.next` of the previous page. It carries the query (range, filters), so the other parameters "
                "may be left out; any that are given must equal the first page's."
            )
        ),
    ] = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Events per page.")


class ExportEventsQuery(ProfileEventsQuery):
    """Query parameters of `GET /export/events`."""

    profileId: Annotated[
        ProfileId | None,
        EmptyIsAbsent,
        Field(description="Only this profile's events; an alias is resolved to its profile."),
    ] = None


class ExportSessionsQuery(_Query):
    """Query parameters of `GET /export/sessions`."""

    start: Annotated[
        datetime | None,
        EmptyIsAbsent,
        QueryTime,
        Field(
            description=f"Oldest session start, inclusive (ISO 8601). Default: {DEFAULT_WINDOW_HOURS} h before `end`."
        ),
    ] = None
    end: Annotated[
        datetime | None,
        BeforeValidator(_whole_day_end),
        QueryTime,
        Field(
            description=f"Newest session start, inclusive. Default: now. At most {MAX_WINDOW_DAYS} days after `start`."
        ),
    ] = None
    cursor: Annotated[
        Cursor | None,
        EmptyIsAbsent,
        Field(description="`meta.next` of the previous page; any other parameter given must equal the first page's."),
    ] = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Sessions per page.")


class SessionPath(BaseModel):
    sessionId: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="The session's id (an event's `sessionId`)."
    )


class ProfilePath(BaseModel):
    profileId: ProfileId = Field(description="A profile id or one of its aliases.")


class GroupPath(BaseModel):
    groupId: EntityId = Field(description="The group's id.")


# -- responses ----------------------------------------------------------------------------------------------


class ExportEvent(BaseModel):
    """One stored event, with its enrichment. Optional facts are null when the event has none."""

    id: str = Field(description="Time-ordered event id (12 hex digits of epoch ms, then 16 random).")
    name: str
    projectId: str
    clientId: str | None = Field(description="The client that sent the event.")
    profileId: str | None = Field(
        description=(
            "The canonical profile id (aliases already resolved); for an anonymous event its deviceId, as OpenPanel "
            "counts users."
        )
    )
    deviceId: str
    sessionId: str
    createdAt: IsoTime = Field(description="Event time (`__timestamp` when valid), UTC with milliseconds.")
    receivedAt: IsoTime = Field(description="Server time of receipt.")
    clientTimestamp: str | None = Field(default=None, description="`__timestamp` as sent, when it was corrected.")
    fromPast: bool = Field(description="The event time is over 15 minutes before receipt.")
    properties: dict[str, Any]
    groups: list[str] | None = Field(description="Group ids exactly as sent with the event.")
    revenue: int | None
    device: dict[str, Any] = Field(description="os, osVersion, browser, browserVersion, device, brand, model.")
    geo: dict[str, Any] = Field(
        description=(
            "country, countryName, region (the subdivision's name where known, else its code), regionCode, city, "
            "postalCode, latitude, longitude, timeZone."
        )
    )
    ip: str | None = Field(description="The client IP, only for projects that opted in to storing it.")
    path: str = Field(default="", description="`__path` without query and fragment, or the app screen's name.")
    origin: str = Field(default="", description="Scheme and host (and a non-default port) of an http(s) `__path`.")
    referrer: str = Field(default="", description="`__referrer` without a trailing slash; empty when same-site.")
    referrerName: str = Field(default="", description="The referring site's name, e.g. Google (docs/API.md).")
    referrerType: str = Field(default="", description="search, social, email, ai, paid, … (docs/API.md).")
    sdkName: str = Field(default="", description="The `openpanel-sdk-name` header.")
    sdkVersion: str = Field(default="", description="The `openpanel-sdk-version` header.")


class PageMeta(BaseModel):
    count: int = Field(description="Events in `data`.")
    current: int = Field(default=1, description="The page number asked for (`page`; 1 when paging by cursor).")
    totalCount: int | None = Field(
        default=None,
        description=(
            "OpenPanel's total of matching events, given only when this page is the last one (`next` is null) and was "
            "reached by `page`: then it is known exactly. Otherwise null: counting would read every matching event."
        ),
    )
    pages: int | None = Field(default=None, description="Pages of `limit` events in all, when `totalCount` is known.")
    next: str | None = Field(
        description=(
            "Opaque, signed cursor of the next page; null when there is none. A page may hold fewer than `limit` "
            "events (or none) while `next` is not null: keep paging until it is null."
        )
    )


class EventsPageResponse(BaseModel):
    data: list[ExportEvent] = Field(description="Newest first.")
    meta: PageMeta


class ProfileResponse(BaseModel):
    profileId: str = Field(description="The canonical profile id (when an alias was asked for, its profile's).")
    projectId: str
    firstName: str | None
    lastName: str | None
    email: str | None
    avatar: str | None
    properties: dict[str, Any]
    groups: list[str]
    aliases: list[str]
    device: dict[str, Any] | None = Field(description="Device of the latest identify.")
    geo: dict[str, Any] | None = Field(description="Location of the latest identify.")
    createdAt: str | None = Field(description="When the profile record was created (first identify or update).")
    updatedAt: str | None = Field(description="Its latest identify or update.")
    firstSeenAt: str | None = Field(description="Earliest of createdAt and the oldest stored event's time.")
    lastSeenAt: str | None = Field(description="Latest of updatedAt and the newest stored event's time.")


class GroupResponse(BaseModel):
    id: str
    projectId: str
    type: str | None
    name: str | None
    properties: dict[str, Any]
    createdAt: str | None
    updatedAt: str | None


# -- session replay (GET /session/{sessionId}/replay) -------------------------------------------------------------
ReplayPosition = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9T:.Z_-]+$")]


class ReplayQuery(_Query):
    """Query parameters of `GET /session/{sessionId}/replay`."""

    after: Annotated[
        ReplayPosition | None,
        EmptyIsAbsent,
        Field(description="`meta.next` of the previous page: the chunks after it."),
    ] = None


class ReplayChunkView(BaseModel):
    """One recording chunk, its payload inline (the SDK's serialised rrweb events, as sent)."""

    chunkIndex: int = Field(description="The recorder's chunk number (from 0 on every page load).")
    eventsCount: int
    isFullSnapshot: bool
    startedAt: IsoTime
    endedAt: IsoTime
    payload: str


class ReplayMeta(BaseModel):
    count: int = Field(description="Chunks on this page.")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class ReplayResponse(BaseModel):
    """A session's recording: its chunks in (startedAt, chunkIndex) order, a page at a time."""

    sessionId: str
    projectId: str
    data: list[ReplayChunkView]
    meta: ReplayMeta


class SessionResponse(BaseModel):
    """An ended session's record (docs/API.md, Sessions): what its session_end summarised, and more."""

    id: str
    projectId: str
    deviceId: str | None
    profileId: str | None = Field(description="The session's latest profile id; for an anonymous one its deviceId.")
    startedAt: IsoTime | None = Field(description="Receipt time of its first event.")
    endedAt: IsoTime | None = Field(description="When its session_end was written (by the reaper or the next start).")
    firstEventAt: IsoTime | None
    lastEventAt: IsoTime | None
    duration: int = Field(description="Milliseconds from the first to the last event (session_end's `__duration`).")
    bounce: bool = Field(description="At most one screen_view (OpenPanel's `__bounce`).")
    eventCount: int = Field(description="Events of the session, session_start and session_end not counted.")
    screenViewCount: int
    revenue: int = Field(description="Sum of its events' `__revenue`.")
    entryPath: str | None
    entryOrigin: str | None
    exitPath: str | None
    exitOrigin: str | None
    referrer: str | None
    referrerName: str | None
    referrerType: str | None
    utm: dict[str, str] = Field(description="The entry page's utm_* parameters.")
    groups: list[str] = Field(description="Every group id its events carried.")
    device: dict[str, Any]
    geo: dict[str, Any]


class SessionsPageResponse(BaseModel):
    data: list[SessionResponse] = Field(description="Newest start first.")
    meta: PageMeta
