"""The analytics lake's rows: what a stored event becomes in the `events` table (docs/LAKE.md).

One flat row per event, partitioned by (project, day), built from the event's DynamoDB item as its stream record
carries it (already deserialized to plain values). Fields that other features add later (the page and SDK fields,
session records' fields) are columns from the start: null until an item has them, read from the item when it does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

# The events table's columns, in order, with their Glue (Hive) types: the Glue table in template.yaml, the local
# lake's Parquet schema and docs/LAKE.md all follow this list (tests check the first two). The partition columns
# `project` and `day` are not stored in the files: they are the path (`project=<p>/day=<YYYY-MM-DD>/`).
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("name", "string"),
    ("created_at", "timestamp"),  # event time (UTC)
    ("received_at", "timestamp"),  # server time of receipt (UTC)
    ("client_id", "string"),
    ("device_id", "string"),
    ("session_id", "string"),
    ("profile_id", "string"),  # the canonical profile id; the device id for an anonymous event
    ("identified", "boolean"),  # whether the event named a profile
    ("path", "string"),
    ("origin", "string"),
    ("query", "string"),  # the page URL's query (properties.__query) as JSON
    ("hash", "string"),  # the page URL's fragment (properties.__hash)
    ("referrer", "string"),
    ("referrer_name", "string"),
    ("referrer_type", "string"),
    ("utm_source", "string"),
    ("utm_medium", "string"),
    ("utm_campaign", "string"),
    ("utm_term", "string"),
    ("utm_content", "string"),
    ("country", "string"),
    ("region", "string"),
    ("city", "string"),
    ("device", "string"),
    ("os", "string"),
    ("os_version", "string"),
    ("browser", "string"),
    ("browser_version", "string"),
    ("brand", "string"),
    ("model", "string"),
    ("sdk_name", "string"),
    ("sdk_version", "string"),
    ("revenue", "bigint"),
    ("duration", "bigint"),  # session_end events' duration in ms (issue 17), when the item has one
    ("from_past", "boolean"),
    ("groups", "array<string>"),
    ("properties", "string"),  # the ordinary properties as JSON
)
PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (("project", "string"), ("day", "string"))
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
DEVICE_FIELDS = {
    "device": "device",
    "os": "os",
    "os_version": "osVersion",
    "browser": "browser",
    "browser_version": "browserVersion",
    "brand": "brand",
    "model": "model",
}
GEO_FIELDS = {"country": "country", "region": "region", "city": "city"}
TOP_LEVEL_FIELDS = {
    "path": "path",
    "origin": "origin",
    "referrer": "referrer",
    "referrer_name": "referrerName",
    "referrer_type": "referrerType",
    "sdk_name": "sdkName",
    "sdk_version": "sdkVersion",
}


# Project ids as the API accepts them: safe as a path segment and in a SQL literal.
PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class LakeRecordError(ValueError):
    """A stream record that is not a stored event (it can never become a row: skipped, counted, logged)."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One change of the events table as its stream delivers it: a new item (INSERT), or another kind of change."""

    sequence_number: str
    event_name: str  # INSERT | MODIFY | REMOVE
    item: Mapping[str, Any] | None  # the new image, deserialized; None for REMOVE (TTL expiry)


class LakeSink(Protocol):
    """Where rows go: Firehose in AWS, the local lake's Parquet files locally. `batch_key` names the delivery
    (the stream shard and the first sequence number of the batch), the same on every retry of it."""

    def write(self, rows: list[dict[str, Any]], batch_key: str) -> None: ...


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal | float):
        return int(value)
    return None


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise LakeRecordError(f"not a timestamp: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise LakeRecordError(f"not a timestamp: {value!r}") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _query_parameter(query: Mapping[str, Any], name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return _text(value)


def event_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """The lake row of a stored event item (store/DATA_MODEL.md's attributes, plain values). Every column of
    EVENT_COLUMNS and PARTITION_COLUMNS is present; what the item lacks is None."""
    for required in ("id", "projectId", "name", "createdAt"):
        if not isinstance(item.get(required), str) or not item[required]:
            raise LakeRecordError(f"not a stored event: no {required}")
    # "" for a server-side event that names no device (deviceId) or is in no session (sessionId: a late or
    # server-side one, issue 17); either may be empty, neither may be missing
    for present in ("deviceId", "sessionId"):
        if not isinstance(item.get(present), str):
            raise LakeRecordError(f"not a stored event: no {present}")
    if not PROJECT_ID.fullmatch(item["projectId"]):
        raise LakeRecordError("not a stored event: the project id is not one the API accepts")
    created_at = _timestamp(item["createdAt"])
    received_at = _timestamp(item.get("receivedAt", item["createdAt"]))
    properties = dict(item.get("properties") or {})
    query = properties.pop("__query", None)
    fragment = properties.pop("__hash", None)
    query = query if isinstance(query, Mapping) else {}
    device: Mapping[str, Any] = item["device"] if isinstance(item.get("device"), Mapping) else {}
    geo: Mapping[str, Any] = item["geo"] if isinstance(item.get("geo"), Mapping) else {}
    profile_id = _text(item.get("profileId"))
    groups = item.get("groups")
    row: dict[str, Any] = {
        "id": item["id"],
        "name": item["name"],
        "created_at": created_at,
        "received_at": received_at,
        "client_id": _text(item.get("clientId")),
        "device_id": item["deviceId"],
        "session_id": item["sessionId"],
        "profile_id": profile_id or item["deviceId"],
        "identified": profile_id is not None,
        "query": to_json(query) if query else None,
        "hash": _text(fragment),
        "revenue": _int(item.get("revenue")),
        "duration": _int(item.get("duration", properties.get("__duration"))),
        "from_past": bool(item.get("fromPast", False)),
        "groups": [str(group) for group in groups] if isinstance(groups, list | set | tuple) else None,
        "properties": to_json(properties),
        "project": item["projectId"],
        "day": created_at.strftime("%Y-%m-%d"),
    }
    for column, attribute in TOP_LEVEL_FIELDS.items():
        row[column] = _text(item.get(attribute))
    for column in UTM_FIELDS:
        row[column] = _query_parameter(query, column)
    for column, attribute in DEVICE_FIELDS.items():
        row[column] = _text(device.get(attribute))
    for column, attribute in GEO_FIELDS.items():
        row[column] = _text(geo.get(attribute))
    return row


@dataclass(frozen=True, slots=True)
class ConsumedBatch:
    rows: int  # rows handed to the sink
    skipped: int  # records that are no event row: REMOVE (TTL expiry), MODIFY, or not a stored event
    malformed: int  # of the skipped, those that looked like an insert but are not a stored event


def consume_records(records: Iterable[StreamRecord], sink: LakeSink, batch_key: str) -> ConsumedBatch:
    """Turn a stream batch into lake rows and hand them to the sink in one write.

    Only INSERTs become rows: events are append-only (written with attribute_not_exists, or a batch's identical
    re-Put, which makes no stream record), and a REMOVE is DynamoDB's TTL expiring the hot copy, which the lake
    outlives. A record that is no stored event can never succeed, so it is skipped rather than retried forever.
    The same event twice in one batch (a redelivery) becomes one row; across batches the readers deduplicate.
    """
    rows: dict[str, dict[str, Any]] = {}
    skipped = malformed = 0
    for record in records:
        if record.event_name != "INSERT" or record.item is None:
            skipped += 1
            continue
        try:
            row = event_row(record.item)
        except LakeRecordError:
            skipped += 1
            malformed += 1
            continue
        rows.setdefault(row["id"], row)
    if rows:
        sink.write(list(rows.values()), batch_key)
    return ConsumedBatch(rows=len(rows), skipped=skipped, malformed=malformed)
