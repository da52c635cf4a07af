"""Ingestion benchmark: POST /track one event at a time against POST /track/batch, side by side in one run,
and the write units each costs per event.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.ingest
Starts its own DynamoDB Local (in memory), Secrets Manager emulator and local gateway on free ports and stops
them at the end (a running `make run` is never touched). Throughput is measured over HTTP through the gateway,
the authorizer and the track function; write units are measured in-process with ReturnConsumedCapacity, as
tests/integration/test_write_costs.py does, and modelled as AWS bills them. Writes bench/results/ingest.json.
Takes about a minute and a half.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beacon.config import TrackSettings
from beacon.domain.auth import create_client
from beacon.domain.batch import ingest_batch
from beacon.domain.enrich import Enricher
from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.models.requests import parse_track_request
from beacon.store.clients import SecretsManagerClientStore, read_client_id_key
from beacon.store.dynamodb import item_size
from beacon.store.events import EVENT_SHARDS
from beacon.store.factory import track_stores
from bench.report import machine, write_results
from local.stack import LocalStack, free_port
from local.template import read_template
from tests.unit.support.batches import batch_of

ROUNDS = 5
SINGLE_EVENTS_PER_ROUND = 100
BATCH_SIZE = 1000
IN_PROCESS_SINGLE_EVENTS = 300
UNITS_BATCH_SIZE = 100
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
KB = 1024


# -- HTTP ---------------------------------------------------------------------------------------------------
def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def new_client(stack: LocalStack, template_env: dict[str, str], project_id: str) -> dict[str, str]:
    """A write client with a usage plan of its own, generous enough that the gateway never throttles the bench."""
    secretsmanager = stack.boto3_client("secretsmanager")
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)
    id_key = read_client_id_key(template_env["CLIENT_ID_KEY_SECRET"], secretsmanager)
    record, secret = create_client(
        project_id, ClientType.WRITE, datetime.now(UTC), rate=100_000, burst=100_000, id_key=id_key
    )
    store.put_client(record)
    return {
        "Content-Type": "application/json",
        "openpanel-client-id": record.client_id,
        "openpanel-client-secret": secret,
        "User-Agent": USER_AGENT,
    }


def event(name: str, n: int) -> dict[str, Any]:
    """A typical SDK event, distinct from every other (no double-send suppression)."""
    return {"type": "track", "payload": {"name": name, "properties": {"n": n, "path": f"/docs/{n}", "plan": "pro"}}}


def count_events(dynamodb: Any, table: str, project_id: str) -> int:
    """Stored events of a project (session_start included), counted over every write shard."""
    total = 0
    for shard in range(EVENT_SHARDS):
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{project_id}#{shard}"}},
            "Select": "COUNT",
        }
        while True:
            page = dynamodb.query(**query)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return total


@dataclass
class Timing:
    """What one way of sending took, added up over the rounds."""

    events: int = 0
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def send(self, url: str, body: str, headers: dict[str, str], events: int) -> None:
        sent = time.perf_counter()
        status, answer = post(url, body, headers)
        elapsed = time.perf_counter() - sent
        if status != 200 or (isinstance(answer, dict) and answer.get("accepted", events) != events):
            raise RuntimeError(f"POST {url} answered {status}: {str(answer)[:300]}")
        self.events += events
        self.requests += 1
        self.seconds += elapsed
        self.latencies.append(elapsed)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(self.events_per_second, 1),
            "median_ms_per_request": round(statistics.median(self.latencies) * 1000, 1),
        }


def measure_throughput(url: str, single_headers: dict[str, str], batch_headers: dict[str, str]) -> dict[str, Any]:
    """Rounds of (events one by one, then one batch), so both ways meet the same machine load."""
    single, batched = Timing(), Timing()
    round_ratios = []
    for r in range(ROUNDS):
        before = (single.events, single.seconds, batched.events, batched.seconds)
        for n in range(r * SINGLE_EVENTS_PER_ROUND, (r + 1) * SINGLE_EVENTS_PER_ROUND):
            single.send(f"{url}/track", json.dumps(event("page_view", n)), single_headers, 1)
        items = [event("page_view", r * BATCH_SIZE + i) for i in range(BATCH_SIZE)]
        batched.send(f"{url}/track/batch", json.dumps({"batch": items}), batch_headers, BATCH_SIZE)
        single_rate = (single.events - before[0]) / (single.seconds - before[1])
        batch_rate = (batched.events - before[2]) / (batched.seconds - before[3])
        round_ratios.append(round(batch_rate / single_rate, 2))
    return {
        "track_one_by_one": single.summary(),
        f"track_batch_of_{BATCH_SIZE}": batched.summary(),
        "batch_over_single_events_per_second": round(batched.events_per_second / single.events_per_second, 2),
        "batch_over_single_per_round": round_ratios,
        "batch_over_single_median_of_rounds": statistics.median(round_ratios),
    }


def measure_in_process(stores: Stores, project_id: str) -> dict[str, Any]:
    """The same comparison without HTTP, the gateway or the authorizer: the domain on DynamoDB Local alone."""
    enricher = Enricher(stack_secret=lambda: b"bench-stack-secret")
    caller = Caller(project_id, str(uuid.uuid4()), ClientType.WRITE, True)
    meta = RequestMeta("bench", "203.0.113.7", USER_AGENT)
    started = time.perf_counter()
    for n in range(IN_PROCESS_SINGLE_EVENTS):
        request = parse_track_request(json.dumps(event("page_view", n)))
        ingest(request, RequestContext(caller, meta, datetime.now(UTC)), stores, enricher)
    single_seconds = time.perf_counter() - started
    items = [event("page_view", IN_PROCESS_SINGLE_EVENTS + i) for i in range(BATCH_SIZE)]
    started = time.perf_counter()
    batch = batch_of(items, "batch#in-process")
    outcome = ingest_batch(batch, RequestContext(caller, meta, datetime.now(UTC)), stores, enricher)
    batch_seconds = time.perf_counter() - started
    if len(outcome.results) != BATCH_SIZE:
        raise RuntimeError(f"batch stored {len(outcome.results)} of {BATCH_SIZE}")
    single_rate, batch_rate = IN_PROCESS_SINGLE_EVENTS / single_seconds, BATCH_SIZE / batch_seconds
    return {
        "ingest_one_by_one_events_per_second": round(single_rate, 1),
        f"ingest_batch_of_{BATCH_SIZE}_events_per_second": round(batch_rate, 1),
        "batch_over_single_events_per_second": round(batch_rate / single_rate, 2),
    }


# -- write units ----------------------------------------------------------------------------------------------
class CapacityRecorder:
    """Adds up, for every call of one client, the capacity DynamoDB Local reports (ReturnConsumedCapacity) and
    the write units AWS would bill for the same successful writes (1 WCU per started KB of item, twice that
    inside a transaction). Updates are billed as 1 KB: the only items Beacon updates here are session items,
    about 250 bytes."""

    READS = frozenset({"GetItem", "Query", "BatchGetItem", "Scan"})

    def __init__(self, client: Any) -> None:
        self.read = self.write = self.aws_write = 0.0
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._add)

    def _ask(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context["bench_params"] = params

    def _add(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            units = float(entry.get("CapacityUnits", 0))
            if model.name in self.READS:
                self.read += units
            else:
                self.write += units
        params = context.get("bench_params", {})
        if http_response.status_code == 200 or model.name in ("PutItem", "UpdateItem"):  # failed conditions bill too
            self.aws_write += aws_write_units(model.name, params)
        if model.name == "BatchWriteItem":  # unprocessed items are not billed (they are sent, and billed, again)
            self.aws_write -= aws_write_units(model.name, {"RequestItems": parsed.get("UnprocessedItems") or {}})

    def take(self) -> dict[str, float]:
        taken = {"read": self.read, "write": self.write, "aws_write": self.aws_write}
        self.read = self.write = self.aws_write = 0.0
        return taken


def aws_write_units(operation: str, params: dict[str, Any]) -> float:
    def units(item: dict[str, Any] | None) -> int:
        return math.ceil(item_size(item) / KB) if item else 1

    if operation == "PutItem":
        return units(params["Item"])
    if operation == "UpdateItem":
        return 1
    if operation == "TransactWriteItems":
        return sum(2 * units(action["Put"]["Item"]) if "Put" in action else 2 for action in params["TransactItems"])
    if operation == "BatchWriteItem":
        return sum(units(w["PutRequest"]["Item"]) for ws in params["RequestItems"].values() for w in ws)
    return 0


def measure_units(stack: LocalStack, template_env: dict[str, str]) -> dict[str, Any]:
    client = stack.boto3_client("dynamodb")  # its own client: the hooks touch nothing else
    recorder = CapacityRecorder(client)
    stores = track_stores(TrackSettings.from_env(template_env), client)
    enricher = Enricher(stack_secret=lambda: b"bench-stack-secret")
    project_id = f"bench-units-{uuid.uuid4().hex[:8]}"
    caller = Caller(project_id, str(uuid.uuid4()), ClientType.WRITE, True)
    meta = RequestMeta("bench", "203.0.113.7", USER_AGENT)

    def track(n: int, **extra: Any) -> None:
        body = event("page_view", n)
        body["payload"]["properties"].update(extra)
        ingest(parse_track_request(json.dumps(body)), RequestContext(caller, meta, datetime.now(UTC)), stores, enricher)

    def per_event(count: int, run: Callable[[], None]) -> dict[str, float]:
        recorder.take()
        run()
        taken = recorder.take()
        return {key: round(value / count, 2) for key, value in taken.items()}

    # Steady state: the device's session is running and the project's settings are cached.
    track(0)
    items = [event("page_view", 1000 + i) for i in range(UNITS_BATCH_SIZE)]

    def batch() -> None:
        context = RequestContext(caller, meta, datetime.now(UTC))
        outcome = ingest_batch(batch_of(items, "batch#bench"), context, stores, enricher)
        if len(outcome.results) != UNITS_BATCH_SIZE:
            raise RuntimeError(f"batch stored {len(outcome.results)} of {UNITS_BATCH_SIZE}")

    return {
        "track_one_event": per_event(1, lambda: track(1)),
        "track_one_event_with___id": per_event(1, lambda: track(2, __id=uuid.uuid4().hex)),
        f"batch_of_{UNITS_BATCH_SIZE}_per_event": per_event(UNITS_BATCH_SIZE, batch),
        f"batch_of_{UNITS_BATCH_SIZE}_resent_per_event": per_event(UNITS_BATCH_SIZE, batch),
    }


# -- the run ----------------------------------------------------------------------------------------------------
def run() -> dict[str, Any]:
    started = time.perf_counter()
    template = read_template()
    functions = template.functions()
    template_env = {**functions["TrackFunction"].environment, **functions["AuthorizerFunction"].environment}
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as logs:
        stack = LocalStack(data_dir=None, log_dir=Path(logs))
        try:
            stack.start_services()
            stack.prepare(template)
            port = free_port()
            stack.start_gateway(port)
            url = f"http://127.0.0.1:{port}"
            dynamodb = stack.boto3_client("dynamodb")

            # Warm both routes (imports, the authorizer's client cache, the UA parser) before timing anything.
            warm = new_client(stack, template_env, "bench-warm")
            for n in range(5):
                post(f"{url}/track", json.dumps(event("warm_up", n)), warm)
            post(f"{url}/track/batch", json.dumps({"batch": [event("warm_up", n) for n in range(50)]}), warm)

            single_project, batch_project = "bench-single", "bench-batch"
            throughput = measure_throughput(
                url,
                new_client(stack, template_env, single_project),
                new_client(stack, template_env, batch_project),
            )
            # Every event stored once (plus its device's one session_start).
            for name, project in (
                ("track_one_by_one", single_project),
                (f"track_batch_of_{BATCH_SIZE}", batch_project),
            ):
                throughput[name]["stored"] = count_events(dynamodb, template_env["EVENTS_TABLE"], project)
            in_stores = track_stores(TrackSettings.from_env(template_env), dynamodb)
            in_process = measure_in_process(in_stores, "bench-in-process")
            units = measure_units(stack, template_env)
        finally:
            stack.stop()
    return {
        "machine": machine(),
        "backend": "DynamoDB Local (in memory) through the local gateway, sequential client",
        "throughput": throughput,
        "in_process_domain": in_process,
        "write_units_per_event": units,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    results = run()
    throughput = results["throughput"]
    single, batched = throughput["track_one_by_one"], throughput[f"track_batch_of_{BATCH_SIZE}"]
    print(f"POST /track one by one : {single['events_per_second']:>8} events/s  ({single['events']} events)")
    print(f"POST /track/batch      : {batched['events_per_second']:>8} events/s  ({batched['events']} events)")
    print(
        f"batch / single         : {throughput['batch_over_single_events_per_second']}x"
        f"  (per round: {throughput['batch_over_single_per_round']},"
        f" median {throughput['batch_over_single_median_of_rounds']}x)"
    )
    in_process = results["in_process_domain"]
    print(
        f"in-process (no HTTP)   : {in_process['ingest_one_by_one_events_per_second']} events/s one by one, "
        f"{in_process[f'ingest_batch_of_{BATCH_SIZE}_events_per_second']} events/s batched "
        f"({in_process['batch_over_single_events_per_second']}x)"
    )
    print("write units per event  : DynamoDB Local reports (read, write) | AWS would bill (write)")
    for name, units in results["write_units_per_event"].items():
        print(f"  {name:<32} read {units['read']:<5} write {units['write']:<5} | AWS write {units['aws_write']}")
    print(f"written to {write_results('ingest', results)}")


if __name__ == "__main__":
    main()
