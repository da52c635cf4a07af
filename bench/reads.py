"""Read API benchmark: function time, read units and DynamoDB requests per page, against DynamoDB Local.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.reads [--events 100000]
Starts its own in-memory DynamoDB Local and Secrets Manager emulator (tables from template.yaml), loads one
project with --events events over 30 days (BatchWriteItem of items built by store.events.event_to_item) and
the profiles they name, then runs the read function's handler in-process on API Gateway proxy events and
measures, side by side in one run, the shard-reading strategies and the request kinds. Writes
bench/results/reads.json. ~1.5 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from beacon.domain.entities import Event, ProfileUpdate
from beacon.domain.ports import Readers
from beacon.store.dynamodb import item_size
from beacon.store.events import EVENT_SHARDS, event_to_item
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.reads import OVERFETCH, DynamoDBEntityReader, DynamoDBEventReader
from bench.report import machine, write_results
from local.gateway import LocalLambdaContext
from local.stack import LocalStack
from local.template import ROOT, FunctionSpec, read_template

EVENT_TEMPLATE = ROOT / "events" / "export_events.json"  # a read client's GET, as API Gateway hands it on
PROJECT = "bench"
PROFILES = 2_000
IDENTIFIED_PROFILES = 100
HEAVY_PROFILE = "heavy-user"  # ~1% of all events
NAMES: list[tuple[str, float]] = [("screen_view", 50), ("click", 20), ("scroll", 10), ("login", 6), ("search", 5)]
NAMES += [("add_to_cart", 4), ("checkout", 2), ("purchase", 1), ("refund", 0.2)]
PAGES = 40  # pages timed per variant
WARM_UP_ROUNDS = 10
LOAD_WORKERS = 32  # DynamoDB Local's JIT and the handler's caches warm up first


@dataclass(frozen=True)
class Variant:
    name: str
    path: str
    query: dict[str, str]
    resource: str = "/export/events"
    overfetch: float = OVERFETCH
    parallel: bool = True
    fast_items: bool = True


# -- the data ------------------------------------------------------------------------------------------------


def make_events(count: int, now: datetime, rng: random.Random) -> list[Event]:
    """Events like the track function stores them: enriched, a third with a profile, 30 days back from now."""
    names, weights = zip(*NAMES, strict=True)
    events = []
    for number in range(count):
        moment = now - timedelta(milliseconds=rng.randrange(30 * 24 * 3600 * 1000))
        roll = rng.random()
        profile = HEAVY_PROFILE if roll < 0.01 else (f"user-{rng.randrange(PROFILES)}" if roll < 0.33 else None)
        millis = int(moment.timestamp() * 1000)
        events.append(
            Event(
                id=f"{millis:012x}{rng.getrandbits(64):016x}",
                project_id=PROJECT,
                client_id="3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11",
                name=rng.choices(names, weights)[0],
                properties={
                    "path": f"/docs/page-{rng.randrange(300)}",
                    "title": "Getting started with Beacon",
                    "referrer": "https://www.google.com/",
                    "plan": rng.choice(["free", "pro", "team"]),
                    "n": number,
                },
                profile_id=profile,
                groups=None,
                device_id=f"{rng.getrandbits(128):032x}",
                session_id="6f9619ff-8b86-d011-b42d-00c04fc964ff",
                created_at=moment,
                received_at=now,  # the TTL (receipt + retention) lies in the future
                device={
                    "os": "Mac OS X",
                    "osVersion": "10.15.7",
                    "browser": "Chrome",
                    "browserVersion": "124.0.0",
                    "device": "desktop",
                    "brand": "Apple",
                    "model": "Mac",
                },
                geo={"country": "SE", "countryName": "Sweden", "city": "Stockholm", "timeZone": "Europe/Stockholm"},
            )
        )
    return events


def load(client: Any, table: str, events: list[Event]) -> float:
    """BatchWriteItem, 25 items a request, LOAD_WORKERS requests at a time; returns seconds."""
    items = [{"PutRequest": {"Item": event_to_item(event, retention_days=400)}} for event in events]
    batches = [items[start : start + 25] for start in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: batch}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=LOAD_WORKERS) as pool:
        list(pool.map(write, batches))
    return time.perf_counter() - started


def load_profiles(client: Any, table: str, now: datetime) -> None:
    """Some of the profiles behind the events, identified as the track function does, and an alias of one.
    (Not all: DynamoDB Local's writes to a hash-only table slow down as its database grows.)"""
    profiles = DynamoDBProfileStore(table, client=client)
    ids = [HEAVY_PROFILE, *(f"user-{number}" for number in range(IDENTIFIED_PROFILES))]

    def identify(profile_id: str) -> None:
        update = ProfileUpdate(
            profile_id, first_name="Ada", email=f"{profile_id}@example.com", properties={"plan": "pro"}
        )
        profiles.identify(PROJECT, update, now - timedelta(days=30))

    with ThreadPoolExecutor(max_workers=LOAD_WORKERS) as pool:
        list(pool.map(identify, ids))
    profiles.add_alias(PROJECT, "user-7", "alias-of-user-7", now)


# -- measuring -----------------------------------------------------------------------------------------------


class Capacity:
    """Counts Query/GetItem requests and their consumed read units on one client."""

    def __init__(self, client: Any) -> None:
        self.units = 0.0
        self.requests = 0
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._add)

    def _ask(self, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "GetItem"):
            self.requests += 1
            self.units += float((parsed.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))

    def take(self) -> tuple[float, int]:
        result = (self.units, self.requests)
        self.units, self.requests = 0.0, 0
        return result


def proxy_event(template: dict[str, Any], path: str, resource: str, query: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(template))
    event.update(path=path, resource=resource, queryStringParameters=query or None)
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()} or None
    event["requestContext"].update(resourcePath=resource, path=f"/v1{path}")
    event["requestContext"]["authorizer"]["projectId"] = PROJECT
    return event


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Powertools logs and metrics go to stdout; the benchmark's own report must stay readable."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        yield


class VariantRun:
    """One variant's reader and cursor, and what its pages measured."""

    def __init__(self, variant: Variant, stack: LocalStack, tables: dict[str, str]) -> None:
        self.variant = variant
        client = stack.boto3_client("dynamodb")  # its own: the hooks (capacity, fast items) touch no other variant
        self.capacity = Capacity(client)
        self.reader = DynamoDBEventReader(
            tables["EVENTS_TABLE"],
            client=client,
            overfetch=variant.overfetch,
            parallel=variant.parallel,
            fast_items=variant.fast_items,
        )
        self.readers = Readers(self.reader, DynamoDBEntityReader(tables["ENTITIES_TABLE"], client=client))
        self.cursor: str | None = None
        self.rows: list[tuple[float, float, float, int, int]] = []  # ms, store ms, read units, requests, events
        self._store_ms = 0.0
        for method in ("project_events", "profile_events", "profile_activity"):
            setattr(self.reader, method, self._timed(getattr(self.reader, method)))

    def _timed(self, method: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._store_ms += (time.perf_counter() - started) * 1000

        return timed

    def page(self, app: ModuleType, template: dict[str, Any], record: bool) -> None:
        capacity = self.capacity
        app.readers = lambda: self.readers  # type: ignore[attr-defined]  # the handler's cached default, swapped
        query = {**self.variant.query, **({"cursor": self.cursor} if self.cursor else {})}
        event = proxy_event(template, self.variant.path, self.variant.resource, query)
        capacity.take()
        self._store_ms = 0.0
        with quiet_logs():
            started = time.perf_counter()
            response = app.lambda_handler(event, LocalLambdaContext(FUNCTION))
            elapsed = (time.perf_counter() - started) * 1000
        assert response["statusCode"] == 200, response["body"]
        units, requests = capacity.take()
        body = json.loads(response["body"])
        meta = body.get("meta", {"count": 1, "next": None})
        self.cursor = meta["next"]  # None at the end of the range: the next page starts again from the newest
        if record:
            self.rows.append((elapsed, self._store_ms, units, requests, meta["count"]))

    def summary(self) -> dict[str, Any]:
        times = sorted(row[0] for row in self.rows)
        return {
            "pages": len(self.rows),
            "events_per_page": round(statistics.mean(row[4] for row in self.rows), 1),
            "ms_median": round(statistics.median(times), 1),
            "ms_p90": round(times[max(0, int(len(times) * 0.9) - 1)], 1),
            "ms_max": round(times[-1], 1),
            "store_ms_median": round(statistics.median(row[1] for row in self.rows), 1),
            "rcu_mean": round(statistics.mean(row[2] for row in self.rows), 2),
            "rcu_max": max(row[2] for row in self.rows),
            "requests_mean": round(statistics.mean(row[3] for row in self.rows), 2),
            "requests_max": max(row[3] for row in self.rows),
        }


FUNCTION: FunctionSpec = read_template().functions()["ReadFunction"]


def load_read_function(spec: FunctionSpec) -> ModuleType:
    """functions/read/app.py imported as its cold start would be (the environment is already in place)."""
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("beacon_bench_read_app", spec.module_path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def run(event_count: int) -> dict[str, Any]:
    started = time.perf_counter()
    stack = LocalStack(data_dir=None, log_dir=Path(tempfile.mkdtemp(prefix="beacon-bench-")))
    stack.start_services()
    try:
        template = read_template()
        stack.prepare(template)
        os.environ.update(stack.env)
        spec = template.functions()["ReadFunction"]
        os.environ.update(spec.environment)
        tables = spec.environment
        client = stack.boto3_client("dynamodb")
        now = datetime.now(UTC)
        events = make_events(event_count, now, random.Random(20261122))  # noqa: S311 - test data, not secrets
        load_seconds = load(client, tables["EVENTS_TABLE"], events)
        load_profiles(client, tables["ENTITIES_TABLE"], now)
        sizes = sorted(item_size(event_to_item(event, 400)) for event in events[:1000])

        app = load_read_function(spec)
        month = {"start": (now - timedelta(days=31)).isoformat(), "end": now.isoformat()}
        variants = [
            Variant("export 100, lazy parallel (default)", "/export/events", {**month, "limit": "100"}),
            Variant("export 100, lazy sequential", "/export/events", {**month, "limit": "100"}, parallel=False),
            Variant("export 100, botocore item parsing", "/export/events", {**month, "limit": "100"}, fast_items=False),
            Variant("export 100, overfetch 1.0", "/export/events", {**month, "limit": "100"}, overfetch=1.0),
            Variant("export 100, overfetch 1.5", "/export/events", {**month, "limit": "100"}, overfetch=1.5),
            Variant(
                "export 100, naive (Limit=100 per shard)",
                "/export/events",
                {**month, "limit": "100"},
                overfetch=EVENT_SHARDS,
            ),
            Variant("export 100, default last 24 h", "/export/events", {"limit": "100"}),
            Variant("export 1000", "/export/events", {**month, "limit": "1000"}),
            Variant("export 100, event=click (20%)", "/export/events", {**month, "limit": "100", "event": "click"}),
            Variant(
                "export 100, event=purchase (1%)", "/export/events", {**month, "limit": "100", "event": "purchase"}
            ),
            Variant(
                "profile events 100 (byProfile)",
                f"/profile/{HEAVY_PROFILE}/events",
                {**month, "limit": "100"},
                resource="/profile/{profileId}/events",
            ),
            Variant("GET /profile/{id}", "/profile/user-7", {}, resource="/profile/{profileId}"),
            Variant("GET /profile/{alias}", "/profile/alias-of-user-7", {}, resource="/profile/{profileId}"),
        ]
        runs = [VariantRun(variant, stack, tables) for variant in variants]
        template = json.loads(EVENT_TEMPLATE.read_text())
        # Round robin, one page of each variant per round, so drift (JIT, GC, the machine) hits them alike.
        for round_number in range(WARM_UP_ROUNDS + PAGES):
            for variant_run in runs:
                variant_run.page(app, template, record=round_number >= WARM_UP_ROUNDS)
        results = {variant_run.variant.name: variant_run.summary() for variant_run in runs}
        default = results[variants[0].name]
        naive = results["export 100, naive (Limit=100 per shard)"]
        ratios = {
            "sequential_over_parallel_time": round(
                results["export 100, lazy sequential"]["ms_median"] / default["ms_median"], 2
            ),
            "botocore_over_fast_items_time": round(
                results["export 100, botocore item parsing"]["ms_median"] / default["ms_median"], 2
            ),
            "naive_over_lazy_rcu": round(naive["rcu_mean"] / default["rcu_mean"], 2),
            "naive_over_lazy_time": round(naive["ms_median"] / default["ms_median"], 2),
        }
        return {
            "machine": machine(),
            "events": event_count,
            "load_seconds": round(load_seconds, 1),
            "item_bytes_median": sizes[len(sizes) // 2],
            "per_page": results,
            "ratios": ratios,
            "note": "DynamoDB Local reports Query read units as AWS bills eventually consistent reads "
            "(0.5 per started 4 KB, per request); ms = the read handler's wall time per page, in-process.",
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    results = run(parser.parse_args().events)
    print(
        f"{results['events']} events loaded in {results['load_seconds']} s "
        f"(median item {results['item_bytes_median']} bytes), "
        f"{results['machine']}"
    )
    print(f"{'per page':44} {'ms med':>7} {'p90':>7} {'max':>7} {'store':>6} {'RCU':>6} {'reqs':>5} {'events':>6}")
    for name, row in results["per_page"].items():
        print(
            f"  {name:42} {row['ms_median']:7.1f} {row['ms_p90']:7.1f} {row['ms_max']:7.1f} "
            f"{row['store_ms_median']:6.1f} {row['rcu_mean']:6.1f} {row['requests_mean']:5.1f} "
            f"{row['events_per_page']:6.0f}"
        )
    ratios = results["ratios"]
    print(
        f"ratios: sequential/parallel time {ratios['sequential_over_parallel_time']}×, "
        f"botocore/fast item parsing time {ratios['botocore_over_fast_items_time']}×, "
        f"naive/lazy read units {ratios['naive_over_lazy_rcu']}×, naive/lazy time {ratios['naive_over_lazy_time']}×"
    )
    print(f"total {results['seconds']} s")
    print(f"written to {write_results('reads', results)}")


if __name__ == "__main__":
    main()
