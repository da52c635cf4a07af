"""Domain entities: what Beacon stores, independent of the wire format and of DynamoDB's item shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ClientType(StrEnum):
    WRITE = "write"
    READ = "read"
    ROOT = "root"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as established by the authorizer; the track function trusts nothing else."""

    project_id: str
    client_id: str
    client_type: ClientType
    secret_auth: bool
    allowed_origin: str | None = None  # the request's Origin, when the client allows it (for CORS)


@dataclass(frozen=True)
class RequestMeta:
    """What the gateway tells us about the HTTP request, beyond its body."""

    request_id: str
    source_ip: str
    user_agent: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    id: str
    project_id: str
    client_id: str
    name: str
    properties: dict[str, Any]
    profile_id: str | None
    groups: list[str] | None
    device_id: str
    session_id: str
    created_at: datetime  # event time
    received_at: datetime  # server time of receipt, always stored beside the event time
    from_past: bool = False  # event time more than 15 minutes before receipt
    revenue: int | None = None
    device: dict[str, str] = field(default_factory=dict)  # from the user-agent, __os/__browser/… overrides win
    geo: dict[str, Any] = field(default_factory=dict)  # from CloudFront viewer headers or the optional GeoIP file
    ip: str | None = None  # stored only for projects that opt in
    client_timestamp: str | None = None  # __timestamp as sent, kept beside the (skew-corrected) event time


@dataclass(frozen=True)
class TrackResult:
    device_id: str
    session_id: str


@dataclass(frozen=True)
class BotDetected:
    """A likely bot on a request without a client secret: answered 202, nothing stored."""

    name: str
    type: str


@dataclass(frozen=True)
class ProfileUpdate:
    """An identify: given fields overwrite, absent (None) ones are kept."""

    profile_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    avatar: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    device: dict[str, str] = field(default_factory=dict)  # the identifying request's device and location
    geo: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupUpdate:
    group_id: str
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
