"""Reading data back: who may read, which project and time window, signed cursors, pages of events, entities.

Only read and root clients that sent their secret may read, and only their own project. A page's cursor
is signed (HMAC-SHA256 with a per-stack secret) and names the project and the whole query, so a client
can neither forge a position nor carry a cursor into another project or another query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from beacon.domain.entities import Caller, ClientType, EventPage, TimeWindow
from beacon.domain.ports import Readers
from beacon.errors import (
    ForbiddenError,
    InvalidCredentialsError,
    InvalidRequestError,
    NotFoundError,
)
from beacon.models.reads import (
    DEFAULT_WINDOW_HOURS,
    MAX_LIMIT,
    MAX_PAGE_SKIP,
    MAX_WINDOW_DAYS,
    EntityQuery,
    ExportEventsQuery,
    ExportSessionsQuery,
    ProfileEventsQuery,
)

READER_TYPES = frozenset({ClientType.READ, ClientType.ROOT})
MAX_WINDOW = timedelta(days=MAX_WINDOW_DAYS)
DEFAULT_WINDOW = timedelta(hours=DEFAULT_WINDOW_HOURS)


# -- what a read answers (beacon/gateway/read_responses.py turns each into its response) ------------------------


@dataclass(frozen=True)
class EventsRead:
    events: list[dict[str, Any]]  # plain data in the wire shape of ExportEvent, newest first
    next_cursor: str | None  # signed; None: no more pages
    page: int = 1  # the page number asked for
    limit: int = 1  # events a page holds
    total: int | None = None  # every matching event, known only on the last page reached by page number


@dataclass(frozen=True)
class ProfileView:
    profile_id: str  # canonical
    project_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    avatar: str | None
    properties: dict[str, Any]
    groups: list[str]
    aliases: list[str]
    device: dict[str, Any] | None
    geo: dict[str, Any] | None
    created_at: str | None
    updated_at: str | None
    first_seen_at: str | None
    last_seen_at: str | None


@dataclass(frozen=True)
class GroupView:
    group_id: str
    project_id: str
    type: str | None
    name: str | None
    properties: dict[str, Any]
    created_at: str | None
    updated_at: str | None


# -- who may read what ---------------------------------------------------------------------------------------


def authorize_reader(caller: Caller) -> None:
    if caller.client_type not in READER_TYPES:
        raise ForbiddenError("Forbidden: reading needs a read or root client")
    if not caller.secret_auth:
        # Browser SDKs authenticate by Origin alone; a read API must never be reachable from a web page.
        raise InvalidCredentialsError("Reading requires the client secret")


def readable_project(caller: Caller, requested: str | None) -> str:
    """The caller's own project. Asking for another one is refused, whether or not it exists (403)."""
    authorize_reader(caller)
    if requested is not None and requested != caller.project_id:
        raise ForbiddenError("Forbidden: this client cannot read that project")
    return caller.project_id


def utc_ms(moment: datetime) -> datetime:
    """UTC (naive means UTC), truncated to the millisecond."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def resolve_window(start: datetime | None, end: datetime | None, now: datetime) -> TimeWindow:
    end_ms = utc_ms(end if end is not None else now)
    start_ms = utc_ms(start) if start is not None else end_ms - DEFAULT_WINDOW
    if start_ms > end_ms:
        raise invalid_query("start", "must not be after end", "range_order")
    if end_ms - start_ms > MAX_WINDOW:
        raise invalid_query(
            "end", f"at most {MAX_WINDOW_DAYS} days after start; page through longer periods", "range_too_long"
        )
    return TimeWindow(start_ms, end_ms)


def invalid_query(field: str, message: str, kind: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid query parameter '{field}': {message}", details=[{"field": field, "message": message, "type": kind}]
    )


# -- cursors -------------------------------------------------------------------------------------------------

CursorKind = Literal["export", "profile", "sessions"]
CURSOR_VERSION = 1


@dataclass(frozen=True)
class CursorState:
    """Everything the next page needs: whose data, which query, and where the previous page stopped."""

    project: str
    kind: CursorKind
    start: str  # ISO ms, as resolved on the first page (defaults are not recomputed later)
    end: str
    event: str | list[str] | None  # one name, or any of several (a list)
    profile: str | None  # the profile id as asked for (an alias stays an alias here)
    canonical: str | None  # ... and as resolved on the first page, so later pages skip the alias lookup
    after: str  # storage position; the next page starts strictly after it

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(datetime.fromisoformat(self.start), datetime.fromisoformat(self.end))


class CursorCodec:
    """`base64url(JSON state) "." base64url(HMAC-SHA256)`: readable, but any change breaks the signature."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret  # fetched on first use (Secrets Manager), then kept
        self._key: bytes | None = None

    def _mac(self, payload: bytes) -> bytes:
        if self._key is None:
            # A key of its own, derived from the stack secret: a MAC made for anything else never verifies here.
            self._key = hmac.new(self._secret(), b"beacon read cursor v1", hashlib.sha256).digest()
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def encode(self, state: CursorState) -> str:
        payload = json.dumps({"v": CURSOR_VERSION, **asdict(state)}, separators=(",", ":")).encode()
        return f"{b64(payload)}.{b64(self._mac(payload))}"

    def decode(self, token: str, project_id: str, kind: CursorKind) -> CursorState:
        try:
            encoded_payload, encoded_mac = token.split(".")
            payload, mac = unb64(encoded_payload), unb64(encoded_mac)
        except ValueError:
            raise invalid_cursor() from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid_cursor()
        try:
            data = json.loads(payload)
            if data.pop("v") != CURSOR_VERSION:
                raise invalid_cursor()
            state = CursorState(**data)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise invalid_cursor() from None
        # Signed by us, but for another project or endpoint: never honoured (a client cannot page elsewhere).
        if state.project != project_id or state.kind != kind:
            raise invalid_cursor()
        return state


def invalid_cursor() -> InvalidRequestError:
    return invalid_query("cursor", "not a cursor this API issued for this client's project and query", "cursor")


def b64(data: bytes) -> str:
    """Unpadded URL-safe base64: the text of a signed cursor (here and the export's, domain/privacy.py)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty or not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


# -- events --------------------------------------------------------------------------------------------------


def export_events(
    caller: Caller, query: ExportEventsQuery, readers: Readers, cursors: CursorCodec, now: datetime
) -> EventsRead:
    project = readable_project(caller, query.projectId)
    return _events_page(project, "export", query, query.profileId, readers, cursors, now)


def profile_events(
    caller: Caller, profile_id: str, query: ProfileEventsQuery, readers: Readers, cursors: CursorCodec, now: datetime
) -> EventsRead:
    project = readable_project(caller, query.projectId)
    return _events_page(project, "profile", query, profile_id, readers, cursors, now)


def _events_page(
    project: str,
    kind: CursorKind,
    query: ProfileEventsQuery,
    profile: str | None,
    readers: Readers,
    cursors: CursorCodec,
    now: datetime,
) -> EventsRead:
    if query.cursor is not None:
        if query.page != 1:
            raise invalid_query("page", "a page number cannot be combined with a cursor", "page_with_cursor")
        state = cursors.decode(query.cursor, project, kind)
        _check_same_query(state, query, profile)
    else:
        window = resolve_window(query.start, query.end, now)
        canonical = None if profile is None else readers.entities.resolve_profile_id(project, profile)
        state = CursorState(
            project=project,
            kind=kind,
            start=_iso(window.start),
            end=_iso(window.end),
            event=_event_filter(query.event),
            profile=profile,
            canonical=canonical,
            after="",
        )
    skipped = 0
    if query.page > 1:
        resumed, skipped = _skip_pages(state, (query.page - 1) * query.limit, readers)
        if resumed is None:  # fewer matching events than the pages before this one hold
            return EventsRead([], None, query.page, query.limit, skipped)
        state = resumed
    page = _read_page(state, query.limit, readers)
    next_cursor = None if page.resume_after is None else cursors.encode(replace(state, after=page.resume_after))
    # The total is exact only when every matching event was read: from the first, up to the last page.
    total = skipped + len(page.events) if query.cursor is None and page.resume_after is None else None
    return EventsRead(page.events, next_cursor, query.page, query.limit, total)


def _event_filter(names: list[str] | None) -> str | list[str] | None:
    if not names:
        return None
    unique = sorted(set(names))
    return unique[0] if len(unique) == 1 else unique


def _read_page(state: CursorState, limit: int, readers: Readers) -> EventPage:
    """One page of the state's query, from its position."""
    after = state.after or None
    names = tuple(state.event) if isinstance(state.event, list) else state.event
    if state.canonical is None:
        return readers.events.project_events(state.project, state.window, limit, after, names)
    return readers.events.profile_events(state.project, state.canonical, state.window, limit, after, names)


def _skip_pages(state: CursorState, count: int, readers: Readers) -> tuple[CursorState | None, int]:
    """OpenPanel's page number: the first `count` matching events read and passed over (each costs its read)."""
    if count > MAX_PAGE_SKIP:
        raise invalid_query("page", f"a page may start at most {MAX_PAGE_SKIP} events in: use cursor", "page_too_far")
    skipped = 0
    while skipped < count:
        page = _read_page(state, min(MAX_LIMIT, count - skipped), readers)
        skipped += len(page.events)
        if page.resume_after is None:
            return None, skipped  # no more: the page asked for is past the end
        state = replace(state, after=page.resume_after)
    return state, skipped


def _check_same_query(state: CursorState, query: ProfileEventsQuery, profile: str | None) -> None:
    """Parameters repeated next to a cursor must be the first page's: a cursor never silently changes a query."""
    given = {
        "start": None if query.start is None else _iso(utc_ms(query.start)),
        "end": None if query.end is None else _iso(utc_ms(query.end)),
        "event": _event_filter(query.event),
        "profileId": profile,
    }
    issued = {"start": state.start, "end": state.end, "event": state.event, "profileId": state.profile}
    for field, value in given.items():
        if value is not None and value != issued[field]:
            raise invalid_query(field, "differs from the query the cursor was issued for", "cursor_mismatch")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- profiles and groups -------------------------------------------------------------------------------------


def read_profile(caller: Caller, profile_id: str, query: EntityQuery, readers: Readers) -> ProfileView:
    project = readable_project(caller, query.projectId)
    canonical = readers.entities.resolve_profile_id(project, profile_id)
    profile = readers.entities.get_profile(project, canonical)
    oldest, newest = readers.events.profile_activity(project, canonical)
    if profile is None and newest is None:
        raise NotFoundError("Profile not found")
    profile = profile or {}
    created, updated = profile.get("createdAt"), profile.get("updatedAt")
    return ProfileView(
        profile_id=canonical,
        project_id=project,
        first_name=profile.get("firstName"),
        last_name=profile.get("lastName"),
        email=profile.get("email"),
        avatar=profile.get("avatar"),
        properties=profile.get("properties", {}),
        groups=profile.get("groups", []),
        aliases=profile.get("aliases", []),
        device=profile.get("device"),
        geo=profile.get("geo"),
        created_at=created,
        updated_at=updated,
        first_seen_at=min((time for time in (created, oldest) if time), default=None),
        last_seen_at=max((time for time in (updated, newest) if time), default=None),
    )


def read_group(caller: Caller, group_id: str, query: EntityQuery, readers: Readers) -> GroupView:
    project = readable_project(caller, query.projectId)
    group = readers.entities.get_group(project, group_id)
    if group is None:
        raise NotFoundError("Group not found")
    return GroupView(
        group_id=group_id,
        project_id=project,
        type=group.get("type"),
        name=group.get("name"),
        properties=group.get("properties", {}),
        created_at=group.get("createdAt"),
        updated_at=group.get("updatedAt"),
    )


# -- sessions (issue 17) ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionsRead:
    sessions: list[dict[str, Any]]  # wire shape of SessionResponse, newest start first
    next_cursor: str | None


def _session_reader(readers: Readers) -> Any:
    if readers.sessions is None:
        raise NotFoundError("Sessions are not readable in this stack")
    return readers.sessions


def read_session(caller: Caller, session_id: str, query: EntityQuery, readers: Readers) -> dict[str, Any]:
    """An ended session's record; 404 for a session still live (its record is written when it ends) or unknown."""
    project = readable_project(caller, query.projectId)
    found: dict[str, Any] | None = _session_reader(readers).get_session(project, session_id)
    if found is None:
        raise NotFoundError("Session not found (a live session's record is readable once it has ended)")
    return found


def export_sessions(
    caller: Caller, query: ExportSessionsQuery, readers: Readers, cursors: CursorCodec, now: datetime
) -> SessionsRead:
    project = readable_project(caller, query.projectId)
    reader = _session_reader(readers)
    if query.cursor is not None:
        state = cursors.decode(query.cursor, project, "sessions")
        for field, value in (("start", query.start), ("end", query.end)):
            if value is not None and _iso(utc_ms(value)) != getattr(state, field):
                raise invalid_query(field, "differs from the query the cursor was issued for", "cursor_mismatch")
    else:
        window = resolve_window(query.start, query.end, now)
        state = CursorState(project, "sessions", _iso(window.start), _iso(window.end), None, None, None, "")
    sessions, resume = reader.project_sessions(project, state.window, query.limit, state.after or None)
    next_cursor = None if resume is None else cursors.encode(replace(state, after=resume))
    return SessionsRead(sessions, next_cursor)
