"""Session reaper and session cost benchmark (issue 17), against DynamoDB Local.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.sessions [--live 100000]
Starts its own in-memory DynamoDB Local (tables from template.yaml), loads --live live sessions (device items as
the track function writes them, spread over the last 20 minutes: not due) plus --ending sessions idle past the
timeout, and times one reaper run with the capacity DynamoDB reports; then the same with a tenth of the live
sessions, side by side: the ratio says whether the run's cost depends on the sessions stored (target: it must
not). Also measures one session's whole cost (start, record, end) in write units. Writes bench/results/sessions.json.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from beacon.config import ReaperSettings, TrackSettings
from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.domain.sessions import SESSION_TIMEOUT, idle_bucket, reap_sessions
from beacon.models.requests import parse_track_request
from beacon.store.events import isoformat_ms
from beacon.store.factory import reaper_store, track_stores
from beacon.store.sessions import bucket_value
from bench.cost import price
from bench.report import machine, print_ratios, write_results
from local.capacity import CapacityRecorder
from local.stack import LocalStack
from local.template import read_template
from tests.unit.support.fakes import UNIT_TEST_ENRICHER

PROJECT = "bench"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def session_item(tag: str, index: int, last_seen: datetime) -> dict[str, Any]:
    pk = f"{PROJECT}#{tag}-{index}"
    seen = isoformat_ms(last_seen)
    return {
        "pk": {"S": pk},
        "sessionId": {"S": f"s-{tag}-{index}"},
        "clientId": {"S": "c"},
        "startedAt": {"S": seen},
        "lastSeenAt": {"S": seen},
        "firstEventAt": {"S": seen},
        "lastEventAt": {"S": seen},
        "eventCount": {"N": "3"},
        "screenViews": {"N": "2"},
        "revenue": {"N": "0"},
        "exitPath": {"S": "/pricing"},
        "idleBucket": {"S": bucket_value(pk, idle_bucket(last_seen))},
        "expiresAt": {"N": str(int((last_seen + timedelta(days=1)).timestamp()))},
    }


def load(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    def write(group: list[dict[str, Any]]) -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in group]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))


def reaper_run(
    stack: LocalStack, env: dict[str, str], live: int, ending: int, tag: str, now: datetime
) -> dict[str, Any]:
    loader = stack.boto3_client("dynamodb")
    table = env["SESSIONS_TABLE"]
    # live sessions over the last 20 minutes (not due), ending ones all in one minute past the timeout
    live_items = [session_item(f"{tag}-live", i, now - timedelta(seconds=(i % 1200))) for i in range(live)]
    due = now - SESSION_TIMEOUT - timedelta(minutes=2)
    ending_items = [session_item(f"{tag}-end", i, due) for i in range(ending)]
    started = time.perf_counter()
    load(loader, table, live_items + ending_items)
    loaded = time.perf_counter() - started
    client = stack.boto3_client("dynamodb")
    capacity = CapacityRecorder(client)
    store = reaper_store(ReaperSettings.from_env(env), client)
    store.mark_reaped(idle_bucket(due) - 1)  # the previous run's cursor: a run every minute
    capacity.take()
    started = time.perf_counter()
    outcome = reap_sessions(store, now, SESSION_TIMEOUT)
    seconds = time.perf_counter() - started
    requests = capacity.requests
    read_units, write_units = capacity.take()
    return {
        "live": live,
        "ending": ending,
        "ended": outcome.ended,
        "buckets": outcome.buckets,
        "seconds": round(seconds, 2),
        "load_seconds": round(loaded, 1),
        "read_units": read_units,
        "write_units": write_units,
        "requests": float(requests),
    }


def session_cost(stack: LocalStack, env: dict[str, str]) -> dict[str, float]:
    client = stack.boto3_client("dynamodb")
    capacity = CapacityRecorder(client)
    stores = track_stores(TrackSettings.from_env(env), client)
    caller = Caller(PROJECT, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    # before the reaper runs' minutes (the cursor only moves on), early in a minute: both events in one index bucket
    now = (datetime.now(UTC) - timedelta(hours=5)).replace(second=10, microsecond=0)

    def send(at: datetime) -> None:
        body = json.dumps({"type": "track", "payload": {"name": "screen_view", "properties": {"__path": "/a"}}})
        meta = RequestMeta("r", "203.0.113.9", BROWSER)  # a server agent's events open no session (DESIGN.md §49)
        ingest(parse_track_request(body), RequestContext(caller, meta, at), stores, UNIT_TEST_ENRICHER)

    stores.projects.get_filters(PROJECT)
    capacity.take()
    send(now)
    _, start_writes = capacity.take()
    send(now + timedelta(seconds=5))
    _, steady_writes = capacity.take()
    store = reaper_store(ReaperSettings.from_env(env), client)
    store.mark_reaped(idle_bucket(now) - 1)
    capacity.take()
    reap_sessions(store, now + SESSION_TIMEOUT + timedelta(minutes=2), SESSION_TIMEOUT)
    end_reads, end_writes = capacity.take()
    return {
        "start_write_units": start_writes,
        "steady_event_write_units": steady_writes,
        "end_write_units": end_writes,
        "end_read_units": end_reads,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=20_000)
    parser.add_argument("--ending", type=int, default=1_000)
    args = parser.parse_args()
    stack = LocalStack()
    stack.start_services()
    try:
        stack.prepare(read_template())
        functions = read_template().functions()
        # the track function's settings (the session's events) and the reaper's (its timeout, its tables)
        env = {**functions["TrackFunction"].environment, **functions["ReaperFunction"].environment}
        now = datetime.now(UTC).replace(microsecond=0)
        cost = session_cost(stack, env)
        small = reaper_run(stack, env, args.live // 10, args.ending, "small", now)
        # the large run's minutes must be its own: an hour later, its cursor just before its ending minute
        large = reaper_run(stack, env, args.live, args.ending, "large", now + timedelta(hours=1))
    finally:
        stack.stop()
    ratio = large["read_units"] / max(small["read_units"], 1e-9)
    write_ratio = large["write_units"] / max(small["write_units"], 1e-9)
    # What a session adds to its events' own writes: its first event's extra units (session_start, the index entry)
    # and its end (per ended session of the large run: transaction, index delete, record and its index entry).
    start_extra = cost["start_write_units"] - cost["steady_event_write_units"]
    end_per_session = large["write_units"] / max(large["ended"], 1)
    reads_per_session = large["read_units"] / max(large["ended"], 1)
    local_wru = start_extra + end_per_session
    # AWS bills each item of a transaction twice, DynamoDB Local once: 3 items more at the start and at the end.
    aws_wru = local_wru + 3 + 3
    ratios = [
        {
            "name": f"reaper read units, {args.live:,} vs {args.live // 10:,} live sessions",
            "value": ratio,
            "target": "<= 1.1",
            "met": ratio <= 1.1,
            "detail": f"{large['read_units']:.1f} vs {small['read_units']:.1f} RRU for {args.ending} ending",
        },
        {
            "name": f"reaper write units, {args.live:,} vs {args.live // 10:,} live sessions",
            "value": write_ratio,
            "target": "<= 1.1",
            "met": write_ratio <= 1.1,
        },
    ]
    results = {
        "machine": machine(),
        "runs": [small, large],
        "session_cost": cost,
        "write_units_per_session_local": local_wru,
        "write_units_per_session_aws": aws_wru,
        "read_units_per_session": reads_per_session,
        "usd_per_million_sessions_aws": round(
            (aws_wru * price("dynamodb_write_request_unit") + reads_per_session * price("dynamodb_read_request_unit"))
            * 1e6,
            2,
        ),
        "ratios": ratios,
    }
    print(json.dumps({k: v for k, v in results.items() if k != "ratios"}, indent=2))
    print_ratios(ratios)
    write_results("sessions", results)


if __name__ == "__main__":
    main()
