"""Session replay chunks: the payload in S3, the chunk's metadata in ReplaysTable (DATA_MODEL.md, ReplaysTable).

Write order: the S3 object first, then its index item, so an indexed chunk always has its payload (until the
bucket's lifecycle rule and the item's TTL, both ReplayRetentionDays, remove them). A failed index write leaves an
object nothing points to; the SDK's retry (or the lifecycle rule) takes care of it. Both writes overwrite: the same
chunk sent twice is stored once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.domain.replays import ReplayChunk, ReplayPage, replay_expiry
from beacon.store.aws import TRANSPORT_ERRORS, UNAVAILABLE_CODES, error_code, s3_client, unavailable
from beacon.store.dynamodb import DynamoDBRepository, translate_errors
from beacon.store.events import isoformat_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# S3 answers these (besides the shared codes) when it cannot serve right now.
S3_UNAVAILABLE_CODES = UNAVAILABLE_CODES | {"SlowDown", "503", "500", "RequestTimeout"}
PARALLEL_GETS = 8  # a page's payloads are fetched this many at a time (the client is thread-safe)


def replay_pk(project_id: str, session_id: str) -> str:
    return f"{project_id}#{session_id}"


def object_key(project_id: str, session_id: str, position: str) -> str:
    """`replays/<project>/<session>/<started_at>_<chunk_index>.json`: scoped by project, then session."""
    return f"replays/{project_id}/{session_id}/{position}.json"


class S3ReplayStore(DynamoDBRepository):
    """Chunks in `bucket`, indexed in the table; clients injected (tests) or the container's shared ones."""

    def __init__(
        self,
        table_name: str,
        bucket: str,
        client: DynamoDBClient | None = None,
        s3: Any | None = None,
        retention_days: int = 30,
    ) -> None:
        super().__init__(table_name, client)
        self._bucket = bucket
        self._s3 = s3
        self.retention_days = retention_days  # ReplayRetentionDays: the index item's TTL, like the bucket's rule

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client()
        return self._s3

    def put_chunk(self, chunk: ReplayChunk) -> None:
        data = chunk.payload.encode("utf-8", "surrogatepass")
        key = object_key(chunk.project_id, chunk.session_id, chunk.position)
        with translate_s3_errors():
            self.s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType="application/json")
        item: dict[str, Any] = {
            "pk": {"S": replay_pk(chunk.project_id, chunk.session_id)},
            "sk": {"S": chunk.position},
            "chunkIndex": {"N": str(chunk.chunk_index)},
            "eventsCount": {"N": str(chunk.events_count)},
            "isFullSnapshot": {"BOOL": chunk.is_full_snapshot},
            "startedAt": {"S": isoformat_ms(chunk.started_at)},
            "endedAt": {"S": isoformat_ms(chunk.ended_at)},
            "receivedAt": {"S": isoformat_ms(chunk.received_at)},
            # The payload's size as the read answers it (a JSON string, escaped): what a page's budget counts.
            "bytes": {"N": str(len(json.dumps(chunk.payload, ensure_ascii=False).encode("utf-8", "surrogatepass")))},
            "expiresAt": {"N": str(int(replay_expiry(chunk.received_at, self.retention_days).timestamp()))},
        }
        with translate_errors():
            self.client.put_item(TableName=self._table, Item=item)

    def session_chunks(
        self, project_id: str, session_id: str, after: str | None, max_chunks: int, max_bytes: int
    ) -> ReplayPage:
        values: dict[str, Any] = {":pk": {"S": replay_pk(project_id, session_id)}}
        condition = "pk = :pk"
        if after is not None:
            condition += " AND sk > :after"
            values[":after"] = {"S": after}
        with translate_errors():
            response = self.client.query(
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                Limit=max_chunks + 1,
                ConsistentRead=True,
            )
        # TTL deletes an expired item within days, not at once: an expired one is skipped (its object may be gone).
        now = int(time.time())
        found = response.get("Items", [])
        live = [item for item in found[:max_chunks] if int(item["expiresAt"]["N"]) > now]
        page: list[dict[str, Any]] = []
        size = 0
        for item in live:
            size += int(item["bytes"]["N"])
            if page and size > max_bytes:
                break
            page.append(item)
        more = len(page) < len(live) or len(found) > max_chunks
        # Where the next page starts: after the last chunk returned (or read past, when all were expired).
        read_past = page if len(page) < len(live) else found[:max_chunks]
        last = str(read_past[-1]["sk"]["S"]) if read_past else None
        with ThreadPoolExecutor(max_workers=PARALLEL_GETS) as pool:
            payloads = list(pool.map(lambda item: self.chunk_payload(project_id, session_id, item["sk"]["S"]), page))
        chunks = [
            item_to_chunk(project_id, session_id, item, payload)
            for item, payload in zip(page, payloads, strict=True)
            if payload is not None
        ]
        return ReplayPage(chunks=chunks, next_after=last if more else None)

    def chunk_payload(self, project_id: str, session_id: str, position: str) -> str | None:
        """The chunk's payload; None when the lifecycle rule removed it before the index item's TTL did."""
        try:
            with translate_s3_errors():
                body = self.s3.get_object(Bucket=self._bucket, Key=object_key(project_id, session_id, position))
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return str(body["Body"].read().decode("utf-8", "surrogatepass"))


def item_to_chunk(project_id: str, session_id: str, item: dict[str, Any], payload: str) -> ReplayChunk:
    return ReplayChunk(
        project_id=project_id,
        session_id=session_id,
        chunk_index=int(item["chunkIndex"]["N"]),
        events_count=int(item["eventsCount"]["N"]),
        is_full_snapshot=bool(item["isFullSnapshot"]["BOOL"]),
        started_at=datetime.fromisoformat(item["startedAt"]["S"]),
        ended_at=datetime.fromisoformat(item["endedAt"]["S"]),
        payload=payload,
        received_at=datetime.fromisoformat(item["receivedAt"]["S"]),
    )


@contextmanager
def translate_s3_errors() -> Iterator[None]:
    """Throttling, server errors and unreachable endpoints of S3 become DependencyUnavailableError (503)."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in S3_UNAVAILABLE_CODES:
            raise unavailable("S3", exc) from exc
        raise
    except TRANSPORT_ERRORS as exc:
        raise unavailable("S3", exc) from exc
