"""The idempotency table: one item per key (an event's __id, an Idempotency-Key header, a batch body),
claimed in the same transaction as the event it guards, so a repeat is stored once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from beacon.domain.entities import Event, TrackResult
from beacon.store.dynamodb import DynamoDBRepository, translate_errors

IDEMPOTENCY_WINDOW = timedelta(days=7)


def idempotency_key(project_id: str, key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{project_id}#{key}"}}


def claim_action(table: str, key: str, event: Event) -> dict[str, Any]:
    """A transaction Put that succeeds only for the key's first use within the window."""
    answer = TrackResult(device_id=event.device_id, session_id=event.session_id)
    return answer_claim_action(table, event.project_id, key, answer, event.received_at, event.id)


def answer_claim_action(
    table: str, project_id: str, key: str, answer: TrackResult, now: datetime, event_id: str | None = None
) -> dict[str, Any]:
    """The claim of a key, remembering what the request was answered (for any request type)."""
    item = {
        **idempotency_key(project_id, key),
        "deviceId": {"S": answer.device_id},
        "sessionId": {"S": answer.session_id},
        "createdAt": {"S": now.isoformat()},
        "expiresAt": {"N": str(int((now + IDEMPOTENCY_WINDOW).timestamp()))},
    }
    if event_id is not None:
        item["eventId"] = {"S": event_id}
    return {
        "Put": {
            "TableName": table,
            "Item": item,
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
