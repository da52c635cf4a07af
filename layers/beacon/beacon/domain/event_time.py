"""When did an event happen? OpenPanel's rules for `__timestamp`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from beacon.models.requests import EARLIEST_EVENT_TIME

MAX_FUTURE = timedelta(minutes=1)
PAST_THRESHOLD = timedelta(minutes=15)


def parse_timestamp(raw: Any) -> datetime | None:
    """An ISO-8601 string (a missing zone means UTC), or a number of milliseconds since the epoch (what JavaScript's
    `Date.now()` gives, as OpenPanel reads it); anything else is unparsable."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw / 1000, UTC)
        except (ValueError, OverflowError, OSError):  # NaN, infinities, years beyond 9999
            return None
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # year 0001 with a positive offset cannot be converted to UTC
        return None


def resolve_event_time(raw: Any, received_at: datetime, sent_at: Any = None) -> tuple[datetime, bool]:
    """(event time, from_past): unparsable, before EARLIEST_EVENT_TIME or more than a minute ahead → receipt time.
    The floor keeps every stored time a four-digit year after the epoch: sort keys stay sortable, ids positive,
    and a session_start (1 ms before its event) representable.

    With `sent_at` (the client's clock when it sent the request), the client's clock error is removed
    as Segment and Snowplow do: event time = received_at - (sent_at - timestamp).
    """
    moment = parse_timestamp(raw)
    sent = parse_timestamp(sent_at)
    if moment is not None and sent is not None:
        try:
            moment = received_at - (sent - moment)
        except OverflowError:
            moment = None
    if moment is None or moment > received_at + MAX_FUTURE or moment < EARLIEST_EVENT_TIME:
        return received_at, False
    return moment, moment < received_at - PAST_THRESHOLD
