"""Sustained load through the local gateway into DynamoDB Local: N concurrent clients send a known set of
distinct events for a while; afterwards the stored events are exactly the accepted ones (none lost, none
doubled), and the gateway process (which runs the authorizer and the functions) keeps a flat memory.

10 seconds in `make test`; `make soak` sets BEACON_SOAK_SECONDS=60. Requests go to 127.0.0.1 only and are
bounded in time and count.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from beacon.store.dynamodb import deserialize_item as item_to_dict
from beacon.store.events import EVENT_SHARDS
from tests.faults.private_stack import Client, PrivateStack, private_stack

pytestmark = pytest.mark.e2e
SECONDS = float(os.environ.get("BEACON_SOAK_SECONDS", "10"))
THREADS = int(os.environ.get("BEACON_SOAK_THREADS", "8"))
MAX_REQUESTS_PER_THREAD = 50_000
BATCH_EVERY = 10  # every tenth request is a batch
BATCH_SIZE = 5
MAX_RSS_GROWTH_MB = 100
PROJECT = "load-test"


@dataclass
class Tally:
    sent_requests: int = 0
    sent_events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)  # load ids of events answered as stored
    error: str | None = None  # what stopped the thread early, if anything


@dataclass
class MemoryProbe:
    stack: PrivateStack
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.stack.gateway_rss_kb())
            self._stop.wait(0.25)

    def stop(self) -> None:
        self._stop.set()


def track_event(load_id: str, with_id: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"loadId": load_id, "path": f"/page/{load_id}"}
    if with_id:
        properties["__id"] = f"load-{load_id}"  # the idempotent write path (event + key in one transaction)
    return {"type": "track", "payload": {"name": "load_view", "properties": properties}}


def post(connection: http.client.HTTPConnection, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    data = json.dumps(body).encode()
    connection.request("POST", path, body=data, headers={**headers, "Content-Length": str(len(data))})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def send_load(
    port: int, thread: int, client: Client, deadline: float, tally: Tally, limit: int = MAX_REQUESTS_PER_THREAD
) -> None:
    # Two threads per device (same IP and user agent): concurrent requests meet on one session item.
    headers = dict(client.headers())
    headers["X-Forwarded-For"] = f"198.51.100.{10 + thread // 2}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        send_until(connection, thread, headers, deadline, tally, limit)
    except Exception as error:  # noqa: BLE001 - reported by the test, not lost with the thread
        tally.error = repr(error)
    finally:
        connection.close()


def send_until(
    connection: http.client.HTTPConnection,
    thread: int,
    headers: dict[str, str],
    deadline: float,
    tally: Tally,
    limit: int,
) -> None:
    for sequence in range(limit):
        if time.monotonic() >= deadline:
            break
        load_id = f"{thread}-{sequence}"
        if sequence % BATCH_EVERY == BATCH_EVERY - 1:
            ids = [f"{load_id}-{index}" for index in range(BATCH_SIZE)]
            body = {"batch": [track_event(item, with_id=False) for item in ids]}
            status, answer = post(connection, "/track/batch", body, headers)
            accepted = [ids[result["index"]] for result in answer.get("results", [])] if status == 200 else []
            tally.sent_events += len(ids)
        else:
            status, answer = post(connection, "/track", track_event(load_id, with_id=sequence % 2 == 0), headers)
            accepted = [load_id] if status == 200 else []
            tally.sent_events += 1
        tally.sent_requests += 1
        tally.statuses[status] += 1
        tally.accepted += accepted


def stored_load_ids(stack: PrivateStack, project: str) -> Counter[str]:
    dynamodb = stack.stack.boto3_client("dynamodb")
    found: Counter[str] = Counter()
    for shard in range(EVENT_SHARDS):
        pages = dynamodb.get_paginator("query").paginate(
            TableName="EventsTable",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{project}#{shard}"}},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                event = item_to_dict(item)
                if event["name"] == "load_view":
                    found[event["properties"]["loadId"]] += 1
    return found


def test_sustained_load_stores_exactly_the_accepted_events_with_flat_memory(tmp_path: Path) -> None:
    with private_stack(tmp_path / "logs") as stack:
        # Given a warm gateway (both routes served once) and one client per thread, each with room to send
        clients = [stack.new_client(PROJECT, rate=10_000, burst=10_000) for _ in range(THREADS)]
        warm_up = Tally()
        send_load(stack.gateway_port, THREADS, clients[0], time.monotonic() + 30, warm_up, limit=BATCH_EVERY)
        probe = MemoryProbe(stack)
        sampler = threading.Thread(target=probe.run, daemon=True)
        sampler.start()

        # When the clients send distinct events concurrently for the whole duration
        tallies = [Tally() for _ in range(THREADS)]
        deadline = time.monotonic() + SECONDS
        workers = [
            threading.Thread(target=send_load, args=(stack.gateway_port, n, clients[n], deadline, tallies[n]))
            for n in range(THREADS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=SECONDS + 120)
        time.sleep(0.5)  # one more memory sample after the last request
        probe.stop()
        sampler.join()

        # Then every request was answered, none with a 5xx
        assert not any(worker.is_alive() for worker in workers)
        assert [tally.error for tally in tallies if tally.error] == []
        statuses: Counter[int] = Counter()
        for tally in tallies:
            statuses.update(tally.statuses)
        accepted = Counter(load_id for tally in tallies for load_id in tally.accepted)
        found = stored_load_ids(stack, PROJECT)
        stored = Counter({load_id: count for load_id, count in found.items() if load_id not in warm_up.accepted})
        start, peak, end = probe.samples[0], max(probe.samples), probe.samples[-1]
        requests = sum(tally.sent_requests for tally in tallies)
        figures = {
            "seconds": SECONDS,
            "threads": THREADS,
            "requests": requests,
            "eventsSent": sum(tally.sent_events for tally in tallies),
            "accepted": sum(accepted.values()),
            "stored": sum(stored.values()),
            "statuses": dict(statuses),
            "rssKb": {"start": start, "peak": peak, "end": end},
        }
        print(f"\nload figures: {json.dumps(figures)}")
        assert requests >= THREADS  # the run did send load
        assert all(status < 500 for status in statuses), statuses
        # And the stored events are exactly the accepted ones: none lost, none doubled (the warm-up's included)
        assert {load_id for load_id, count in found.items() if count > 1} == set()
        assert max(accepted.values()) == 1
        assert set(stored) == set(accepted)
        assert set(warm_up.accepted) <= set(found)
        # And the gateway's memory stayed flat
        assert (peak - start) / 1024 < MAX_RSS_GROWTH_MB
