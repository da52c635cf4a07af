"""Session replay: the web SDK's recording chunks, filed under the caller's active session and read back in order.

@openpanel/web 1.4.1 sends a chunk (`type: "replay"`) only once a `/track` answer has given it a session id, and it
does not echo that id: the chunk belongs to the device's active session, looked up read-only (a chunk neither
starts nor extends a session, as in OpenPanel, where replay touches no session state). With no active session (the
visitor was idle past the timeout and the recorder kept going) the chunk is refused with 400, OpenPanel's answer to
a replay without a session: filing it under a session no event opened would make a recording nobody can find.

A chunk is identified within its session by (started_at, chunk_index): the recorder counts chunks from 0 again on
every page load of the same session, so chunk_index alone would let page two overwrite page one. Sending the same
chunk again replaces it with itself (idempotent). Reads return chunks in (started_at, chunk_index) order, OpenPanel's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from beacon.domain.enrich import EnrichmentSource, header_trust
from beacon.domain.entities import Caller, ClientType, RequestContext, TrackResult
from beacon.domain.ports import ReplayReader, ReplayStore, SessionStore
from beacon.domain.reads import readable_project
from beacon.domain.sessions import DeviceSessions
from beacon.errors import ForbiddenError, InvalidRequestError, NotFoundError
from beacon.models.requests import ReplayRequest

# The replay read's page: at most this many chunks, and payloads of at most this many bytes in all (at least one
# chunk per page): inline payloads keep the answer inside Lambda's 6 MB response.
REPLAY_PAGE_CHUNKS = 50
REPLAY_PAGE_BYTES = 4_000_000


@dataclass(frozen=True)
class ReplayChunk:
    project_id: str
    session_id: str
    chunk_index: int
    events_count: int
    is_full_snapshot: bool
    started_at: datetime
    ended_at: datetime
    payload: str  # the SDK's serialised rrweb events, as sent
    received_at: datetime

    @property
    def position(self) -> str:
        """The chunk's place in its session: sorts by start time, then chunk index; unique per chunk."""
        return chunk_position(self.started_at, self.chunk_index)


def chunk_position(started_at: datetime, chunk_index: int) -> str:
    moment = started_at.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z_{chunk_index:05d}"


@dataclass(frozen=True)
class ReplayPage:
    chunks: list[ReplayChunk]
    next_after: str | None  # the position to continue after, None on the last page


def store_replay_chunk(
    request: ReplayRequest,
    context: RequestContext,
    sessions: SessionStore,
    replays: ReplayStore,
    enricher: EnrichmentSource,
) -> TrackResult:
    """File one chunk under the caller's active session (read-only lookup); 400 when none is active."""
    if context.caller.client_type is ClientType.READ:
        raise ForbiddenError("Read clients cannot send events")
    enrichment = enricher.enrich(context.project_id, context.meta, context.received_at, trust=header_trust(context))
    active = DeviceSessions(sessions, context.project_id, enrichment.ids, context.received_at).active()
    if active is None:
        raise InvalidRequestError(
            "No active session for this device: replay chunks join the session the SDK's events opened"
        )
    payload = request.payload
    replays.put_chunk(
        ReplayChunk(
            project_id=context.project_id,
            session_id=active.session_id,
            chunk_index=payload.chunk_index,
            events_count=payload.events_count,
            is_full_snapshot=payload.is_full_snapshot,
            started_at=payload.started_at,
            ended_at=payload.ended_at,
            payload=payload.payload,
            received_at=context.received_at,
        )
    )
    return TrackResult(device_id=active.device_id, session_id=active.session_id)


def session_replay(
    caller: Caller, requested_project: str | None, session_id: str, after: str | None, reader: ReplayReader
) -> ReplayPage:
    """A page of the session's chunks in order, for read and root clients of the project; NotFoundError when the
    project has no chunk of this session (another project's session is not found, as if it did not exist)."""
    project = readable_project(caller, requested_project)
    page = reader.session_chunks(project, session_id, after, REPLAY_PAGE_CHUNKS, REPLAY_PAGE_BYTES)
    if not page.chunks and after is None:
        raise NotFoundError("Session replay not found")
    return page


def replay_expiry(received_at: datetime, retention_days: int) -> datetime:
    """When a chunk's index item expires: with the bucket's lifecycle rule, the same number of days."""
    return received_at + timedelta(days=retention_days)
