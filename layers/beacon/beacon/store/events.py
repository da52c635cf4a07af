"""The events table: one item per stored event. The item layout is documented in DATA_MODEL.md.

Single events are written with a condition (never overwrite); a batch's events, guarded by the batch's claim
(their keys are the same on every attempt), with BatchWriteItem: a quarter of the requests, no condition.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.entities import Event
from beacon.errors import ConflictError, DependencyUnavailableError
from beacon.store.aws import error_code
from beacon.store.dynamodb import (
    DynamoDBRepository,
    serialize_item,
    transact,
    translate_errors,
)
from beacon.store.idempotency import claim_action

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Append-only keys of one busy project are spread over this many partitions (docs/DESIGN.md §5):
# 8 x 1,000 writes/s per project. Readers query all shards and merge. Changing it needs a migration.
EVENT_SHARDS = 8
PROFILE_INDEX = "byProfile"
WRITE_GROUP = 25  # BatchWriteItem's limit
READ_GROUP = 100  # BatchGetItem's limit
# Unprocessed items (the table or a partition throttling) are sent again after these pauses, then given up:
# the batch answers them notStored (503) and its retry writes them.
UNPROCESSED_RETRY_DELAYS = (0.025, 0.05, 0.1)


def isoformat_ms(moment: datetime) -> str:
    """UTC, millisecond precision, sortable as text (naive datetimes are taken as UTC)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_shard(event_id: str) -> int:
    return hashlib.blake2b(event_id.encode(), digest_size=2).digest()[0] % EVENT_SHARDS


def event_key(event: Event) -> tuple[str, str]:
    """(pk, sk): the project's shard, and event time then id."""
    return f"{event.project_id}#{event_shard(event.id)}", f"{isoformat_ms(event.created_at)}#{event.id}"


def event_to_item(event: Event, retention_days: int) -> dict[str, Any]:
    partition_key, sort_key = event_key(event)
    item: dict[str, Any] = {
        "pk": partition_key,
        "sk": sort_key,
        "id": event.id,
        "projectId": event.project_id,
        "clientId": event.client_id,
        "name": event.name,
        "properties": event.properties,
        "deviceId": event.device_id,
        "sessionId": event.session_id,
        "createdAt": isoformat_ms(event.created_at),
        "receivedAt": isoformat_ms(event.received_at),
        "expiresAt": int((event.received_at + timedelta(days=retention_days)).timestamp()),
    }
    if event.profile_id is not None:
        item["profileId"] = event.profile_id
        item["gsi1pk"] = f"{event.project_id}#{event.profile_id}"
        item["gsi1sk"] = sort_key
    if event.groups is not None:
        item["groups"] = list(event.groups)
    if event.from_past:
        item["fromPast"] = True
    if event.revenue is not None:
        item["revenue"] = event.revenue
    if event.device:
        item["device"] = dict(event.device)
    if event.geo:
        item["geo"] = dict(event.geo)
    if event.ip is not None:
        item["ip"] = event.ip
    if event.client_timestamp is not None:
        item["clientTimestamp"] = event.client_timestamp[:64]
    # Derived fields only when the event has them: a custom event from a server pays no bytes for them.
    for name, value in (
        ("path", event.path),
        ("origin", event.origin),
        ("referrer", event.referrer),
        ("referrerName", event.referrer_name),
        ("referrerType", event.referrer_type),
        ("sdkName", event.sdk_name),
        ("sdkVersion", event.sdk_version),
    ):
        if value:
            item[name] = value
    return serialize_item(item)


class DynamoDBEventStore(DynamoDBRepository):
    def __init__(
        self,
        table_name: str,
        retention_days: int,
        client: DynamoDBClient | None = None,
        idempotency_table: str | None = None,
    ) -> None:
        super().__init__(table_name, client)
        self._retention_days = retention_days
        self._idempotency_table = idempotency_table

    def put_action(self, event: Event) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": event_to_item(event, self._retention_days),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def claim_actions(self, event: Event, idempotency_key: str | None) -> list[dict[str, Any]]:
        if idempotency_key is None:
            return []
        if self._idempotency_table is None:
            raise RuntimeError("an idempotency key needs the idempotency table")
        return [claim_action(self._idempotency_table, idempotency_key, event)]

    def put_claimed_event(self, event: Event, idempotency_key: str) -> None:
        """Store the event and claim its idempotency key atomically; DuplicateEventError on a repeat."""
        transact(self.client, [*self.claim_actions(event, idempotency_key), self.put_action(event)], claims=1)

    def put_event(self, event: Event) -> None:
        try:
            with translate_errors():
                self.client.put_item(
                    TableName=self._table,
                    Item=event_to_item(event, self._retention_days),
                    # Event ids are unique; the condition guarantees a retry never overwrites another event.
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConflictError("An event with this id already exists") from exc
            raise

    def put_events(self, events: list[Event]) -> list[Event]:
        """BatchWriteItem, 25 events a request; unprocessed ones are sent again after short pauses. Plain Puts: the
        batch's claim guarantees an event written again is the same event under the same key."""
        failed: list[Event] = []
        for start in range(0, len(events), WRITE_GROUP):
            group = events[start : start + WRITE_GROUP]
            by_key = {event_key(event): event for event in group}
            requests: list[Any] = [
                {"PutRequest": {"Item": event_to_item(event, self._retention_days)}} for event in group
            ]
            for delay in (*UNPROCESSED_RETRY_DELAYS, None):
                with translate_errors():
                    response: Any = self.client.batch_write_item(RequestItems={self._table: requests})
                requests = list(response.get("UnprocessedItems", {}).get(self._table, []))
                if not requests or delay is None:
                    break
                time.sleep(delay)
            for request in requests:
                item = request["PutRequest"]["Item"]
                failed.append(by_key[(item["pk"]["S"], item["sk"]["S"])])
        return failed

    def missing_events(self, events: list[Event]) -> list[Event]:
        """Those not in the table: BatchGetItem of their keys, consistent, 100 a request."""
        found: set[tuple[str, str]] = set()
        keys = [event_key(event) for event in events]
        for start in range(0, len(keys), READ_GROUP):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[start : start + READ_GROUP]],
                    "ProjectionExpression": "pk, sk",
                    "ConsistentRead": True,
                }
            }
            for delay in (*UNPROCESSED_RETRY_DELAYS, None):
                with translate_errors():
                    response: Any = self.client.batch_get_item(RequestItems=request)
                stored = response["Responses"].get(self._table, [])
                found.update((item["pk"]["S"], item["sk"]["S"]) for item in stored)
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
                if delay is None:
                    raise DependencyUnavailableError("DynamoDB is unavailable (UnprocessedKeys); retry later")
                time.sleep(delay)
        return [event for event, key in zip(events, keys, strict=True) if key not in found]
