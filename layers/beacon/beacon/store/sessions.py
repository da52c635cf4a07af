"""The sessions table: one item per (project, device) holding its current session. See DATA_MODEL.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.entities import ActiveSession, Event, TrafficSource
from beacon.domain.sessions import DUPLICATE_WINDOW, SESSION_TIMEOUT
from beacon.errors import DuplicateEventError
from beacon.store.aws import error_code
from beacon.store.dynamodb import DynamoDBRepository, cancellation_codes, transact, translate_errors
from beacon.store.events import DynamoDBEventStore, isoformat_ms
from beacon.store.live import live_shard_attribute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Session items outlive their 30-minute window by a day, then DynamoDB's TTL removes them.
SESSION_ITEM_LIFETIME = timedelta(days=1)
NO_FINGERPRINT = "-"  # requests with an idempotency key are deduplicated by it, not by fingerprint


def session_key(project_id: str, device_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{device_id}"}}


class DynamoDBSessionStore(DynamoDBRepository):
    """`start_session` writes across tables in one transaction: the session item here, and the events' items and
    idempotency claim as `events` (the events table's store) builds them."""

    def __init__(self, table_name: str, events: DynamoDBEventStore, client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, client)
        self._events = events

    @staticmethod
    def _times(now: datetime, fingerprint: str | None) -> dict[str, Any]:
        return {
            ":now": {"S": isoformat_ms(now)},
            ":cutoff": {"S": isoformat_ms(now - SESSION_TIMEOUT)},
            ":expires": {"N": str(int((now + SESSION_ITEM_LIFETIME).timestamp()))},
            ":fingerprint": {"S": fingerprint or NO_FINGERPRINT},
        }

    def continue_session(
        self, project_id: str, device_id: str, now: datetime, fingerprint: str | None = None
    ) -> ActiveSession | None:
        try:
            with translate_errors():
                response = self.client.update_item(
                    TableName=self._table,
                    Key=session_key(project_id, device_id),
                    UpdateExpression="SET lastSeenAt = :now, expiresAt = :expires, lastFingerprint = :fingerprint",
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
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            active = "lastSeenAt" in old and old["lastSeenAt"]["S"] >= isoformat_ms(now - SESSION_TIMEOUT)
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
    ) -> bool:
        source, values = _source_update(events[-1].source)
        start = {
            "Update": {
                "TableName": self._table,
                "Key": session_key(project_id, device_id),
                "UpdateExpression": (
                    "SET sessionId = :session, startedAt = :now, lastSeenAt = :now, expiresAt = :expires, "
                    "lastFingerprint = :fingerprint, liveShard = :liveShard" + source
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR lastSeenAt < :cutoff",
                "ExpressionAttributeValues": {
                    **self._times(now, fingerprint),
                    ":session": {"S": session_id},
                    ":liveShard": live_shard_attribute(project_id, device_id),  # /insights/live's index
                    **values,
                },
            }
        }
        claims = self._events.claim_actions(events[-1], idempotency_key)
        puts = [self._events.put_action(event) for event in events]
        try:
            transact(self.client, [*claims, start, *puts], claims=len(claims))
        except ClientError as exc:
            codes = cancellation_codes(exc) if error_code(exc) == "TransactionCanceledException" else []
            if len(codes) > len(claims) and codes[len(claims)] == "ConditionalCheckFailed":
                return False  # another request started the session first
            raise
        return True

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

    def active_session(self, project_id: str, device_id: str, now: datetime) -> str | None:
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table,
                Key=session_key(project_id, device_id),
                ProjectionExpression="sessionId, lastSeenAt",
                ConsistentRead=True,
            ).get("Item")
        if item is None or item["lastSeenAt"]["S"] < isoformat_ms(now - SESSION_TIMEOUT):
            return None
        return str(item["sessionId"]["S"])


# The session's traffic source: the attributes its first event set, each only when not empty (a new session over an
# ended one's item removes the old ones); `utm` is a map of its page's utm_* parameters.
_SOURCE_ATTRIBUTES = (("referrer", "referrer"), ("referrerName", "referrer_name"), ("referrerType", "referrer_type"))
_CAMPAIGN_ATTRIBUTE = "utm"


def _source_update(source: TrafficSource) -> tuple[str, dict[str, Any]]:
    """(", a = :a … REMOVE b", values) appended to the start's SET clause."""
    sets, removes, values = [], [], {}
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
