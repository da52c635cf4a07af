"""The rejected-events table: pk = project, sk = receipt time + id; 14-day TTL. See DATA_MODEL.md."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from beacon.domain.rejections import RejectedEvent
from beacon.store.dynamodb import DynamoDBRepository, deserialize_item, serialize_item, translate_errors
from beacon.store.events import isoformat_ms

REJECTED_RETENTION = timedelta(days=14)


def rejected_to_item(rejected: RejectedEvent) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": rejected.project_id,
        "sk": f"{isoformat_ms(rejected.received_at)}#{os.urandom(6).hex()}",
        "clientId": rejected.client_id,
        "reason": rejected.reason,
        "status": rejected.status,
        "details": rejected.details,
        "payload": rejected.payload,
        "receivedAt": isoformat_ms(rejected.received_at),
        "expiresAt": int((rejected.received_at + REJECTED_RETENTION).timestamp()),
    }
    if rejected.index is not None:
        item["index"] = rejected.index
    return serialize_item(item)


class DynamoDBRejectedEventStore(DynamoDBRepository):
    def put_rejected(self, rejected: list[RejectedEvent]) -> None:
        """Best effort, batched: keeping a rejected event must never turn its 400 into a 503."""
        requests: list[Any] = [{"PutRequest": {"Item": rejected_to_item(entry)}} for entry in rejected]
        for start in range(0, len(requests), 25):
            chunk = requests[start : start + 25]
            # Unprocessed items of a throttled table are dropped: these are diagnostics, not data.
            with translate_errors():
                self.client.batch_write_item(RequestItems={self._table: chunk})

    def list_rejected(self, project_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        with translate_errors():
            response = self.client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :project",
                ExpressionAttributeValues={":project": {"S": project_id}},
                ScanIndexForward=False,
                Limit=limit,
            )
        items = [deserialize_item(item) for item in response["Items"]]
        for item in items:
            item["projectId"] = item.pop("pk")
            item.pop("sk", None)
        return items
