"""The local lake: what Lambda's event source mapping, Firehose, S3 and Athena do in AWS, done on this machine.

`make run` starts, beside the gateway:
- a `StreamPoller`, the event source mapping: it reads the events table's stream from DynamoDB Local
  (DescribeStream, GetShardIterator, GetRecords) and invokes the lake function's own `lambda_handler` with each
  batch in Lambda's event shape, moving the shard's checkpoint only after a batch succeeded;
- a local Firehose (local/firehose.py), which the function's PutRecordBatch reaches through
  AWS_ENDPOINT_URL_FIREHOSE: it spools the rows durably and, every LAKE_FLUSH_SECONDS, writes them with
  `ParquetLakeSink` as `<lake>/events/project=<p>/day=<YYYY-MM-DD>/<name>.parquet`, the S3 lake's layout.
DuckDB reads those files (`events_source`, `lake_query`); `beacon query` and the insights use them.

Exactly once, as queried: a delivery is retried whole until it succeeds (at least once), a spool is named once
so an interrupted flush rewrites the same files, and the readers keep one row per event id
(beacon/domain/lake_sql.py), as they do on Athena over Firehose's output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS
from beacon.domain.lake_sql import LakeScope, with_lake_tables
from beacon.errors import DependencyUnavailableError
from local.template import ROOT, import_function

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "array<string>": "VARCHAR[]",
}
DEFAULT_FLUSH_SECONDS = 10.0
LAKE_FUNCTION = ROOT / "functions" / "lake" / "app.py"


def lake_dir(state_dir: Path) -> Path:
    """Where the local lake is: BEACON_LAKE_DIR, else `lake/` in the local stack's state directory."""
    return Path(os.environ.get("BEACON_LAKE_DIR", state_dir / "lake"))


def flush_seconds() -> float:
    return float(os.environ.get("LAKE_FLUSH_SECONDS", DEFAULT_FLUSH_SECONDS))


def _file_name(batch_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", batch_key) + ".parquet"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # UTC, naive: DuckDB's TIMESTAMP
    return value


def _columns_spec() -> str:
    columns = [*EVENT_COLUMNS, *PARTITION_COLUMNS]
    return "{" + ", ".join(f"'{name}': '{DUCKDB_TYPES[kind]}'" for name, kind in columns) + "}"


@dataclass
class ParquetLakeSink:
    """Firehose's part locally: rows → one Parquet file per (project, day) partition and batch."""

    root: Path

    def write(self, rows: list[dict[str, Any]], batch_key: str) -> None:
        import duckdb

        events = self.root / "events"
        events.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            lines = staging / "rows.json"
            with lines.open("w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
            written = staging / "out"
            with duckdb.connect() as connection:
                connection.execute(
                    f"COPY (SELECT * FROM read_json('{lines}', format = 'newline_delimited', "
                    f"columns = {_columns_spec()})) TO '{written}' "
                    "(FORMAT parquet, PARTITION_BY (project, day), FILENAME_PATTERN 'part{i}', COMPRESSION zstd)"
                )
            for produced in written.glob("project=*/day=*/*.parquet"):
                target = events / produced.parent.parent.name / produced.parent.name / _file_name(batch_key)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(produced, target)  # atomic: a reader sees the old file or the new one
        except (OSError, duckdb.Error) as exc:
            raise DependencyUnavailableError(f"the local lake could not be written ({exc})") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@dataclass
class Checkpoints:
    """Per shard, the last sequence number delivered to the lake; saved atomically after each delivery."""

    path: Path
    shards: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.path.exists():
            self.shards = dict(json.loads(self.path.read_text()).get("shards", {}))

    def save(self, shard_id: str, sequence_number: str) -> None:
        self.shards[shard_id] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"shards": self.shards}))
        os.replace(temporary, self.path)


def load_lake_function(environment: dict[str, str] | None = None) -> ModuleType:
    """functions/lake/app.py, imported as the local gateway imports functions (one warm container), under the
    template's environment for it."""
    loaded = sys.modules.get("beacon_local_fn_LakeFunction")
    if loaded is not None:
        return loaded
    os.environ.update(environment or {})
    return import_function("LakeFunction", LAKE_FUNCTION)


Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class _Shard:
    iterator: str | None = None
    closed: bool = False


class StreamPoller:
    """Lambda's event source mapping for the events table's stream, against DynamoDB Local: each poll hands what
    a shard holds, as one batch, to the lake function, and moves the shard's checkpoint past the batch only when
    the function reports no failure. Its stream reads are the lake function's (they use its role in AWS), so the
    IAM check sees them."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        handler: Handler,
        checkpoints: Checkpoints,
        batch_size: int = 1000,
    ) -> None:
        self._dynamodb = dynamodb
        self._streams = streams
        self._table = table_name
        self._handler = handler
        self._checkpoints = checkpoints
        self._batch_size = batch_size
        self._shards: dict[str, _Shard] = {}
        self._stream_arn: str | None = None

    def _stream(self) -> str:
        if self._stream_arn is None:
            arn = self._dynamodb.describe_table(TableName=self._table)["Table"].get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"table {self._table} has no stream: template.yaml must enable it")
            self._stream_arn = str(arn)
        return self._stream_arn

    def _shard_ids(self) -> list[str]:
        ids, start = [], None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self._stream()}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            ids += [shard["ShardId"] for shard in description["Shards"]]
            start = description.get("LastEvaluatedShardId")
            if not start:
                return ids

    def _iterator(self, shard_id: str) -> str:
        after = self._checkpoints.shards.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self._stream(), "ShardId": shard_id}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _read(self, shard_id: str, shard: _Shard) -> list[dict[str, Any]]:
        if shard.iterator is None:
            shard.iterator = self._iterator(shard_id)
        records: list[dict[str, Any]] = []
        while shard.iterator is not None and len(records) < self._batch_size:
            try:
                answer = self._streams.get_records(ShardIterator=shard.iterator, Limit=self._batch_size)
            except self._streams.exceptions.ExpiredIteratorException:
                shard.iterator = self._iterator(shard_id)
                records = []
                continue
            except self._streams.exceptions.TrimmedDataAccessException:
                # The checkpoint is older than the stream's 24 hours: what it missed is gone from the stream too.
                print(f"lake poller: {shard_id} was trimmed past its checkpoint", file=sys.stderr, flush=True)
                self._checkpoints.shards.pop(shard_id, None)
                shard.iterator = self._iterator(shard_id)
                records = []
                continue
            shard.iterator = answer.get("NextShardIterator")
            shard.closed = shard.iterator is None
            if not answer.get("Records"):
                break
            records += answer["Records"]
        return records

    def poll_once(self) -> int:
        """One batch per shard to the function; returns the number of records it took."""
        from local.aws_calls import acting_as

        delivered = 0
        self._stream()  # the mapping is configured with the stream's ARN: finding it is no call of the function's
        with acting_as("LakeFunction"):
            for shard_id in self._shard_ids():
                shard = self._shards.setdefault(shard_id, _Shard())
                if shard.closed:
                    continue
                records = self._read(shard_id, shard)
                if not records:
                    continue
                answer = self._handler({"Records": [_lambda_record(record, self._stream()) for record in records]})
                if answer.get("batchItemFailures"):
                    # Deliver the batch again from the checkpoint (bisecting is not emulated).
                    shard.iterator, shard.closed = None, False
                    continue
                self._checkpoints.save(shard_id, str(records[-1]["dynamodb"]["SequenceNumber"]))
                delivered += len(records)
        return delivered

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the poller outlives a passing fault and says so
                print(f"lake poller: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                self._shards.clear()
            stop.wait(interval)


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda's event source mapping delivers it."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record.get("eventID"),
        "eventName": record["eventName"],
        "eventSource": "aws:dynamodb",
        "eventSourceARN": stream_arn,
        "dynamodb": change,
    }


class LocalLakeContext:
    """What the lake function reads of Lambda's context."""

    function_name = "LakeFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:LakeFunction"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def lake_handler(environment: dict[str, str]) -> Handler:
    """The lake function's own lambda_handler, as the event source mapping invokes it."""
    module = load_lake_function(environment)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = module.lambda_handler(event, LocalLakeContext())
        return answer

    return invoke


@dataclass
class LocalLake:
    """`make run`'s lake: the local Firehose (server and flusher) and the stream poller, on daemon threads."""

    root: Path
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    servers: list[Any] = field(default_factory=list)

    def start(
        self, dynamodb: Any, streams: Any, table_name: str, environment: dict[str, str], firehose_port: int = 0
    ) -> None:
        """`firehose_port`: 0 for a free one."""
        from local.firehose import LocalFirehose

        # The poller hands records on within its 0.5 s interval; Firehose's buffer takes the rest of the interval.
        firehose = LocalFirehose(self.root, max(1.0, flush_seconds() - 1.0))
        server = firehose.serve(firehose_port)
        self.servers.append(server)
        os.environ["AWS_ENDPOINT_URL_FIREHOSE"] = f"http://127.0.0.1:{server.server_address[1]}"
        poller = StreamPoller(
            dynamodb,
            streams,
            table_name,
            lake_handler(environment),
            Checkpoints(self.root / "_checkpoints" / f"{table_name}.json"),
        )
        for name, target in (("lake-poller", poller.run), ("lake-flusher", firehose.run_flusher)):
            thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        for server in self.servers:
            server.shutdown()


# -- reading the local lake ---------------------------------------------------------------------------------------


def _empty_events() -> str:
    columns = [*EVENT_COLUMNS, *PARTITION_COLUMNS]
    return (
        "(SELECT "
        + ", ".join(f"CAST(NULL AS {DUCKDB_TYPES[kind]}) AS {name}" for name, kind in columns)
        + " WHERE false)"
    )


def events_source(root: Path, project_id: str) -> str:
    """The raw events of one project as DuckDB reads them: only that project's partition directory."""
    scope = LakeScope(project_id)  # validates the id: it is a path segment here
    directory = root / "events" / f"project={scope.project_id}"
    if not any(directory.glob("day=*/*.parquet")):
        return _empty_events()
    pattern = str(directory / "day=*" / "*.parquet").replace("'", "''")
    # The partition columns come from the path, as Athena's partition projection gives them.
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true, "
        "hive_types = {'project': 'VARCHAR', 'day': 'VARCHAR'})"
    )


def all_events_source(root: Path) -> str:
    """Every project's raw events, as Athena sees the Glue table (a query must filter on `project` itself)."""
    if not any((root / "events").glob("project=*/day=*/*.parquet")):
        return _empty_events()
    pattern = str(root / "events" / "project=*" / "day=*" / "*.parquet").replace("'", "''")
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true, "
        "hive_types = {'project': 'VARCHAR', 'day': 'VARCHAR'})"
    )


@dataclass
class DuckDBLakeReader:
    """The insights' LakeReader on the local lake (tests, the bench): each query in a fresh in-memory DuckDB."""

    root: Path

    def source(self) -> str:
        return all_events_source(self.root)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        import duckdb

        with duckdb.connect() as connection:
            result = connection.execute(sql)
            columns = [column[0] for column in result.description or []]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def lake_query(root: Path, scope: LakeScope, query: str) -> str:
    """`query` (DuckDB SQL over `events` and `sessions`) against one project's part of the local lake."""
    return with_lake_tables(events_source(root, scope.project_id), scope, query)
