"""Live visitors: a COUNT over the reaper's sparse index `byIdleBucket` (DATA_MODEL.md, DESIGN §47).

Every session not yet ended is in that index under the epoch minute of its last activity and a shard
(`"<minute>#<shard>"`, store/sessions.py `bucket_value`), keys only. "Devices seen since T" is the Query of each
minute from T's to now's, in every shard, keeping the items whose key names the project: it writes nothing (the
entry moves only when a session enters a new minute, which the reaper needs anyway) and reads the keys of the
sessions active in those minutes, every project's, never a Scan. Resolution is the minute: a session last seen in
T's minute counts even when it was seen before T within that minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from beacon.domain.sessions import idle_bucket
from beacon.store.dynamodb import DynamoDBRepository, pages
from beacon.store.sessions import IDLE_INDEX, IDLE_SHARDS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A window longer than this many minutes is not "live": the count would read too many buckets.
MAX_WINDOW_MINUTES = 60


class DynamoDBLiveVisitors(DynamoDBRepository):
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, client)

    def count_seen_since(self, project_id: str, since: datetime, now: datetime) -> int:
        first = idle_bucket(since)
        last = max(first, idle_bucket(now))
        first = max(first, last - MAX_WINDOW_MINUTES)
        total = 0
        for bucket in range(first, last + 1):
            for shard in range(IDLE_SHARDS):
                request = {
                    "TableName": self._table,
                    "IndexName": IDLE_INDEX,
                    "KeyConditionExpression": "idleBucket = :bucket",
                    "FilterExpression": "begins_with(pk, :project)",
                    "ExpressionAttributeValues": {
                        ":bucket": {"S": f"{bucket}#{shard}"},
                        ":project": {"S": f"{project_id}#"},
                    },
                    "Select": "COUNT",
                }
                total += sum(int(page["Count"]) for page in pages(self.client.query, request))
        return total
