"""End to end: events tracked over HTTP reach the lake within the flush interval, once each, and `beacon query`
reads them back for their project only."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from admin.query import run_local
from beacon.domain.lake_sql import LakeScope
from local.lake import Checkpoints, StreamPoller, lake_handler

FLUSH_SECONDS = 2.0  # the session's local Firehose (tests/conftest.py local_lake)
POLL_SECONDS = 0.5


@pytest.fixture
def running_lake(local_stack: Any, local_lake: Any, template_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """The mapping and Firehose's flusher on threads, as `make run` runs them, from the stream's end."""
    poller = StreamPoller(
        local_stack.boto3_client("dynamodb"),
        local_stack.boto3_client("dynamodbstreams"),
        template_env["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(tmp_path / "checkpoints.json"),
    )
    poller.poll_once()
    local_lake.firehose.flush()
    stop = threading.Event()
    threads = [
        threading.Thread(target=poller.run, args=(stop, POLL_SECONDS), daemon=True),
        threading.Thread(target=local_lake.firehose.run_flusher, args=(stop,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield local_lake
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0 Safari/605"


def track(
    gateway_url: str, client: dict[str, str], body: dict[str, Any], key: str | None = None, agent: str = SAFARI
) -> int:
    headers = {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "Content-Type": "application/json",
        "User-Agent": agent,
        **({"Idempotency-Key": key} if key else {}),
    }
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        f"{gateway_url}/track/batch", data=json.dumps(body).encode(), method="POST", headers=headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return int(response.status)


def lake_rows(lake: Path, project: str, sql: str) -> list[dict[str, Any]]:
    """What `beacon query --project <project> <sql>` prints, as rows."""
    columns, rows = run_local(sql, LakeScope(project), lake)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_tracked_events_are_queryable_within_the_flush_interval_once_each(
    gateway_url: str, create_client: Callable[..., dict[str, str]], running_lake: Any
) -> None:
    # Given two projects' clients, and a batch of page views for the first, sent twice (a client's retry)
    projects = [f"test-lake-{suffix}-{time.monotonic_ns() % 10**8}" for suffix in ("a", "b")]
    first, second = (create_client(project, "write") for project in projects)
    pages = [
        {"type": "track", "payload": {"name": "screen_view", "properties": {"__path": f"https://shop.test/p/{n}"}}}
        for n in range(5)
    ]
    assert track(gateway_url, first, {"batch": pages}, key="lake-e2e") == 200
    accepted = time.monotonic()
    assert track(gateway_url, first, {"batch": pages}, key="lake-e2e") == 200
    assert track(gateway_url, second, {"batch": pages[:1]}) == 200
    # When the lake is asked until they appear
    sql = "SELECT count(*) AS n, count(DISTINCT id) AS ids, count_if(name = 'screen_view') AS views FROM events"
    while True:
        [row] = lake_rows(running_lake.root, projects[0], sql)
        if row["views"] == 5 or time.monotonic() - accepted > 10:
            break
        time.sleep(0.1)
    # Then they were there within the flush interval (plus the mapping's poll), each once, and only for their project
    assert time.monotonic() - accepted <= FLUSH_SECONDS + POLL_SECONDS + 1.0
    assert row == {"n": 6, "ids": 6, "views": 5}  # the five views and their session's session_start
    [session] = lake_rows(running_lake.root, projects[0], "SELECT screen_view_count, entry_path FROM sessions")
    assert session["screen_view_count"] == 5 and session["entry_path"].startswith("/p/")
    [other] = lake_rows(running_lake.root, projects[1], sql)
    assert other == {"n": 2, "ids": 2, "views": 1}


def test_a_backends_events_in_no_session_reach_the_lake(
    gateway_url: str, create_client: Callable[..., dict[str, str]], running_lake: Any
) -> None:
    # Given a server SDK's events (a server agent: no session, no device), one anonymous and one for a profile
    project = f"test-lake-server-{time.monotonic_ns() % 10**8}"
    client = create_client(project, "write")
    events = [
        {"type": "track", "payload": {"name": "invoice_paid"}},
        {"type": "track", "payload": {"name": "invoice_paid", "profileId": "user-1"}},
    ]
    assert track(gateway_url, client, {"batch": events}, agent="node-fetch/1.0") == 200
    accepted = time.monotonic()
    # When the lake is asked until they appear
    sql = "SELECT device_id, session_id, profile_id FROM events ORDER BY profile_id"
    while not (rows := lake_rows(running_lake.root, project, sql)) and time.monotonic() - accepted < 10:
        time.sleep(0.1)
    # Then both are there, with no device and no session (they were stored; the lake must not drop them)
    assert rows == [
        {"device_id": "", "session_id": "", "profile_id": ""},
        {"device_id": "", "session_id": "", "profile_id": "user-1"},
    ]
