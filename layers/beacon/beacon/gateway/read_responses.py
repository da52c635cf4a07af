"""The read API's answers, built at the edge from what the read domain returns."""

from __future__ import annotations

from datetime import UTC, datetime

from beacon.domain.reads import EventsRead, GroupView, ProfileView, SessionsRead
from beacon.domain.replays import ReplayPage
from beacon.models.reads import (
    EventsPageResponse,
    ExportEvent,
    GroupResponse,
    PageMeta,
    ProfileResponse,
    ReplayChunkView,
    ReplayMeta,
    ReplayResponse,
    SessionResponse,
    SessionsPageResponse,
)


def events_page_response(page: EventsRead) -> EventsPageResponse:
    return EventsPageResponse(
        data=[ExportEvent.model_validate(event) for event in page.events],
        meta=PageMeta(
            count=len(page.events),
            next=page.next_cursor,
            current=page.page,
            totalCount=page.total,
            pages=None if page.total is None else -(-page.total // page.limit),  # ceil, as OpenPanel: 0 for none
        ),
    )


def profile_response(view: ProfileView) -> ProfileResponse:
    return ProfileResponse(
        profileId=view.profile_id,
        projectId=view.project_id,
        firstName=view.first_name,
        lastName=view.last_name,
        email=view.email,
        avatar=view.avatar,
        properties=view.properties,
        groups=view.groups,
        aliases=view.aliases,
        device=view.device,
        geo=view.geo,
        createdAt=view.created_at,
        updatedAt=view.updated_at,
        firstSeenAt=view.first_seen_at,
        lastSeenAt=view.last_seen_at,
    )


def group_response(view: GroupView) -> GroupResponse:
    return GroupResponse(
        id=view.group_id,
        projectId=view.project_id,
        type=view.type,
        name=view.name,
        properties=view.properties,
        createdAt=view.created_at,
        updatedAt=view.updated_at,
    )


def replay_response(session_id: str, project_id: str, page: ReplayPage) -> ReplayResponse:
    return ReplayResponse(
        sessionId=session_id,
        projectId=project_id,
        data=[
            ReplayChunkView(
                chunkIndex=chunk.chunk_index,
                eventsCount=chunk.events_count,
                isFullSnapshot=chunk.is_full_snapshot,
                startedAt=isoformat_ms(chunk.started_at),
                endedAt=isoformat_ms(chunk.ended_at),
                payload=chunk.payload,
            )
            for chunk in page.chunks
        ],
        meta=ReplayMeta(count=len(page.chunks), next=page.next_after),
    )


def isoformat_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def sessions_page_response(page: SessionsRead) -> SessionsPageResponse:
    return SessionsPageResponse(
        data=[SessionResponse.model_validate(session) for session in page.sessions],
        meta=PageMeta(count=len(page.sessions), next=page.next_cursor),
    )
