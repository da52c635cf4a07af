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
    # How the call arrived, as the authorizer saw it: through Beacon's CloudFront distribution (its origin-verify
    # header matched; domain/distribution.py). Only then are CloudFront's viewer headers CloudFront's own.
    via_distribution: bool = False


@dataclass(frozen=True)
class RequestMeta:
    """What the gateway tells us about the HTTP request, beyond its body."""

    request_id: str
    source_ip: str
    user_agent: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """One request as its handler saw it, built once (beacon/gateway/requests.py) and passed down whole: who sent
    it and with what trust, from where, when it arrived, the client's own clock and its idempotency key."""

    caller: Caller
    meta: RequestMeta
    received_at: datetime  # the server's clock: sessions, event times and retention follow it
    store_ip: bool = False  # the project opted in to keeping raw client IPs
    sent_at: str | None = None  # the client's clock when it sent the request (clock-skew correction)
    idempotency_key: str | None = None  # the request's claim key (domain/keys.py), from its Idempotency-Key header

    @property
    def project_id(self) -> str:
        return self.caller.project_id

    @property
    def trusted(self) -> bool:
        """Sent with the client secret (a server): only then may a request vouch for a client IP or revenue."""
        return self.caller.secret_auth

    def ip_override(self, ip: object | None) -> str | None:
        """`__ip` counts only from a trusted caller: a browser could otherwise forge its address."""
        return str(ip) if ip is not None and self.trusted else None


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
    # Derived from what the SDK sent (domain/page.py; docs/API.md, Derived fields); "" when it sent nothing for them.
    path: str = ""  # __path without query and fragment, or the screen name as sent
    origin: str = ""  # scheme://host[:port] of an http(s) __path
    referrer: str = ""
    referrer_name: str = ""
    referrer_type: str = ""
    sdk_name: str = ""  # openpanel-sdk-name
    sdk_version: str = ""  # openpanel-sdk-version

    @property
    def source(self) -> TrafficSource:
        query = self.properties.get("__query")
        campaign = (
            tuple(sorted((k, v) for k, v in query.items() if k.startswith("utm_") and isinstance(v, str)))
            if isinstance(query, dict)
            else ()
        )
        return TrafficSource(self.referrer, self.referrer_name, self.referrer_type, campaign)


@dataclass(frozen=True, slots=True)
class TrafficSource:
    """Where a visit came from: the referrer of the event that opened its session (docs/API.md, Derived fields)."""

    referrer: str = ""
    referrer_name: str = ""
    referrer_type: str = ""
    campaign: tuple[tuple[str, str], ...] = ()  # the page's utm_* parameters, sorted by name (as a map compares)

    def __bool__(self) -> bool:
        return bool(self.referrer or self.referrer_name or self.campaign)


NO_SOURCE = TrafficSource()


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session continued by an event: its id, and the traffic source its first event recorded."""

    session_id: str
    source: TrafficSource = NO_SOURCE


@dataclass(frozen=True)
class TrackResult:
    device_id: str
    session_id: str


@dataclass(frozen=True)
class BatchClaim:
    """What the first attempt of a batch decided for its fast-path items (beacon/domain/batch.py), so that any
    retry rebuilds exactly the same events: the receipt time (event times derive from it), the nonce event ids
    derive from, a digest of the batch as sent, and each item's answer by index."""

    received_at: datetime
    nonce: str
    digest: str
    answers: dict[int, TrackResult]


# The event-name filter of a read: none, one name, or any of several.
EventNames = str | tuple[str, ...] | None


@dataclass(frozen=True)
class TimeWindow:
    """Both ends inclusive, UTC, millisecond precision (the precision events are stored with)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]  # plain data in the wire shape of ExportEvent, newest first
    resume_after: str | None  # opaque storage position the next page starts strictly after; None: no more


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
