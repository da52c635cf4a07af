"""End to end: the insight endpoints over HTTP, on events tracked over HTTP, answered by the local Athena over the
local lake, match a direct count; errors are JSON 400s and 403s as everywhere."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.lake import Checkpoints, StreamPoller, lake_handler

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def call(url: str, client: dict[str, str], body: Any = None, agent: str = AGENTS[0]) -> tuple[int, Any]:
    headers = {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "Content-Type": "application/json",
        "User-Agent": agent,
    }
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local gateway
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def tracked(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    local_stack: Any,
    local_lake: Any,
    template_env: dict[str, str],
    tmp_path: Path,
) -> dict[str, str]:
    """Three devices: the first views one page and signs up, the others view two and three pages."""
    writer = create_client(project_id, "write")
    for device, agent in enumerate(AGENTS):
        views = [
            {"type": "track", "payload": {"name": "screen_view", "properties": {"__path": f"https://s.test/p{n}"}}}
            for n in range(device + 1)
        ]
        steps = [{"type": "track", "payload": {"name": name}} for name in ("signup_started", "signup_completed")]
        batch = {"batch": views + (steps if device == 0 else [])}
        assert call(f"{gateway_url}/track/batch", writer, batch, agent)[0] == 200
    poller = StreamPoller(
        local_stack.boto3_client("dynamodb"),
        local_stack.boto3_client("dynamodbstreams"),
        template_env["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(tmp_path / "checkpoints.json"),
    )
    while poller.poll_once():  # one batch per shard a poll: the stream holds earlier tests' events too
        pass
    local_lake.firehose.flush()
    return create_client(project_id, "read")


def test_the_overview_counts_visitors_sessions_views_and_bounces(gateway_url, tracked):
    status, answer = call(f"{gateway_url}/insights/overview?interval=hour", tracked)
    assert status == 200, answer
    assert {key: answer[key] for key in ("visitors", "sessions", "screenViews", "events")} == {
        "visitors": 3,
        "sessions": 3,
        "screenViews": 6,
        "events": 8,
    }
    assert answer["bounceRate"] == round(1 / 3, 4)  # the first device viewed one page
    assert sum(point["screenViews"] for point in answer["series"]) == 6


def test_top_pages_funnel_and_retention_match_what_was_tracked(gateway_url, tracked):
    status, top = call(f"{gateway_url}/insights/top?dimension=path&limit=5", tracked)
    assert status == 200, top
    assert top["data"] == [
        {"value": "/p0", "count": 3, "visitors": 3},
        {"value": "/p1", "count": 2, "visitors": 2},
        {"value": "/p2", "count": 1, "visitors": 1},
    ]
    steps = urllib.parse.quote("screen_view,signup_started,signup_completed")
    status, funnel = call(f"{gateway_url}/insights/funnel?steps={steps}&windowMinutes=30", tracked)
    assert status == 200, funnel
    assert [(step["name"], step["count"]) for step in funnel["steps"]] == [
        ("screen_view", 3),
        ("signup_started", 1),
        ("signup_completed", 1),
    ]
    status, retention = call(f"{gateway_url}/insights/retention?period=day", tracked)
    assert status == 200, retention
    [cohort] = retention["cohorts"]
    assert (cohort["visitors"], cohort["retention"]) == (3, [1.0])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/insights/top?dimension=password", 400),
        ("/insights/funnel?steps=a,b&windowMinutes=20000", 400),
        ("/insights/overview?start=2026-12-08&end=2026-12-01", 400),
        ("/insights/overview?projectId=someone-else", 403),
    ],
)
def test_bad_requests_are_json_errors(gateway_url, tracked, query, status):
    code, answer = call(f"{gateway_url}{query}", tracked)
    assert (code, answer["status"]) == (status, status) and answer["error"]


def test_a_write_client_cannot_read_insights(gateway_url, create_client, project_id):
    writer = create_client(project_id, "write")
    code, answer = call(f"{gateway_url}/insights/overview", writer)
    assert code == 403 and answer["status"] == 403
