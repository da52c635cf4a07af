"""The local lake: what Firehose, S3 and Athena do in AWS, done on this machine with DuckDB (docs/LAKE.md).

`make run` starts a `StreamPoller` beside the gateway: it reads the events table's stream from DynamoDB Local
(ListStreams, DescribeStream, GetShardIterator, GetRecords), hands each batch, in Lambda's event shape, to the
lake function's own `process_stream`, with a `ParquetLakeSink` in Firehose's place. The sink writes
`<lake>/events/project=<p>/day=<YYYY-MM-DD>/<batch key>.parquet`, the layout of the S3 lake, which DuckDB reads.

Exactly once: a batch is named by its shard and first sequence number, and the shard's checkpoint (the last
sequence number delivered) is saved only after its files are in place. A failed or interrupted delivery is read
again from the checkpoint: the same first record, the same name, so its files are replaced, never added to; the
retried batch holds at least the records of the failed one, so no partition keeps a stale file. The readers'
deduplication by event id (beacon/domain/lake_sql.py) covers what the local lake cannot: AWS's redeliveries.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS
from beacon.domain.lake_sql import LakeScope, with_lake_tables
from beacon.errors import DependencyUnavailableError
from local.template import ROOT

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


def load_lake_function() -> ModuleType:
    """functions/lake/app.py, imported as the local gateway imports functions (one warm container)."""
    name = "beacon_local_fn_LakeFunction"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAKE_FUNCTION)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {LAKE_FUNCTION}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class _Shard:
    iterator: str | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    oldest: float | None = None  # when the oldest buffered record was read
    closed: bool = False


class StreamPoller:
    """Lambda's event source mapping for the events table's stream, against DynamoDB Local."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        handler: Handler,
        checkpoints: Checkpoints,
        flush_after: float = DEFAULT_FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb = dynamodb
        self._streams = streams
        self._table = table_name
        self._handler = handler
        self._checkpoints = checkpoints
        self._flush_after = flush_after
        self._clock = clock
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

    def _read(self, shard_id: str, shard: _Shard) -> None:
        if shard.iterator is None:
            shard.iterator = self._iterator(shard_id)
        while shard.iterator is not None:
            try:
                answer = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
            except self._streams.exceptions.ExpiredIteratorException:
                shard.iterator = None
                shard.buffer.clear()
                shard.oldest = None
                shard.iterator = self._iterator(shard_id)
                continue
            records = answer.get("Records", [])
            shard.iterator = answer.get("NextShardIterator")
            if shard.iterator is None:
                shard.closed = True
            if not records:
                return
            if not shard.buffer:
                shard.oldest = self._clock()
            shard.buffer += records

    def _deliver(self, shard_id: str, shard: _Shard) -> int:
        records = [_lambda_record(record, self._stream()) for record in shard.buffer]
        answer = self._handler({"Records": records}, None)
        if answer.get("batchItemFailures"):
            # Read the batch again from the checkpoint: the same first record, the same files.
            shard.iterator, shard.closed = None, False
            shard.buffer, shard.oldest = [], None
            return 0
        self._checkpoints.save(shard_id, str(records[-1]["dynamodb"]["SequenceNumber"]))
        shard.buffer, shard.oldest = [], None
        return len(records)

    def poll_once(self, force: bool = False) -> int:
        """Read every shard; deliver what has waited `flush_after` seconds (everything with `force`). Returns the
        number of records delivered."""
        delivered = 0
        for shard_id in self._shard_ids():
            shard = self._shards.setdefault(shard_id, _Shard())
            if shard.closed and not shard.buffer:
                continue
            self._read(shard_id, shard)
            due = shard.oldest is not None and self._clock() - shard.oldest >= self._flush_after
            if shard.buffer and (force or due):
                delivered += self._deliver(shard_id, shard)
        return delivered

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
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


def start_lake(dynamodb: Any, streams: Any, table_name: str, root: Path) -> tuple[threading.Thread, threading.Event]:
    """The poller of `make run`, on a daemon thread; set the returned event to stop it."""
    sink = ParquetLakeSink(root)
    module = load_lake_function()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answer: dict[str, Any] = module.process_stream(event, sink)
        return answer

    poller = StreamPoller(
        dynamodb,
        streams,
        table_name,
        handler,
        Checkpoints(root / "_checkpoints" / f"{table_name}.json"),
        flush_after=flush_seconds(),
    )
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), name="lake-poller", daemon=True)
    thread.start()
    return thread, stop


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


def lake_query(root: Path, scope: LakeScope, query: str) -> str:
    """`query` (DuckDB SQL over `events` and `sessions`) against one project's part of the local lake."""
    return with_lake_tables(events_source(root, scope.project_id), scope, query)
