"""A local Amazon Data Firehose: what the lake function's PutRecordBatch reaches in `make run` and the tests.

It does Firehose's part of the lake (docs/LAKE.md): takes records of JSON lines (de-aggregated, as the delivery
stream's RecordDeAggregation does), keeps them durably (a spool file written
before the call is answered, as Firehose answers only records it holds), and every `LAKE_FLUSH_SECONDS` turns
what it holds into Parquet, partitioned by (project, day), under the local lake (local/lake.py's ParquetLakeSink).
A spool is named once and its files after it, so a flush interrupted by a crash is done again into the same files.
Like Firehose it is at-least-once across the caller's retries; the readers deduplicate by event id.

Fault injection for the tests: `inject([True, False, …])` keeps or refuses (ServiceUnavailableException) the next
records one by one; records past the plan are kept.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS
from local.aws_json import AwsJsonHandler, serve_in_background
from local.lake import ParquetLakeSink

TIMESTAMP_COLUMNS = ("created_at", "received_at")


def _row(line: bytes) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(line)
    for column in TIMESTAMP_COLUMNS:
        if isinstance(row.get(column), int):
            row[column] = datetime.fromtimestamp(row[column] / 1000, UTC)
    return {name: row.get(name) for name, _ in (*EVENT_COLUMNS, *PARTITION_COLUMNS)}  # a missing column is null


class LocalFirehose:
    def __init__(self, lake: Path, flush_seconds: float) -> None:
        self.lake = lake
        self.flush_seconds = flush_seconds
        self._spool_dir = lake / "_firehose"
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._spool: Path | None = None
        self._plan: list[bool] = []
        self._sink = ParquetLakeSink(lake)

    def inject(self, plan: list[bool]) -> None:
        with self._lock:
            self._plan = list(plan)

    def put(self, records: list[bytes]) -> list[bool]:
        """Keep the records the fault plan does not refuse; True for each one kept."""
        with self._lock:
            answers = [self._plan.pop(0) if self._plan else True for _ in records]
            kept = [record for record, ok in zip(records, answers, strict=True) if ok]
            if kept:
                if self._spool is None:
                    self._spool = self._spool_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.jsonl"
                with self._spool.open("ab") as spool:
                    spool.write(b"".join(record if record.endswith(b"\n") else record + b"\n" for record in kept))
                    spool.flush()
                    os.fsync(spool.fileno())
        return answers

    def flush(self) -> int:
        """Every spool into Parquet (the current one is closed first); returns the rows written."""
        with self._lock:
            self._spool = None
        written = 0
        for spool in sorted(self._spool_dir.glob("*.jsonl")):
            rows = [_row(line) for line in spool.read_bytes().splitlines() if line.strip()]
            if rows:
                self._sink.write(rows, f"firehose-{spool.stem}")
            spool.unlink()
            written += len(rows)
        return written

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        firehose = self

        class Handler(AwsJsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                if target == "PutRecordBatch":
                    records = [base64.b64decode(record["Data"]) for record in body.get("Records", [])]
                    kept = firehose.put(records)
                    answer: dict[str, Any] = {
                        "FailedPutCount": kept.count(False),
                        "Encrypted": False,
                        "RequestResponses": [
                            {"RecordId": uuid.uuid4().hex}
                            if ok
                            else {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "injected"}
                            for ok in kept
                        ],
                    }
                    self._answer(200, answer)
                else:
                    self._answer(400, {"__type": "InvalidArgumentException", "message": f"not emulated: {target}"})

        return serve_in_background(Handler, port, "local-firehose")

    def run_flusher(self, stop: threading.Event) -> None:
        while not stop.wait(self.flush_seconds):
            self.flush()
        self.flush()
