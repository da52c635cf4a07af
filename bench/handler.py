"""The track function and the authorizer against their floors, in-process, on DynamoDB Local (issue 8, §2 and §6).

§2 End to end: events/s through the track function's handler (``lambda_handler`` of functions/track/app.py with
the authorizer's context in the proxy event, the real stores, DynamoDB Local), against the same number of bare
boto3 ``put_item`` calls of an item of the same size on the same table layout: the item is a copy of an event
the handler stored, under a fresh sort key. Rounds alternate the two so machine noise hits both; the ratio is
the median of the rounds' ratios. A single event costs the handler two calls (the session's conditional update,
then the event's put) against the floor's one, so 0.5x is the most a single-event handler could reach with
DynamoDB's latency dominating; batches (``/track/batch``) are reported beside it.

§6 Authorizer: function time per request with a warm client cache (the client's record in the container's
memory) against a cold one (the client's first request to this container: one GetSecretValue to the Secrets
Manager emulator, then the hash check). Each round creates fresh clients; the first call of each is cold, the
second warm.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.handler
Starts its own DynamoDB Local (in memory) and Secrets Manager emulator on free ports and stops them at the end.
Writes bench/results/handler.json. Takes about a minute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beacon.domain.auth import create_client
from beacon.domain.entities import Caller, ClientType
from beacon.gateway.authorizer_context import caller_to_context
from beacon.store.clients import SecretsManagerClientStore, read_client_id_key
from beacon.store.dynamodb import item_size
from beacon.store.events import EVENT_SHARDS
from bench.ingest import event
from bench.report import machine, print_ratios, ratio, write_results
from local.gateway import LocalFunction
from local.stack import LocalStack
from local.template import read_template

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7
EVENTS_PER_ROUND = 60
BATCH_SIZE = 50
BATCHES_PER_ROUND = 2
AUTH_CLIENTS_PER_ROUND = 8
DEVICES = [
    (
        f"203.0.113.{10 + n}",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/13{n}.0.0.0 Safari/537.36",
    )
    for n in range(10)
]


class LogBytes:
    """What the functions print per request: their structured logs and EMF metrics, which CloudWatch Logs
    ingests (and bills) in Lambda. Counted here instead of shown on the terminal."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            yield
        self.bytes += len(printed.getvalue().encode())
        self.requests += 1

    def per_request(self) -> float:
        return self.bytes / max(self.requests, 1)


TRACK_LOGS, BATCH_LOGS, AUTHORIZER_LOGS = LogBytes(), LogBytes(), LogBytes()


def proxy_event(template: dict[str, Any], caller: Caller, body: str, path: str, n: int) -> dict[str, Any]:
    """events/track.json with this caller's authorizer context, a device of the pool and a body."""
    ip, agent = DEVICES[n % len(DEVICES)]
    proxy = copy.deepcopy(template)
    proxy["resource"] = proxy["path"] = path
    proxy["requestContext"]["resourcePath"] = path
    proxy["requestContext"]["requestId"] = f"bench-{uuid.uuid4().hex}"
    proxy["requestContext"]["identity"]["sourceIp"] = ip
    proxy["requestContext"]["authorizer"] = {**caller_to_context(caller), "principalId": caller.client_id}
    headers = {"Content-Type": "application/json", "User-Agent": agent, "X-Forwarded-For": ip}
    proxy["headers"] = headers
    proxy["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
    proxy["body"] = body
    proxy["isBase64Encoded"] = False
    return proxy


def invoke(function: LocalFunction, proxy: dict[str, Any], events: int) -> None:
    with (TRACK_LOGS if events == 1 else BATCH_LOGS).quiet():
        response = function.invoke(proxy)
    answer = json.loads(response["body"])
    if response["statusCode"] != 200 or (events > 1 and len(answer.get("results", [])) != events):
        raise RuntimeError(f"{proxy['path']} answered {response['statusCode']}: {response['body'][:300]}")


def stored_item(dynamodb: Any, table: str, project_id: str) -> dict[str, Any]:
    """One event item exactly as the handler stored it (not a session_start)."""
    for shard in range(EVENT_SHARDS):
        page = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{project_id}#{shard}"}},
        )
        for item in page["Items"]:
            if item.get("name", {}).get("S") == "page_view":
                return dict(item)
    raise RuntimeError(f"no stored event for {project_id}")


def measure_track(
    track: LocalFunction, dynamodb: Any, template: dict[str, Any], table: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    project_id = f"bench-handler-{uuid.uuid4().hex[:8]}"
    caller = Caller(project_id, str(uuid.uuid4()), ClientType.WRITE, True)
    counter = iter(range(10**9))

    def single() -> None:
        n = next(counter)
        invoke(track, proxy_event(template, caller, json.dumps(event("page_view", n)), "/track", n), 1)

    def batch() -> None:
        n = next(counter)
        body = json.dumps({"batch": [event("page_view", next(counter)) for _ in range(BATCH_SIZE)]})
        invoke(track, proxy_event(template, caller, body, "/track/batch", n), BATCH_SIZE)

    # Steady state: every device's session running, the project's settings cached, the UA parses cached.
    for _ in range(2 * len(DEVICES)):
        single()
    batch()
    item = stored_item(dynamodb, table, project_id)
    bare_project = f"bench-bare-{uuid.uuid4().hex[:8]}"

    def bare() -> None:
        copied = dict(item)
        n = next(counter)
        copied["pk"] = {"S": f"{bare_project}#{n % EVENT_SHARDS}"}
        copied["sk"] = {"S": f"{datetime.now(UTC).isoformat(timespec='milliseconds')}#{uuid.uuid4().hex}"}
        dynamodb.put_item(TableName=table, Item=copied)

    sessions_table = os.environ["SESSIONS_TABLE"]

    def bare_pair() -> None:
        """The floor of the same work: the two calls a single event needs, without anything around them."""
        dynamodb.update_item(
            TableName=sessions_table,
            Key={"pk": {"S": f"{bare_project}#device"}},
            UpdateExpression="SET lastSeenAt = :now",
            ExpressionAttributeValues={":now": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")}},
            ReturnValues="ALL_NEW",
        )
        bare()

    handler_rates, bare_rates, pair_rates, batch_rates, round_ratios = [], [], [], [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(EVENTS_PER_ROUND):
            single()
        handler_rates.append(EVENTS_PER_ROUND / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(EVENTS_PER_ROUND):
            bare()
        bare_rates.append(EVENTS_PER_ROUND / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(EVENTS_PER_ROUND):
            bare_pair()
        pair_rates.append(EVENTS_PER_ROUND / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(BATCHES_PER_ROUND):
            batch()
        batch_rates.append(BATCHES_PER_ROUND * BATCH_SIZE / (time.perf_counter() - started))
        round_ratios.append(handler_rates[-1] / bare_rates[-1])
    batch_ratios = [b / p for b, p in zip(batch_rates, bare_rates, strict=True)]
    pair_ratios = [h / p for h, p in zip(handler_rates, pair_rates, strict=True)]
    results = {
        "batch_size": BATCH_SIZE,
        "item_bytes": item_size(item),
        "handler_single_events_per_second": round(statistics.median(handler_rates), 1),
        f"handler_batch_of_{BATCH_SIZE}_events_per_second": round(statistics.median(batch_rates), 1),
        "log_bytes_per_single_request": round(TRACK_LOGS.per_request()),
        f"log_bytes_per_batch_of_{BATCH_SIZE}": round(BATCH_LOGS.per_request()),
        "handler_single_ms_per_request": round(1000 / statistics.median(handler_rates), 3),
        f"handler_batch_of_{BATCH_SIZE}_ms_per_request": round(BATCH_SIZE * 1000 / statistics.median(batch_rates), 3),
        "bare_put_item_per_second": round(statistics.median(bare_rates), 1),
        "bare_update_and_put_per_second": round(statistics.median(pair_rates), 1),
        "single_over_bare_per_round": [round(r, 3) for r in round_ratios],
        "batch_over_bare_per_round": [round(r, 3) for r in batch_ratios],
    }
    ratios = [
        ratio(
            "track handler single events/s / bare put_item/s",
            statistics.median(round_ratios),
            0.5,
            ">=",
            f"{results['handler_single_events_per_second']} vs {results['bare_put_item_per_second']} per s,"
            f" item {results['item_bytes']} B, median of {ROUNDS} rounds",
        ),
        ratio(
            "track handler single events/s / bare update_item+put_item/s",
            statistics.median(pair_ratios),
            0.8,
            ">=",
            f"the same two calls bare: {results['bare_update_and_put_per_second']} per s (our own target: the"
            " handler's work beside its two DynamoDB calls costs at most a quarter of them)",
        ),
        ratio(
            f"track handler batch of {BATCH_SIZE} events/s / bare put_item/s",
            statistics.median(batch_ratios),
            0.5,
            ">=",
            f"{results[f'handler_batch_of_{BATCH_SIZE}_events_per_second']} events/s (reported beside the target)",
        ),
    ]
    return results, ratios


def authorizer_event(template: dict[str, Any], client_id: str, secret: str) -> dict[str, Any]:
    request = copy.deepcopy(template)
    request["headers"]["openpanel-client-id"] = client_id
    request["headers"]["openpanel-client-secret"] = secret
    request["multiValueHeaders"]["openpanel-client-id"] = [client_id]
    request["multiValueHeaders"]["openpanel-client-secret"] = [secret]
    return request


def timed_authorize(authorizer: LocalFunction, request: dict[str, Any]) -> float:
    started = time.perf_counter()
    with AUTHORIZER_LOGS.quiet():
        policy = authorizer.invoke(request)
    elapsed = time.perf_counter() - started
    if policy["policyDocument"]["Statement"][0]["Effect"] != "Allow":
        raise RuntimeError(f"authorizer refused a valid client: {policy}")
    return elapsed


def measure_authorizer(
    authorizer: LocalFunction, store: SecretsManagerClientStore, id_key: bytes, template: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(ROUNDS):
        requests = []
        for _ in range(AUTH_CLIENTS_PER_ROUND):
            record, secret = create_client("bench-auth", ClientType.WRITE, datetime.now(UTC), id_key=id_key)
            store.put_client(record)
            requests.append(authorizer_event(template, record.client_id, secret))
        for request in requests:
            cold.append(timed_authorize(authorizer, request))
            warm.append(timed_authorize(authorizer, request))
    cold_ms, warm_ms = statistics.median(cold) * 1000, statistics.median(warm) * 1000
    results = {
        "cold_cache_median_ms": round(cold_ms, 3),
        "warm_cache_median_ms": round(warm_ms, 3),
        "log_bytes_per_request": round(AUTHORIZER_LOGS.per_request()),
    }
    detail = f"warm {warm_ms:.2f} ms vs cold {cold_ms:.2f} ms per request ({len(cold)} clients)"
    return results, [ratio("authorizer warm cache / cold cache time", warm_ms / cold_ms, 1, "<=", detail)]


def run() -> dict[str, Any]:
    started = time.perf_counter()
    template = read_template()
    functions = template.functions()
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as logs:
        stack = LocalStack(data_dir=None, log_dir=Path(logs))
        try:
            stack.start_services()
            stack.prepare(template)
            saved = dict(os.environ)
            os.environ.update(stack.env)
            os.environ.update(functions["TrackFunction"].environment)
            os.environ.update(functions["AuthorizerFunction"].environment)
            try:
                track = LocalFunction(functions["TrackFunction"])
                authorizer = LocalFunction(functions["AuthorizerFunction"])
                dynamodb = stack.boto3_client("dynamodb")
                track_template = json.loads((ROOT / "events" / "track.json").read_text())
                auth_template = json.loads((ROOT / "events" / "authorizer.json").read_text())
                secretsmanager = stack.boto3_client("secretsmanager")
                store = SecretsManagerClientStore(
                    os.environ["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager
                )
                id_key = read_client_id_key(os.environ["CLIENT_ID_KEY_SECRET"], secretsmanager)
                track_results, track_ratios = measure_track(track, dynamodb, track_template, os.environ["EVENTS_TABLE"])
                auth_results, auth_ratios = measure_authorizer(authorizer, store, id_key, auth_template)
            finally:
                os.environ.clear()
                os.environ.update(saved)
        finally:
            stack.stop()
    return {
        "machine": machine(),
        "backend": "DynamoDB Local (in memory) and the Secrets Manager emulator, in-process handlers",
        "track": track_results,
        "authorizer": auth_results,
        "ratios": track_ratios + auth_ratios,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    results = run()
    track, auth = results["track"], results["authorizer"]
    print(f"track handler, end to end on DynamoDB Local ({results['machine']})")
    print(f"  single events       {track['handler_single_events_per_second']:>8} events/s")
    print(f"  batches of {BATCH_SIZE:<8} {track[f'handler_batch_of_{BATCH_SIZE}_events_per_second']:>8} events/s")
    print(f"  bare put_item       {track['bare_put_item_per_second']:>8} items/s ({track['item_bytes']} B item)")
    print(f"authorizer: cold cache {auth['cold_cache_median_ms']} ms, warm cache {auth['warm_cache_median_ms']} ms")
    print_ratios(results["ratios"])
    print(f"total {results['seconds']} s, written to {write_results('handler', results)}")


if __name__ == "__main__":
    main()
