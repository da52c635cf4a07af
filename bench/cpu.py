"""Per-event CPU of the track function against its floor (issue 8, measurement 1).

The track function's real ``lambda_handler`` (functions/track/app.py) runs in-process on API Gateway REST proxy
events that carry the authorizer's context, with every store faked in memory (tests/unit/support/fakes.py, wired as the
unit tests wire them). The mix (bench/mix.py) is a fixed, seeded set of requests: mostly ``track`` with varied
properties, some identify/increment/decrement/group/assign_group/alias, some ``/track/batch`` of 20-50 events,
over the 100 real user agents of tests/unit/enrich/test_useragent.py, varied IPs and CloudFront viewer headers.

The floor is the same requests' bodies through ``json.loads`` and the pydantic models the handler validates
them with (TRACK_REQUEST_ADAPTER; for a batch BATCH_REQUEST_ADAPTER, then TRACK_REQUEST_ADAPTER per item),
nothing else. Both run over the same inputs in alternating rounds after a warm-up; a request's CPU time
(process_time_ns, so a batch's worker threads count) is divided by its events, each event is one sample, and
the figure is the median over the rounds of each round's median. The first request of a fresh function (cold
caches: the user-agent parser and bot matcher are built then) and the sizes of the stored events' DynamoDB items
(1 write unit per started KB) are reported beside it, as information.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.cpu [--profile [--kind batch]]
``--profile`` runs the mix under cProfile instead and prints the top functions by own and cumulative time.
Writes bench/results/cpu.json. Takes about 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import pytest

from beacon.domain import concurrency
from beacon.domain.ports import Stores
from beacon.gateway.body import decode_body
from beacon.gateway.track_bodies import parse_track
from beacon.models.requests import BATCH_REQUEST_ADAPTER, TRACK_REQUEST_ADAPTER
from beacon.store.dynamodb import item_size
from beacon.store.events import event_to_item
from beacon.text import well_formed_json
from bench.mix import MixRequest, build_mix, proxy_event
from bench.report import machine, print_ratios, ratio, write_results
from tests.unit.support.fakes import FakeEventStore, FakeSessionStore
from tests.unit.support.handlers import FakeLambdaContext, load_track_function, wire_track_function

ROUNDS = 11
TARGET = 3.0
KB = 1024
RETENTION_DAYS = 400
T = TypeVar("T")


@dataclass
class TrackFunction:
    module: ModuleType
    stores: Stores
    context: FakeLambdaContext

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.module.lambda_handler(event, self.context)
        return response

    def forget_repeats(self) -> None:
        """Between rounds: the mix is sent again, so its idempotency keys and double-send fingerprints are
        forgotten (a repeat would take the cheaper duplicate path); sessions stay, as for returning visitors."""
        events = self.stores.events
        sessions = self.stores.sessions
        assert isinstance(events, FakeEventStore) and isinstance(sessions, FakeSessionStore)
        events.claims.clear()
        events.events.clear()
        sessions.fingerprints.clear()


def load() -> TrackFunction:
    module = load_track_function()
    wire_track_function(module, pytest.MonkeyPatch())  # never undone: the bench owns this module
    return TrackFunction(module, module.stores(), FakeLambdaContext())


def floor(request: MixRequest) -> None:
    """What any implementation must do with the body: parse it and validate it with the same models."""
    raw = json.loads(request.body)
    if request.batch:
        for item in BATCH_REQUEST_ADAPTER.validate_python(raw).batch:
            with contextlib.suppress(ValueError):  # pydantic's ValidationError: only that item is rejected
                TRACK_REQUEST_ADAPTER.validate_python(item)
    else:
        TRACK_REQUEST_ADAPTER.validate_python(raw)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Powertools prints each invocation's metrics (EMF) to stdout; the writes still happen, to /dev/null."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def events_median(samples: list[tuple[float, int]]) -> float:
    """The median per-event cost when a request of k events counts as k events of cost/k each."""
    ordered = sorted(samples)
    total = sum(weight for _, weight in ordered)
    seen = 0
    for value, weight in ordered:
        seen += weight
        if seen * 2 >= total:
            return value
    raise ValueError("no samples")


@dataclass
class Round:
    """One pass over the mix: (µs per event, events) for each request."""

    samples: list[tuple[float, int]]

    def median(self, keep: Callable[[int], bool] = lambda events: True) -> float:
        return events_median([(value, events) for value, events in self.samples if keep(events)])

    def mean(self) -> float:
        return sum(value * events for value, events in self.samples) / sum(events for _, events in self.samples)


def timed(work: Callable[[Any], object], inputs: list[Any], requests: list[MixRequest]) -> Round:
    samples = []
    clock = time.process_time_ns
    for argument, request in zip(inputs, requests, strict=True):
        started = clock()
        work(argument)
        samples.append(((clock() - started) / 1000 / request.events, request.events))
    return Round(samples)


def check_answers(function: TrackFunction, requests: list[MixRequest]) -> tuple[dict[int, int], list[int]]:
    """Run the mix once and check every answer is the one the mix expects (no duplicates, no errors);
    the answers' statuses and the sizes of the DynamoDB items of the events it stored."""
    statuses: dict[int, int] = {}
    for index, request in enumerate(requests):
        response = function.invoke(proxy_event(request, index))
        status = int(response["statusCode"])
        statuses[status] = statuses.get(status, 0) + 1
        if status != request.expected_status:
            raise RuntimeError(f"request {index} ({request.kind}) answered {status}: {response['body'][:300]}")
        if request.batch and json.loads(response["body"])["accepted"] != request.events:
            raise RuntimeError(f"batch {index} was not wholly accepted: {response['body'][:300]}")
    events = function.stores.events
    assert isinstance(events, FakeEventStore)
    sent = sum(request.tracked for request in requests)
    stored = sum(1 for event in events.events if event.name != "session_start")
    if stored != sent:
        raise RuntimeError(f"{sent} track events sent but {stored} stored: repeats were taken for duplicates")
    sizes = sorted(item_size(event_to_item(event, RETENTION_DAYS)) for event in events.events)
    function.forget_repeats()
    return statuses, sizes


def first_request_us(function: TrackFunction, request: MixRequest) -> float:
    started = time.process_time_ns()
    function.invoke(proxy_event(request, 0))
    return (time.process_time_ns() - started) / 1000


def measure(rounds: int) -> dict[str, Any]:
    requests = build_mix()
    function = load()
    with quiet():
        cold_us = first_request_us(function, requests[0])  # caches empty: the UA parser and bot matcher build now
        function.forget_repeats()
        statuses, sizes = check_answers(function, requests)  # warm-up, and proof that every request did its work
        handler_rounds: list[Round] = []
        floor_rounds: list[Round] = []
        bodies = list(requests)
        for number in range(rounds):
            events = [proxy_event(request, index) for index, request in enumerate(requests)]
            gc.collect()
            passes: list[tuple[list[Round], Callable[[Any], object], list[Any]]] = [
                (handler_rounds, function.invoke, events),
                (floor_rounds, floor, bodies),
            ]
            for kept, work, inputs in passes if number % 2 == 0 else passes[::-1]:
                kept.append(timed(work, inputs, requests))
            function.forget_repeats()

    def summary(kept: list[Round], keep: Callable[[int], bool] = lambda events: True) -> float:
        return statistics.median(one.median(keep) for one in kept)

    handler, floor_us = summary(handler_rounds), summary(floor_rounds)
    single = summary(handler_rounds, lambda events: events == 1), summary(floor_rounds, lambda events: events == 1)
    batched = summary(handler_rounds, lambda events: events > 1), summary(floor_rounds, lambda events: events > 1)
    handler_mean = statistics.median(one.mean() for one in handler_rounds)
    floor_mean = statistics.median(one.mean() for one in floor_rounds)
    mix = {kind: sum(1 for request in requests if request.kind == kind) for kind in sorted({r.kind for r in requests})}
    parser = parser_overhead(requests)
    added = parser["envelope_us"] - parser["direct_us"]
    return {
        "machine": machine(),
        "rounds": rounds,
        "requests": len(requests),
        "events": sum(request.events for request in requests),
        "mix": mix,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "handler_us_per_event": round(handler, 2),
        "floor_us_per_event": round(floor_us, 2),
        "single_requests_us": {"handler": round(single[0], 2), "floor": round(single[1], 2)},
        "batched_us_per_event": {"handler": round(batched[0], 2), "floor": round(batched[1], 2)},
        "mean_us_per_event": {"handler": round(handler_mean, 2), "floor": round(floor_mean, 2)},
        "first_request_us": round(cold_us, 1),
        "body_parser_us": parser,
        "event_item_bytes": {
            "median": statistics.median(sizes),
            "p95": sizes[int(len(sizes) * 0.95)],
            "max": sizes[-1],
            "over_1kb": sum(1 for size in sizes if size > KB),
            "events": len(sizes),
        },
        "ratios": [
            ratio(
                "track handler CPU per event / json.loads+pydantic floor",
                handler / floor_us,
                TARGET,
                "<=",
                f"median µs per event over the mix: handler {handler:.1f}, floor {floor_us:.1f}; "
                f"mean {handler_mean:.1f} vs {floor_mean:.1f}",
            ),
            ratio(
                "  of which single-event requests",
                single[0] / single[1],
                TARGET,
                "<=",
                f"median µs per request: handler {single[0]:.1f}, floor {single[1]:.1f}",
            ),
            ratio(
                "  of which batched events",
                batched[0] / batched[1],
                TARGET,
                "<=",
                f"median µs per event: handler {batched[0]:.1f}, floor {batched[1]:.1f}",
            ),
            ratio(
                "Powertools parser + Beacon envelope, µs added / 5 µs budget",
                max(added, 0) / PARSER_BUDGET_US,
                1,
                "<=",
                f"median µs per single-event body: through the envelope {parser['envelope_us']:.2f}, decode + "
                f"validate called directly {parser['direct_us']:.2f} ({added:+.2f} µs, {parser['requests']} bodies)",
            ),
        ],
    }


PARSER_BUDGET_US = 5  # what Powertools' parser and the Beacon envelope may add to a request (issue 14)


def parser_overhead(requests: list[MixRequest], rounds: int = 15) -> dict[str, Any]:
    """The mix's single-event bodies parsed as the track function parses them (Powertools' parse() through the
    Beacon envelope) against the same decoding and validation called directly, interleaved, medians of rounds."""
    events = [proxy_event(request, index) for index, request in enumerate(requests) if not request.batch]
    # Directly, the Content-Encoding comes from the request's lower-cased headers, which the handler builds anyway.
    singles = [(event, {key.lower(): value for key, value in event["headers"].items()}) for event in events]
    limit = 64 * 1024

    def direct() -> None:
        for event, headers in singles:
            with contextlib.suppress(ValueError):  # the mix's invalid bodies fail validation the same either way
                body = decode_body(event["body"], event["isBase64Encoded"], headers.get("content-encoding"), limit)
                TRACK_REQUEST_ADAPTER.validate_json(well_formed_json(body))  # the surrogate policy: both pay it

    def through_envelope() -> None:
        for event, _ in singles:
            with contextlib.suppress(ValueError):
                parse_track(event, limit)

    costs: dict[str, list[float]] = {"direct": [], "envelope": []}
    for number in range(rounds):
        order = [("direct", direct), ("envelope", through_envelope)]
        for name, work in order if number % 2 == 0 else order[::-1]:
            started = time.process_time_ns()
            work()
            costs[name].append((time.process_time_ns() - started) / 1000 / len(singles))
    direct_us, envelope_us = statistics.median(costs["direct"]), statistics.median(costs["envelope"])
    return {"direct_us": round(direct_us, 2), "envelope_us": round(envelope_us, 2), "requests": len(singles)}


class InlineExecutor(Executor):
    """Runs each task at once in the calling thread: cProfile follows one thread only."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def profile(rounds: int, top: int, kind: str) -> None:
    """The mix under cProfile (after the same warm-up), top functions by own and by cumulative time.
    The profiler's clock is process CPU time, so other processes on a busy machine do not show in it; a
    batch's items are stored in the request's thread, so that their work shows too."""
    requests = build_mix()
    function = load()
    pytest.MonkeyPatch().setattr(concurrency, "shared_pool", InlineExecutor)
    profiler = cProfile.Profile(time.process_time)
    chosen = [index for index, request in enumerate(requests) if kind == "all" or (kind == "batch") == request.batch]
    with quiet():
        check_answers(function, requests)
        for _ in range(rounds):
            events = [proxy_event(requests[index], index) for index in chosen]
            profiler.enable()
            for event in events:
                function.invoke(event)
            profiler.disable()
            function.forget_repeats()
    stats = pstats.Stats(profiler)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print(f"\n== top {top} by {order} ==")
        stats.sort_stats(order).print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the mix instead")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--kind", choices=["all", "single", "batch"], default="all", help="requests to profile")
    args = parser.parse_args()
    if args.profile:
        profile(args.rounds, args.top, args.kind)
        return
    started = time.perf_counter()
    results = measure(args.rounds)
    print(f"Per-event CPU, track function (in-process, stores faked) — {results['machine']}")
    print(
        f"  {results['requests']} requests, {results['events']} events per round, {results['rounds']} rounds; "
        f"mix {results['mix']}"
    )
    print(f"  first request of a fresh function (cold caches): {results['first_request_us'] / 1000:.1f} ms")
    sizes = results["event_item_bytes"]
    print(
        f"  event items as DynamoDB bills them: median {sizes['median']} B, p95 {sizes['p95']} B,"
        f" max {sizes['max']} B; {sizes['over_1kb']} of {sizes['events']} over 1 KB"
    )
    print_ratios(results["ratios"])
    path = write_results("cpu", results)
    print(f"  {time.perf_counter() - started:.0f} s; results in {path}")


if __name__ == "__main__":
    main()
