"""Amazon Data Firehose: the lake consumer's sink in AWS. One JSON line per row, many lines a record: Firehose
bills each record in 5 KB steps, so rows are packed into records of up to RECORD_BYTES, which it de-aggregates
(RecordDeAggregation, JSON) before partitioning them by (project, day) and converting them to Parquet under the
Glue table's schema (docs/LAKE.md). A null column is left out of its line: the conversion reads it as null."""

from __future__ import annotations

import json
import time
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.errors import DependencyUnavailableError
from beacon.store.aws import TRANSPORT_ERRORS, _boto3_client, unavailable
from beacon.text import well_formed

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient

# PutRecordBatch takes at most 500 records and 4 MiB a call; a record at most 1,000 KiB.
MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
RECORD_BYTES = 256 * 1024
# Records Firehose refused (throttled, internal error) are sent again after these pauses, then the batch fails.
FAILED_RETRY_DELAYS = (0.1, 0.4, 1.0)


@cache
def firehose_client() -> FirehoseClient:
    client: FirehoseClient = _boto3_client("firehose")
    return client


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)  # the Glue SerDe reads timestamps as epoch milliseconds
    raise TypeError(type(value).__name__)


def encode_row(row: dict[str, Any]) -> bytes:
    present = {name: value for name, value in row.items() if value is not None}
    line = json.dumps(present, default=_default, ensure_ascii=False, separators=(",", ":")) + "\n"
    try:
        return line.encode()
    except UnicodeEncodeError:  # a lone surrogate in an item stored before beacon/text.py's rule: U+FFFD, as reads do
        return well_formed(line).encode()


def pack_records(rows: list[dict[str, Any]]) -> list[bytes]:
    """Rows as Firehose records: whole JSON lines, RECORD_BYTES at most a record (a longer row alone)."""
    records: list[bytes] = []
    current = bytearray()
    for row in rows:
        line = encode_row(row)
        if current and len(current) + len(line) > RECORD_BYTES:
            records.append(bytes(current))
            current = bytearray()
        current += line
    if current:
        records.append(bytes(current))
    return records


def record_groups(rows: list[dict[str, Any]]) -> list[list[bytes]]:
    """Rows as PutRecordBatch calls of packed records: 500 records and 4 MiB at most each."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for data in pack_records(rows):
        if current and (len(current) == MAX_RECORDS or size + len(data) > MAX_BATCH_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(data)
        size += len(data)
    if current:
        groups.append(current)
    return groups


class FirehoseLakeSink:
    """Delivers rows at least once: a call that fails, or records still refused after the retries, raise
    DependencyUnavailableError, and the stream batch is delivered again (the readers deduplicate by event id)."""

    def __init__(self, delivery_stream: str, client: FirehoseClient | None = None) -> None:
        self._stream = delivery_stream
        self._client = client

    @property
    def client(self) -> FirehoseClient:
        return self._client or firehose_client()

    def write(self, rows: list[dict[str, Any]], batch_key: str) -> None:
        for group in record_groups(rows):
            pending = group
            for delay in (*FAILED_RETRY_DELAYS, None):
                try:
                    response = self.client.put_record_batch(
                        DeliveryStreamName=self._stream, Records=[{"Data": data} for data in pending]
                    )
                except (ClientError, *TRANSPORT_ERRORS) as exc:
                    raise unavailable("Firehose", exc) from exc
                if not response.get("FailedPutCount"):
                    break
                pending = [
                    data
                    for data, answer in zip(pending, response["RequestResponses"], strict=True)
                    if answer.get("ErrorCode")
                ]
                if delay is None:
                    raise DependencyUnavailableError(f"Firehose refused {len(pending)} records; retry later")
                time.sleep(delay)
