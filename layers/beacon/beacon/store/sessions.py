"""The sessions table: one item per (project, device) holding its current session and that session's record, one
item per ended session, and the reaper's cursor. See DATA_MODEL.md."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.entities import ActiveSession, Event, TimeWindow, TrafficSource
from beacon.domain.sessions import (
    DUPLICATE_WINDOW,
    SESSION_TIMEOUT,
    SessionActivity,
    SessionRecord,
    idle_bucket,
    session_end_event,
)
from beacon.errors import DuplicateEventError
from beacon.store.aws import error_code
from beacon.store.dynamodb import (
    DynamoDBRepository,
    cancellation_codes,
    deserialize_item,
    pages,
    serialize,
    transact,
    translate_errors,
)
from beacon.store.events import DynamoDBEventStore, isoformat_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Session items outlive their 30-minute window by a day, then DynamoDB's TTL removes them.
SESSION_ITEM_LIFETIME = timedelta(days=1)
NO_FINGERPRINT = "-"  # requests with an idempotency key are deduplicated by it, not by fingerprint


# The reaper's sparse index: sessions not ended, by the minute of their last activity, spread over shards so that
# one busy minute is not one hot index partition. Key-only: the counters and exit page the continue updates are
# not projected, so an event writes to the index only when its session moves to a new minute.
IDLE_INDEX = "byIdleBucket"
IDLE_SHARDS = 8
REAPER_KEY = {"pk": {"S": "#reaper"}}  # project ids never start with "#"
# Ended sessions' records are kept as long as the events (RetentionDays); the export index lists them by project.
RECORD_INDEX = "byProjectStart"
# Server-side events join their profile's live browser session (DESIGN.md §49): device items carrying a profile id
# are indexed by `liveProfile = "<project>#<profileId>"`. Key-only, so only a session's first profile (and a change of
# profile) writes to it, never the steady state.
PROFILE_INDEX = "byLiveProfile"
PROFILE_CANDIDATES = 10  # a profile's device items read at most (each a consistent GetItem); the latest live wins


def live_profile_value(project_id: str, profile_id: str) -> str:
    return f"{project_id}#{profile_id}"


def session_key(project_id: str, device_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{device_id}"}}


def record_key(project_id: str, session_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#session#{session_id}"}}


def bucket_value(pk: str, bucket: int) -> str:
    shard = hashlib.blake2b(pk.encode(), digest_size=1).digest()[0] % IDLE_SHARDS
    return f"{bucket}#{shard}"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class DynamoDBSessionStore(DynamoDBRepository):
    """`start_session` writes across tables in one transaction: the session item here, and the events' items and
    idempotency claim as `events` (the events table's store) builds them."""

    def __init__(
        self,
        table_name: str,
        events: DynamoDBEventStore,
        client: DynamoDBClient | None = None,
        timeout: timedelta = SESSION_TIMEOUT,
        record_retention_days: int = 400,
    ) -> None:
        super().__init__(table_name, client)
        self._events = events
        self.timeout = timeout
        self._record_retention = timedelta(days=record_retention_days)

    def _times(self, now: datetime, fingerprint: str | None) -> dict[str, Any]:
        return {
            ":now": {"S": isoformat_ms(now)},
            ":cutoff": {"S": isoformat_ms(now - self.timeout)},
            ":expires": {"N": str(int((now + SESSION_ITEM_LIFETIME).timestamp()))},
            ":fingerprint": {"S": fingerprint or NO_FINGERPRINT},
        }

    def continue_session(
        self,
        project_id: str,
        device_id: str,
        now: datetime,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> ActiveSession | None:
        key = session_key(project_id, device_id)
        record, record_values = _continue_record(project_id, key["pk"]["S"], now, activity)
        try:
            with translate_errors():
                response = self.client.update_item(
                    TableName=self._table,
                    Key=key,
                    # The record's counters and exit page ride on the same update (one write unit).
                    UpdateExpression=(
                        "SET lastSeenAt = :now, expiresAt = :expires, lastFingerprint = :fingerprint" + record
                    ),
                    # The same payload again within seconds is an accidental double send (OpenPanel's rule).
                    ConditionExpression=(
                        "lastSeenAt >= :cutoff AND "
                        "(attribute_not_exists(lastFingerprint) OR lastFingerprint <> :fingerprint "
                        "OR lastFingerprint = :noFingerprint OR lastSeenAt < :duplicates)"
                    ),
                    ExpressionAttributeValues={
                        **self._times(now, fingerprint),
                        ":noFingerprint": {"S": NO_FINGERPRINT},
                        ":duplicates": {"S": isoformat_ms(now - DUPLICATE_WINDOW)},
                        **record_values,
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            active = "lastSeenAt" in old and old["lastSeenAt"]["S"] >= isoformat_ms(now - self.timeout)
            if active and fingerprint is not None and old.get("lastFingerprint", {}).get("S") == fingerprint:
                raise DuplicateEventError(session_id=old["sessionId"]["S"]) from exc
            return None  # no session, or it went quiet more than 30 minutes ago
        # The update's answer (ALL_NEW, no extra read) holds the source its first event recorded.
        attributes = response["Attributes"]
        return ActiveSession(str(attributes["sessionId"]["S"]), _source(attributes))

    def start_session(
        self,
        project_id: str,
        device_id: str,
        session_id: str,
        now: datetime,
        events: list[Event],
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        activity: SessionActivity | None = None,
    ) -> bool:
        key = session_key(project_id, device_id)
        source, values = _source_update(events[-1].source, _start_removes(events[-1], activity))
        opening, opening_values = _start_record(project_id, key["pk"]["S"], now, events[-1], activity)
        update = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": (
                "SET sessionId = :session, startedAt = :now, lastSeenAt = :now, expiresAt = :expires, "
                "lastFingerprint = :fingerprint" + opening + source
            ),
            "ExpressionAttributeValues": {
                **self._times(now, fingerprint),
                ":session": {"S": session_id},
                **opening_values,
                **values,
            },
        }
        claims = self._events.claim_actions(events[-1], idempotency_key)
        puts = [self._events.put_action(event) for event in events]
        # A session item not ended yet (no reaper run has closed it) holds an idle session: its session_end is
        # written in the same transaction, conditional on the item being as read (the boundary case).
        clean = "attribute_not_exists(pk) OR (lastSeenAt < :cutoff AND attribute_not_exists(idleBucket))"
        ending: list[dict[str, Any]] = []
        for _attempt in range(3):
            start = {"Update": {**update, "ConditionExpression": clean}}
            if ending:
                start = {
                    "Update": {
                        **update,
                        "ConditionExpression": "sessionId = :previous AND lastSeenAt = :previousSeen",
                        "ExpressionAttributeValues": {
                            **{name: value for name, value in values_of(update).items() if name != ":cutoff"},
                            **ending[0],
                        },
                    }
                }
            try:
                transact(self.client, [*claims, start, *ending[1:], *puts], claims=len(claims))
                return True
            except ClientError as exc:
                codes = cancellation_codes(exc) if error_code(exc) == "TransactionCanceledException" else []
                if not (len(codes) > len(claims) and "ConditionalCheckFailed" in codes[len(claims) :]):
                    raise
            previous = self.read_record(project_id, device_id)
            if previous is None or not previous.idle(now, self.timeout):
                return False  # another request started the session first
            if previous.ended_at is not None:
                ending = []  # ended meanwhile (by the reaper): a clean start
                continue
            closed = replace(previous, ended_at=now)
            ending = [
                {
                    ":previous": {"S": previous.session_id},
                    ":previousSeen": {"S": isoformat_ms(previous.last_seen_at)},
                },
                self._events.put_action(session_end_event(closed)),
                self._record_put(closed),
            ]
        return False

    def forget_fingerprint(self, project_id: str, device_id: str, fingerprint: str) -> None:
        try:
            with translate_errors():
                self.client.update_item(
                    TableName=self._table,
                    Key=session_key(project_id, device_id),
                    UpdateExpression="SET lastFingerprint = :none",
                    ConditionExpression="lastFingerprint = :fingerprint",
                    ExpressionAttributeValues={":none": {"S": NO_FINGERPRINT}, ":fingerprint": {"S": fingerprint}},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # another event came since: nothing to do
                raise

    # -- the session record and its end (the reaper, the boundary case) ----------------------------------------

    def read_record(self, project_id: str, device_id: str) -> SessionRecord | None:
        """The device's current (or last) session as its item records it; None when it has none."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table, Key=session_key(project_id, device_id), ConsistentRead=True
            ).get("Item")
        return _record(project_id, device_id, item) if item is not None and "eventCount" in item else None

    def _record_put(self, record: SessionRecord) -> dict[str, Any]:
        item = record_item(record, int(((record.ended_at or record.last_seen_at) + self._record_retention).timestamp()))
        return {"Put": {"TableName": self._table, "Item": item}}

    def put_records(self, records: list[SessionRecord]) -> None:
        """Ended sessions' record items (a back-dated batch's sessions), one PutItem each: the same record again
        overwrites itself, so a retried batch stores each once. No device item is touched."""
        for record in records:
            with translate_errors():
                self.client.put_item(**self._record_put(record)["Put"])

    def end_session(self, record: SessionRecord, end: Event) -> bool:
        """Close the session and store its session_end and its record, in one transaction, unless the session
        changed (an event extended it, or another writer ended it) since `record` was read."""
        ended = {
            "Update": {
                "TableName": self._table,
                "Key": session_key(record.project_id, record.device_id),
                "UpdateExpression": "SET endedAt = :ended REMOVE idleBucket",
                "ConditionExpression": "sessionId = :session AND lastSeenAt = :seen AND attribute_exists(idleBucket)",
                "ExpressionAttributeValues": {
                    ":ended": {"S": isoformat_ms(record.ended_at or end.received_at)},
                    ":session": {"S": record.session_id},
                    ":seen": {"S": isoformat_ms(record.last_seen_at)},
                },
            }
        }
        try:
            transact(self.client, [ended, self._events.put_action(end), self._record_put(record)])
        except ClientError as exc:
            codes = cancellation_codes(exc) if error_code(exc) == "TransactionCanceledException" else []
            if "ConditionalCheckFailed" in codes:
                return False
            raise
        return True

    def reaped_through(self) -> int | None:
        with translate_errors():
            item = self.client.get_item(TableName=self._table, Key=REAPER_KEY, ConsistentRead=True).get("Item")
        return int(item["reapedThrough"]["N"]) if item is not None and "reapedThrough" in item else None

    def mark_reaped(self, bucket: int) -> None:
        try:
            with translate_errors():
                self.client.update_item(
                    TableName=self._table,
                    Key=REAPER_KEY,
                    UpdateExpression="SET reapedThrough = :bucket",
                    ConditionExpression="attribute_not_exists(reapedThrough) OR reapedThrough < :bucket",
                    ExpressionAttributeValues={":bucket": {"N": str(bucket)}},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # a concurrent run got further: fine
                raise

    def idle_in_bucket(self, bucket: int) -> Iterator[tuple[str, str]]:
        for shard in range(IDLE_SHARDS):
            arguments: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": IDLE_INDEX,
                "KeyConditionExpression": "idleBucket = :bucket",
                "ExpressionAttributeValues": {":bucket": {"S": f"{bucket}#{shard}"}},
            }
            for page in pages(self.client.query, arguments):
                for item in page.get("Items", []):
                    project_id, device_id = str(item["pk"]["S"]).split("#", 1)
                    yield project_id, device_id

    def profile_session(self, project_id: str, profile_id: str, now: datetime) -> SessionRecord | None:
        """The profile's live session (not ended, active within the timeout at `now`), the latest of its devices';
        None when it has none. The index is eventually consistent: a session started a moment ago may not be
        found yet (DATA_MODEL.md)."""
        with translate_errors():
            page = self.client.query(
                TableName=self._table,
                IndexName=PROFILE_INDEX,
                KeyConditionExpression="liveProfile = :profile",
                ExpressionAttributeValues={":profile": {"S": live_profile_value(project_id, profile_id)}},
                Limit=PROFILE_CANDIDATES,
            )
        live: list[SessionRecord] = []
        for item in page.get("Items", []):
            device_id = str(item["pk"]["S"]).split("#", 1)[1]
            record = self.read_record(project_id, device_id)
            # read consistently: the index entry may be older than the item (another profile since, or ended)
            if record is not None and record.profile_id == profile_id and record.live(now, self.timeout):
                live.append(record)
        return max(live, key=lambda record: record.last_seen_at, default=None)

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table,
                Key=session_key(project_id, device_id),
                ProjectionExpression="sessionId, lastSeenAt",
                ConsistentRead=True,
            ).get("Item")
        if item is None or item["lastSeenAt"]["S"] < isoformat_ms(now - self.timeout):
            return None
        return str(item["sessionId"]["S"])


# The session's traffic source: the attributes its first event set, each only when not empty (a new session over an
# ended one's item removes the old ones); `utm` is a map of its page's utm_* parameters.
_SOURCE_ATTRIBUTES = (("referrer", "referrer"), ("referrerName", "referrer_name"), ("referrerType", "referrer_type"))
_CAMPAIGN_ATTRIBUTE = "utm"


def _source_update(source: TrafficSource, extra_removes: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """(", a = :a … REMOVE b", values) appended to the start's SET clause (also removing `extra_removes`)."""
    sets: list[str] = []
    removes: list[str] = list(extra_removes or [])
    values: dict[str, Any] = {}
    for attribute, field_name in _SOURCE_ATTRIBUTES:
        value = getattr(source, field_name)
        if value:
            sets.append(f"{attribute} = :{attribute}")
            values[f":{attribute}"] = {"S": value}
        else:
            removes.append(attribute)
    if source.campaign:
        sets.append(f"{_CAMPAIGN_ATTRIBUTE} = :{_CAMPAIGN_ATTRIBUTE}")
        values[f":{_CAMPAIGN_ATTRIBUTE}"] = {"M": {name: {"S": value} for name, value in source.campaign}}
    else:
        removes.append(_CAMPAIGN_ATTRIBUTE)
    clause = "".join(f", {item}" for item in sets) + (f" REMOVE {', '.join(removes)}" if removes else "")
    return clause, values


def _source(attributes: dict[str, Any]) -> TrafficSource:
    def text(attribute: str) -> str:
        return str(attributes.get(attribute, {}).get("S", ""))

    campaign = tuple(
        sorted((name, str(value["S"])) for name, value in attributes.get(_CAMPAIGN_ATTRIBUTE, {}).get("M", {}).items())
    )
    return TrafficSource(text("referrer"), text("referrerName"), text("referrerType"), campaign)


def values_of(update: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = update["ExpressionAttributeValues"]
    return values


def _continue_record(
    project_id: str, pk: str, now: datetime, activity: SessionActivity | None
) -> tuple[str, dict[str, Any]]:
    """(", a = :a … ADD n :n", values): what an event adds to its session's record, on the continue's update. The
    index bucket changes (an index write) only when the session moves into a new minute."""
    sets = [", idleBucket = :idleBucket"]
    values: dict[str, Any] = {":idleBucket": {"S": bucket_value(pk, idle_bucket(now))}}
    if activity is None:
        return "".join(sets), values
    sets.append(", lastEventAt = :lastEventAt")
    values[":lastEventAt"] = {"S": isoformat_ms(activity.at)}
    if activity.path:
        sets.append(", exitPath = :exitPath")
        values[":exitPath"] = {"S": activity.path}
        if activity.origin:
            sets.append(", exitOrigin = :exitOrigin")
            values[":exitOrigin"] = {"S": activity.origin}
    if activity.profile_id is not None:
        # liveProfile: the same value again writes nothing to its index; only a new profile moves the entry
        sets.append(", profileId = :profileId, liveProfile = :liveProfile")
        values[":profileId"] = {"S": activity.profile_id}
        values[":liveProfile"] = {"S": live_profile_value(project_id, activity.profile_id)}
    adds = ["eventCount :events", "screenViews :screenViews", "revenue :revenue"]
    values[":events"] = {"N": str(activity.events)}
    values[":screenViews"] = {"N": str(activity.screen_views)}
    values[":revenue"] = {"N": str(activity.revenue)}
    if activity.groups:
        adds.append("groupsSeen :groups")
        values[":groups"] = {"SS": list(activity.groups)}
    return "".join(sets) + " ADD " + ", ".join(adds), values


# The record attributes a start sets, each only when not empty (and REMOVEd otherwise, over an ended session).
_OPTIONAL_RECORD = (
    "entryPath",
    "entryOrigin",
    "exitPath",
    "exitOrigin",
    "profileId",
    "liveProfile",
    "groupsSeen",
    "device",
    "geo",
)


def _start_record(
    project_id: str, pk: str, now: datetime, event: Event, activity: SessionActivity | None
) -> tuple[str, dict[str, Any]]:
    """(", a = :a …", values) of the record a new session opens with (its REMOVEs are in the source's clause)."""
    opened = activity or SessionActivity(at=event.created_at, path=event.path, origin=event.origin)
    values: dict[str, Any] = {
        ":idleBucket": {"S": bucket_value(pk, idle_bucket(now))},
        ":clientId": {"S": event.client_id},
        ":firstEventAt": {"S": isoformat_ms(opened.earliest)},
        ":lastEventAt": {"S": isoformat_ms(opened.at)},
        ":eventCount": {"N": str(opened.events)},
        ":screenViews": {"N": str(opened.screen_views)},
        ":revenue": {"N": str(opened.revenue)},
    }
    profile_id = opened.profile_id or event.profile_id
    optional: dict[str, Any] = {
        "entryPath": event.path or opened.path,
        "entryOrigin": event.origin or opened.origin,
        "exitPath": opened.path or event.path,
        "exitOrigin": opened.origin or event.origin,
        "profileId": profile_id,
        "liveProfile": live_profile_value(project_id, profile_id) if profile_id else "",
        "groupsSeen": sorted(set(opened.groups) | set(event.groups or ())),
        "device": dict(event.device),
        "geo": dict(event.geo),
    }
    sets = [f", {name} = :{name}" for name in (name[1:] for name in values)]
    for name in _OPTIONAL_RECORD:
        value = optional[name]
        if value:
            sets.append(f", {name} = :{name}")
            values[f":{name}"] = {"SS": value} if name == "groupsSeen" else serialize(value)
    return "".join(sets), values


def _start_removes(event: Event, activity: SessionActivity | None) -> list[str]:
    opened = activity or SessionActivity(at=event.created_at, path=event.path, origin=event.origin)
    present = {
        "entryPath": event.path or opened.path,
        "entryOrigin": event.origin or opened.origin,
        "exitPath": opened.path or event.path,
        "exitOrigin": opened.origin or event.origin,
        "profileId": opened.profile_id or event.profile_id,
        "liveProfile": opened.profile_id or event.profile_id,
        "groupsSeen": set(opened.groups) | set(event.groups or ()),
        "device": event.device,
        "geo": event.geo,
    }
    return ["endedAt", *(name for name in _OPTIONAL_RECORD if not present[name])]


def _record(project_id: str, device_id: str, item: dict[str, Any]) -> SessionRecord:
    plain = deserialize_item(item)

    def text(name: str) -> str:
        return str(plain.get(name) or "")

    return SessionRecord(
        project_id=project_id,
        device_id=device_id,
        session_id=text("sessionId"),
        client_id=text("clientId"),
        started_at=_parse_time(text("startedAt")),
        last_seen_at=_parse_time(text("lastSeenAt")),
        first_event_at=_parse_time(text("firstEventAt") or text("startedAt")),
        last_event_at=_parse_time(text("lastEventAt") or text("lastSeenAt")),
        entry_path=text("entryPath"),
        entry_origin=text("entryOrigin"),
        exit_path=text("exitPath"),
        exit_origin=text("exitOrigin"),
        source=_source(item),
        event_count=int(plain.get("eventCount") or 0),
        screen_view_count=int(plain.get("screenViews") or 0),
        revenue=int(plain.get("revenue") or 0),
        profile_id=plain.get("profileId") or None,
        groups=tuple(sorted(plain.get("groupsSeen") or ())),
        device=dict(plain.get("device") or {}),
        geo=dict(plain.get("geo") or {}),
        ended_at=_parse_time(text("endedAt")) if plain.get("endedAt") else None,
    )


def record_item(record: SessionRecord, expires_at: int) -> dict[str, Any]:
    """An ended session's own item: its record, found by id (GET /session/{id}) and by project (the export)."""
    item: dict[str, Any] = {
        **record_key(record.project_id, record.session_id),
        "recordProject": {"S": record.project_id},
        "recordStart": {"S": f"{isoformat_ms(record.started_at)}#{record.session_id}"},
        "sessionId": {"S": record.session_id},
        "deviceId": {"S": record.device_id},
        "clientId": {"S": record.client_id},
        "startedAt": {"S": isoformat_ms(record.started_at)},
        "firstEventAt": {"S": isoformat_ms(record.first_event_at)},
        "lastEventAt": {"S": isoformat_ms(record.last_event_at)},
        "eventCount": {"N": str(record.event_count)},
        "screenViews": {"N": str(record.screen_view_count)},
        "revenue": {"N": str(record.revenue)},
        "duration": {"N": str(record.duration_ms)},
        "bounce": {"BOOL": record.bounce},
        "expiresAt": {"N": str(expires_at)},
    }
    if record.ended_at is not None:
        item["endedAt"] = {"S": isoformat_ms(record.ended_at)}
    for name, value in (
        ("entryPath", record.entry_path),
        ("entryOrigin", record.entry_origin),
        ("exitPath", record.exit_path),
        ("exitOrigin", record.exit_origin),
        ("profileId", record.profile_id),
        ("referrer", record.source.referrer),
        ("referrerName", record.source.referrer_name),
        ("referrerType", record.source.referrer_type),
    ):
        if value:
            item[name] = {"S": value}
    if record.source.campaign:
        item["utm"] = {"M": {name: {"S": value} for name, value in record.source.campaign}}
    if record.groups:
        item["groupsSeen"] = {"SS": list(record.groups)}
    if record.device:
        item["device"] = serialize(dict(record.device))
    if record.geo:
        item["geo"] = serialize(dict(record.geo))
    return item


class DynamoDBSessionReader(DynamoDBRepository):
    """The read API's view of ended sessions: their record items, by id and by project and start time."""

    def get_session(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        with translate_errors():
            item = self.client.get_item(TableName=self._table, Key=record_key(project_id, session_id)).get("Item")
        return None if item is None else session_view(project_id, item)

    def project_sessions(
        self, project_id: str, window: TimeWindow, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": RECORD_INDEX,
            "KeyConditionExpression": "recordProject = :project AND recordStart BETWEEN :start AND :end",
            "ExpressionAttributeValues": {
                ":project": {"S": project_id},
                ":start": {"S": isoformat_ms(window.start)},
                ":end": {"S": isoformat_ms(window.end) + "~"},
            },
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after:
            session_id = after.rsplit("#", 1)[-1]
            arguments["ExclusiveStartKey"] = {
                **record_key(project_id, session_id),
                "recordProject": {"S": project_id},
                "recordStart": {"S": after},
            }
        with translate_errors():
            page = self.client.query(**arguments)
        items = page.get("Items", [])
        resume = str(page["LastEvaluatedKey"]["recordStart"]["S"]) if "LastEvaluatedKey" in page else None
        return [session_view(project_id, item) for item in items], resume


def session_view(project_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A record item in the wire shape of SessionResponse (docs/API.md, Sessions)."""
    plain = deserialize_item(item)
    return {
        "id": plain["sessionId"],
        "projectId": project_id,
        "deviceId": plain.get("deviceId"),
        "profileId": plain.get("profileId") or plain.get("deviceId"),
        "startedAt": plain.get("startedAt"),
        "endedAt": plain.get("endedAt"),
        "firstEventAt": plain.get("firstEventAt"),
        "lastEventAt": plain.get("lastEventAt"),
        "duration": int(plain.get("duration") or 0),
        "bounce": bool(plain.get("bounce")),
        "eventCount": int(plain.get("eventCount") or 0),
        "screenViewCount": int(plain.get("screenViews") or 0),
        "revenue": int(plain.get("revenue") or 0),
        "entryPath": plain.get("entryPath"),
        "entryOrigin": plain.get("entryOrigin"),
        "exitPath": plain.get("exitPath"),
        "exitOrigin": plain.get("exitOrigin"),
        "referrer": plain.get("referrer"),
        "referrerName": plain.get("referrerName"),
        "referrerType": plain.get("referrerType"),
        "utm": dict(plain.get("utm") or {}),
        "groups": sorted(plain.get("groupsSeen") or ()),
        "device": dict(plain.get("device") or {}),
        "geo": dict(plain.get("geo") or {}),
    }
