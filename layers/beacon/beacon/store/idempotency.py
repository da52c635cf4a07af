"""The idempotency table: one item per key (an event's __id, an Idempotency-Key header, a batch body),
claimed in the same transaction as the event it guards, so a repeat is stored once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from beacon.domain.entities import Event, TrackResult
from beacon.store.dynamodb import DynamoDBRepository, translate_errors

IDEMPOTENCY_WINDOW = timedelta(days=7)


def idempotency_key(project_id: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{key}"}}


def claim_action(table: str, key: str, event: Event) -> dict[str, Any]:
    """A transaction Put that succeeds only for the key's first use within the window."""
    now = event.received_at
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **idempotency_key(event.project_id, key),
                "deviceId": {"S": event.device_id},
                "sessionId": {"S": event.session_id},
                "eventId": {"S": event.id},
                "createdAt": {"S": now.isoformat()},
                "expiresAt": {"N": str(int((now + IDEMPOTENCY_WINDOW).timestamp()))},
            },
            # An expired item may linger until DynamoDB's TTL sweeps it: it no longer counts.
            "ConditionExpression": "attribute_not_exists(pk) OR expiresAt < :now",
            "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
        }
    }


class DynamoDBIdempotencyStore(DynamoDBRepository):
    def previous_answer(self, project_id: str, key: str) -> TrackResult | None:
        """What the first request with this key was answered."""
        with translate_errors():
            item = self.client.get_item(
                TableName=self._table, Key=idempotency_key(project_id, key), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        return TrackResult(device_id=item["deviceId"]["S"], session_id=item["sessionId"]["S"])

    @property
    def table_name(self) -> str:
        return self._table
