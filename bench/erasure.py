"""What erasing one person costs (issue 21), measured against DynamoDB Local and a local lake in one run:

- a profile with 10,000 events (one alias; 4 devices; 10 days) plus 1,000 anonymous events on its devices (the link
  rule), among 10,000 events of 100 other profiles and 1,000 of other anonymous devices in the same project; the lake
  holds the same 22,000 rows, one Parquet file per day (zstd); a session per device and day, each with its
  ended-session record, and the person's 40 sessions each recorded in 5 replay chunks of 16 KB (S3 object + index
  item), beside one chunk of each of the other profiles' sessions;
- the erasure through the same registry the CLI runs (beacon/store/erasure.py, admin/lake_erasure.py), every
  DynamoDB call asked for `ReturnConsumedCapacity=TOTAL` (index writes included), summed per store, and every S3
  request counted per store;
- ratios: write units per erased item (target <= 2: one for the table, one for the byProfile index; a session record
  or a replay index item is one), S3 requests per erased replay chunk (one DeleteObjects a session), read units per
  erased event (target <= 1; the link rule's shard queries read the project's hot events, keys and filter
  attributes, 4 KB a unit), lake bytes moved (read + written) per byte of the project's lake (target <= 2.1: every
  file is read, the files holding the person are written again), and what a second run costs (target 0 writes).

Prices to apply (us-east-1, on demand): $0.625 per million write units, $0.125 per million read units; S3 GET
$0.0004 and PUT $0.005 per 1,000 requests, plus the bytes read if across regions (none in the same region).

Run: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.erasure   (in make bench). Writes bench/results/erasure.json.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from admin.lake_erasure import DirectoryLakeFiles, ParquetLakeEraser
from beacon.domain.entities import Event, ProfileUpdate
from beacon.domain.erasure import ErasureRequest, run_erasure, start_erasure
from beacon.domain.lake import event_row
from beacon.domain.replays import ReplayChunk
from beacon.domain.sessions import SessionRecord
from beacon.store.dynamodb import deserialize_item
from beacon.store.erasure import DynamoDBErasureLog, DynamoDBScopeResolver, ErasureTables, dynamodb_erasers
from beacon.store.events import event_to_item
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.replays import S3ReplayStore
from beacon.store.sessions import record_item
from bench.report import machine, print_ratios, ratio, write_results
from local.lake import ParquetLakeSink
from local.stack import LocalStack
from local.template import read_template

PROJECT = "bench-erasure"
PERSON_EVENTS = 10_000
LINKED_ANONYMOUS = 1_000
OTHER_EVENTS = 10_000
OTHER_ANONYMOUS = 1_000
DAYS = 10
CHUNKS_PER_PERSON_SESSION = 5
CHUNK_PAYLOAD = "[" + ",".join(['{"type":3,"data":{"source":2,"x":120,"y":480},"timestamp":1764000000000}'] * 220) + "]"
START = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 12, 2, tzinfo=UTC)
CAPACITY_OPERATIONS = {"Query", "Scan", "GetItem", "PutItem", "DeleteItem", "BatchWriteItem", "UpdateItem"}


class CapacityMeter:
    """Asks every DynamoDB call for its consumed capacity and sums it per store (the eraser running now)."""

    def __init__(self, client: Any) -> None:
        self.store = "setup"
        self.read: dict[str, float] = defaultdict(float)
        self.write: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.s3_requests: dict[str, int] = defaultdict(int)
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._add)

    def watch_s3(self, s3: Any) -> None:
        s3.meta.events.register("after-call.s3.*", self._add_s3)

    def _add_s3(self, model: Any, **_: Any) -> None:
        self.s3_requests[f"{self.store}: {model.name}"] += 1

    def totals(self) -> dict[str, dict[str, float]]:
        return {
            "read": dict(self.read),
            "write": dict(self.write),
            "calls": {k: float(v) for k, v in self.calls.items()},
            "s3_requests": {k: float(v) for k, v in self.s3_requests.items()},
        }

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[self.store] += 1
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units = float(entry.get("CapacityUnits", 0))
            # DynamoDB Local reports write and read units in CapacityUnits alone: a write call's are write units.
            if model.name in {"PutItem", "DeleteItem", "BatchWriteItem", "UpdateItem"}:
                self.write[self.store] += units
            else:
                self.read[self.store] += units


class MeteredEraser:
    def __init__(self, inner: Any, meter: CapacityMeter) -> None:
        self.inner, self.meter, self.name = inner, meter, inner.name

    def erase(self, scope: Any) -> Any:
        self.meter.store = self.name
        yield from self.inner.erase(scope)

    def count(self, scope: Any) -> int:
        return int(self.inner.count(scope))


def _event(number: int, device: str, profile: str | None) -> Event:
    created = START + timedelta(seconds=number * (DAYS * 86400 // (PERSON_EVENTS + OTHER_EVENTS)))
    return Event(
        id=f"{int(created.timestamp() * 1000):012x}{uuid.uuid4().hex[:16]}",
        project_id=PROJECT,
        client_id="bench-client",
        name="screen_view",
        properties={"plan": "pro", "n": number},
        profile_id=profile,
        groups=None,
        device_id=device,
        session_id=f"session-{device}-{(created - START).days}",  # a session per device and day
        created_at=created,
        received_at=created,
        path="/pricing",
        geo={"country": "DE", "city": "Berlin"},
        device={"os": "Android", "browser": "Chrome"},
    )


def session_records(events: list[Event]) -> list[dict[str, Any]]:
    """The ended-session record item of each session of `events` (store/sessions.py record_item)."""
    sessions: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        sessions[event.session_id].append(event)
    records = []
    for session_id, members in sessions.items():
        first, last = min(e.created_at for e in members), max(e.created_at for e in members)
        record = SessionRecord(
            project_id=PROJECT,
            device_id=members[0].device_id,
            session_id=session_id,
            client_id="bench-client",
            started_at=first,
            last_seen_at=last,
            first_event_at=first,
            last_event_at=last,
            entry_path="/pricing",
            exit_path="/pricing",
            event_count=len(members),
            screen_view_count=len(members),
            profile_id=next((e.profile_id for e in members if e.profile_id), None),
            ended_at=last + timedelta(minutes=30),
        )
        records.append(record_item(record, int((NOW + timedelta(days=400)).timestamp())))
    return records


def put_replays(replays: S3ReplayStore, events: list[Event]) -> int:
    """Replay chunks: 5 of each of the person's sessions, 1 of each other session; the person's chunk count."""
    person = 0
    for session_id in sorted({event.session_id for event in events}):
        chunks = CHUNKS_PER_PERSON_SESSION if session_id.startswith("session-person-") else 1
        person += chunks if chunks > 1 else 0
        for index in range(chunks):
            started = NOW - timedelta(days=1) + timedelta(seconds=index * 10)
            replays.put_chunk(
                ReplayChunk(PROJECT, session_id, index, 220, index == 0, started, started, CHUNK_PAYLOAD, NOW)
            )
    return person


def populate(dynamodb: Any, env: dict[str, str], lake: Path, replays: S3ReplayStore) -> int:
    profiles = DynamoDBProfileStore(env["ENTITIES_TABLE"], dynamodb)
    profiles.identify(PROJECT, ProfileUpdate("person", email="person@example.com"), NOW)
    profiles.add_alias(PROJECT, "person", "person-old", NOW)
    events: list[Event] = []
    for n in range(PERSON_EVENTS):
        events.append(_event(n * 2, f"person-device-{n % 4}", "person" if n % 10 else "person-old"))
    for n in range(LINKED_ANONYMOUS):
        events.append(_event(n * 20 + 1, f"person-device-{n % 4}", None))
    for n in range(OTHER_EVENTS):
        events.append(_event(n * 2 + 1, f"other-device-{n % 100}", f"other-{n % 100}"))
    for n in range(OTHER_ANONYMOUS):
        events.append(_event(n * 20 + 3, f"anon-device-{n % 50}", None))
    items = [event_to_item(event, 35) for event in events]
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(
            RequestItems={env["EVENTS_TABLE"]: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        )
    for device in range(4):
        dynamodb.put_item(
            TableName=env["SESSIONS_TABLE"],
            Item={"pk": {"S": f"{PROJECT}#person-device-{device}"}, "sessionId": {"S": f"s{device}"}},
        )
    records = session_records(events)
    for start in range(0, len(records), 25):
        dynamodb.batch_write_item(
            RequestItems={
                env["SESSIONS_TABLE"]: [{"PutRequest": {"Item": item}} for item in records[start : start + 25]]
            }
        )
    put_replays(replays, events)
    rows = [event_row(deserialize_item(item)) for item in items]
    ParquetLakeSink(lake).write(rows, "bench")
    return sum(path.stat().st_size for path in (lake / "events").rglob("*.parquet"))


def run() -> dict[str, Any]:
    started = time.perf_counter()
    template = read_template()
    env = template.functions()["TrackFunction"].environment
    with tempfile.TemporaryDirectory(prefix="beacon-bench-erasure-") as work:
        stack = LocalStack(data_dir=None, log_dir=Path(work) / "logs")
        try:
            stack.start_services()
            stack.prepare(template)
            dynamodb = stack.boto3_client("dynamodb")
            s3 = stack.boto3_client("s3")
            lake_root = Path(work) / "lake"
            replays = S3ReplayStore(env["REPLAYS_TABLE"], env["REPLAY_BUCKET"], dynamodb, s3)
            lake_bytes = populate(dynamodb, env, lake_root, replays)
            tables = ErasureTables(
                env["EVENTS_TABLE"],
                env["ENTITIES_TABLE"],
                env["SESSIONS_TABLE"],
                env["REJECTED_EVENTS_TABLE"],
                env["REPLAYS_TABLE"],
                env["REPLAY_BUCKET"],
            )
            meter = CapacityMeter(dynamodb)
            meter.watch_s3(s3)
            lake = ParquetLakeEraser(DirectoryLakeFiles(lake_root))
            erasers = [MeteredEraser(e, meter) for e in [*dynamodb_erasers(tables, dynamodb, s3), lake]]
            log = DynamoDBErasureLog(tables.entities, dynamodb)
            meter.store = "scope"
            resolver = DynamoDBScopeResolver(tables.entities, tables.events, dynamodb)
            timer = time.perf_counter()
            receipt = start_erasure(ErasureRequest(PROJECT, "person"), resolver, log, NOW)
            done = run_erasure(receipt, erasers, log, lambda: NOW)
            seconds = time.perf_counter() - timer
            first = meter.totals()
            lake_moved = lake.bytes_read + lake.bytes_written
            lake_read, lake_written = lake.bytes_read, lake.bytes_written
            # A second request of the same erasure: its receipt, nothing else.
            for totals in (meter.read, meter.write, meter.calls, meter.s3_requests):
                totals.clear()
            meter.store = "second run"
            again = run_erasure(
                start_erasure(ErasureRequest(PROJECT, "person"), resolver, log, NOW), erasers, log, lambda: NOW
            )
            second = meter.totals()
        finally:
            stack.stop()
    erased_events = done.counts["events"]
    erased_items = sum(count for name, count in done.counts.items() if name != "lake")
    write_units = sum(first["write"].values())
    read_units = sum(first["read"].values())
    replay_requests = sum(count for name, count in first["s3_requests"].items() if name.startswith("replays:"))
    ratios = [
        ratio(
            "DynamoDB write units per erased item",
            write_units / erased_items,
            2.0,
            "<=",
            f"{write_units:.0f} WRU for {erased_items} items",
        ),
        ratio(
            "DynamoDB read units per erased event",
            read_units / erased_events,
            1.0,
            "<=",
            f"{read_units:.0f} RRU for {erased_events} events (scope, index, link rule, receipts)",
        ),
        ratio(
            "lake bytes moved per byte of the project's lake",
            lake_moved / lake_bytes,
            2.1,
            "<=",
            f"read {lake_read:,} + written {lake_written:,} of {lake_bytes:,} bytes",
        ),
        ratio(
            "S3 requests per erased replay chunk",
            replay_requests / max(1, done.counts.get("replays", 0)),
            1.0,
            "<=",
            f"{replay_requests:.0f} DeleteObjects for {done.counts.get('replays', 0)} chunks (one a session)",
        ),
        ratio(
            "write units of a second request",
            sum(second["write"].values()),
            0.0,
            "<=",
            "the same receipt, nothing written",
        ),
    ]
    return {
        "machine": machine(),
        "backend": "DynamoDB Local (in memory), local lake (DuckDB over Parquet files)",
        "person": {
            "events": PERSON_EVENTS,
            "linked_anonymous_events": LINKED_ANONYMOUS,
            "devices": 4,
            "days": DAYS,
            "sessions": done.counts.get("sessionRecords", 0),
            "replay_chunks": done.counts.get("replays", 0),
            "replay_chunk_bytes": len(CHUNK_PAYLOAD),
        },
        "others_in_project": {"events": OTHER_EVENTS, "anonymous_events": OTHER_ANONYMOUS},
        "receipt": done.counts,
        "same_receipt_again": again == done,
        "first_run": first,
        "second_run": second,
        "lake": {"project_bytes": lake_bytes, "bytes_read": lake_read, "bytes_written": lake_written},
        "erasure_seconds_local": round(seconds, 1),
        "cost_usd": round(write_units * 0.625e-6 + read_units * 0.125e-6, 6),
        "ratios": ratios,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    results = run()
    print(f"erasure of a profile with {PERSON_EVENTS:,} events: removed {results['receipt']}")
    for phase in ("first_run", "second_run"):
        print(f"  {phase}: read units {results[phase]['read']}, write units {results[phase]['write']}")
    print(f"  S3 requests: {results['first_run']['s3_requests']}")
    print(f"  lake: {results['lake']}; DynamoDB cost ${results['cost_usd']}")
    print_ratios(results["ratios"])
    print(f"wrote {write_results('erasure', results)}")


if __name__ == "__main__":
    main()
