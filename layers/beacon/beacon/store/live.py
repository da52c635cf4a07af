"""Live visitors: the sessions table's sparse index `byProjectLastSeen` (DATA_MODEL.md).

A session item carries `liveShard` = "<project>#<n>" (n from its device id, LIVE_SHARDS of them, so one busy
project's index writes spread over several partitions) beside its `lastSeenAt`. The index is keyed on
(liveShard, lastSeenAt) and projects keys only, so "devices seen since T" is one COUNT Query per shard over the
sort-key range [T, ∞): it reads only the items of that project seen in the window, never a Scan.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from beacon.store.dynamodb import DynamoDBRepository, translate_errors
from beacon.store.events import isoformat_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LIVE_INDEX = "byProjectLastSeen"
LIVE_SHARDS = 4


def live_shard(project_id: str, device_id: str) -> str:
    """The index partition of a (project, device) session item."""
    shard = hashlib.blake2b(device_id.encode(), digest_size=2).digest()[0] % LIVE_SHARDS
    return f"{project_id}#{shard}"


def live_shard_attribute(project_id: str, device_id: str) -> dict[str, Any]:
    """The `liveShard` attribute value a session write SETs (store/sessions.py)."""
    return {"S": live_shard(project_id, device_id)}


class DynamoDBLiveVisitors(DynamoDBRepository):
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, client)

    def count_seen_since(self, project_id: str, since: datetime) -> int:
        total = 0
        with translate_errors():
            for shard in range(LIVE_SHARDS):
                request: dict[str, Any] = {
                    "TableName": self._table,
                    "IndexName": LIVE_INDEX,
                    "KeyConditionExpression": "liveShard = :shard AND lastSeenAt >= :since",
                    "ExpressionAttributeValues": {
                        ":shard": {"S": f"{project_id}#{shard}"},
                        ":since": {"S": isoformat_ms(since)},
                    },
                    "Select": "COUNT",
                }
                while True:
                    page = self.client.query(**request)
                    total += page["Count"]
                    if "LastEvaluatedKey" not in page:
                        break
                    request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return total
