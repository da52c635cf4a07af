"""In-memory fakes of the read API's storage interfaces (domain/reads.py), and builders of stored events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beacon.domain.entities import Caller, ClientType, EventNames, EventPage, TimeWindow
from beacon.domain.ports import Readers
from beacon.domain.reads import CursorCodec
from beacon.store.events import isoformat_ms

CURSOR_SECRET = b"unit-test-cursor-secret"


def reader(project_id: str = "project-a", client_type: ClientType = ClientType.READ, secret: bool = True) -> Caller:
    return Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", client_type, secret)


def cursor_codec(secret: bytes = CURSOR_SECRET) -> CursorCodec:
    return CursorCodec(lambda: secret)


def stored_event(
    project_id: str, moment: datetime, number: int, name: str = "page_view", profile_id: str | None = None
) -> dict[str, Any]:
    """An event as the store hands it to the domain (the wire shape of ExportEvent)."""
    millis = int(moment.timestamp() * 1000)
    created = isoformat_ms(moment)
    return {
        "id": f"{millis:012x}{number:016x}",
        "name": name,
        "projectId": project_id,
        "clientId": "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
        "profileId": profile_id,
        "deviceId": "d",
        "sessionId": "s",
        "createdAt": created,
        "receivedAt": created,
        "clientTimestamp": None,
        "fromPast": False,
        "properties": {"n": number},
        "groups": None,
        "revenue": None,
        "device": {},
        "geo": {},
        "ip": None,
    }


def position(event: dict[str, Any]) -> str:
    return f"{event['createdAt']}#{event['id']}"


class FakeEventReader:
    """The EventReader contract over a list: newest first, window inclusive, strictly after `after`."""

    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        self.events = list(events or [])
        self.calls: list[tuple[Any, ...]] = []

    def _page(
        self, events: list[dict[str, Any]], window: TimeWindow, limit: int, after: str | None, name: EventNames
    ) -> EventPage:
        lower, upper = isoformat_ms(window.start), isoformat_ms(window.end) + "~"
        matching = sorted(
            (
                event
                for event in events
                if lower <= position(event) <= upper
                and (after is None or position(event) < after)
                and (name is None or event["name"] == name or (isinstance(name, tuple) and event["name"] in name))
            ),
            key=position,
            reverse=True,
        )
        page = matching[:limit]
        return EventPage(page, position(page[-1]) if len(matching) > limit else None)

    def project_events(
        self, project_id: str, window: TimeWindow, limit: int, after: str | None, event_name: EventNames
    ) -> EventPage:
        self.calls.append(("project", project_id, window, limit, after, event_name))
        mine = [event for event in self.events if event["projectId"] == project_id]
        return self._page(mine, window, limit, after, event_name)

    def profile_events(
        self,
        project_id: str,
        profile_id: str,
        window: TimeWindow,
        limit: int,
        after: str | None,
        event_name: EventNames,
    ) -> EventPage:
        self.calls.append(("profile", project_id, profile_id, window, limit, after, event_name))
        mine = [e for e in self.events if e["projectId"] == project_id and e["profileId"] == profile_id]
        return self._page(mine, window, limit, after, event_name)

    def profile_activity(self, project_id: str, profile_id: str) -> tuple[str | None, str | None]:
        times = sorted(
            e["createdAt"] for e in self.events if e["projectId"] == project_id and e["profileId"] == profile_id
        )
        return (times[0], times[-1]) if times else (None, None)


class FakeEntityReader:
    def __init__(self) -> None:
        self.profiles: dict[tuple[str, str], dict[str, Any]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.resolved: list[str] = []

    def resolve_profile_id(self, project_id: str, profile_id: str) -> str:
        self.resolved.append(profile_id)
        return self.aliases.get((project_id, profile_id), profile_id)

    def get_profile(self, project_id: str, profile_id: str) -> dict[str, Any] | None:
        return self.profiles.get((project_id, profile_id))

    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None:
        return self.groups.get((project_id, group_id))


def fake_readers(events: list[dict[str, Any]] | None = None) -> Readers:
    return Readers(events=FakeEventReader(events), entities=FakeEntityReader())
