"""Server-side and late events over HTTP through the local gateway (issue 17 items 4 and 5, DESIGN.md §49)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15"
)
NODE = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"


def post(url: str, body: dict[str, Any], client: dict[str, str], user_agent: str) -> tuple[int, Any]:
    headers = {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": user_agent,
        "Content-Type": "application/json",
    }
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def track(name: str, profile_id: str | None = None, **properties: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": name, "properties": properties}
    if profile_id is not None:
        payload["profileId"] = profile_id
    return {"type": "track", "payload": payload}


def test_a_backend_event_joins_the_visit_of_its_profile_and_one_without_a_visit_gets_no_session(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str, stored_events
) -> None:
    writer = create_client(project_id, "write")
    # Given a browser visit by ada, arriving from a newsletter link
    status, visit = post(
        f"{gateway_url}/track",
        track("screen_view", "ada", __path="https://shop.example/plans?utm_source=newsletter"),
        writer,
        SAFARI,
    )
    assert status == 200, visit
    # When the shop's backend reports ada's payment, and bob's (who has no visit), from one server
    status, paid = post(f"{gateway_url}/track", track("invoice_paid", "ada", amount=30), writer, NODE)
    assert status == 200, paid
    status, other = post(f"{gateway_url}/track", track("invoice_paid", "bob", amount=10), writer, NODE)
    assert status == 200, other
    # Then ada's is in her visit's session and device; bob's is in none, with no device id
    assert (paid["deviceId"], paid["sessionId"]) == (visit["deviceId"], visit["sessionId"])
    assert (other["deviceId"], other["sessionId"]) == ("", "")
    events = stored_events(project_id, with_session_starts=True)
    by_profile = {(e["name"], e["profileId"]): e for e in events}
    ada = by_profile[("invoice_paid", "ada")]
    assert (ada["path"], ada["device"]["browser"]) == ("/plans", "Safari")
    assert ada["properties"]["__query"] == {"utm_source": "newsletter"}
    assert by_profile[("invoice_paid", "bob")]["device"]["device"] == "server"
    # And only the visit started a session
    assert [e["sessionId"] for e in events if e["name"] == "session_start"] == [visit["sessionId"]]


def test_a_late_track_event_is_stored_without_a_session_and_does_not_extend_the_live_one(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str, stored_events
) -> None:
    writer = create_client(project_id, "write")
    status, live = post(f"{gateway_url}/track", track("screen_view", __path="https://shop.example/"), writer, SAFARI)
    assert status == 200, live
    # When the same browser sends an event two hours old
    stamp = (datetime.now(UTC) - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    status, late = post(f"{gateway_url}/track", track("offline_click", __timestamp=stamp), writer, SAFARI)
    # Then it answers the device without a session and is stored so
    assert status == 200, late
    assert (late["deviceId"], late["sessionId"]) == (live["deviceId"], "")
    stored = {e["name"]: e for e in stored_events(project_id)}
    assert stored["offline_click"]["sessionId"] == "" and stored["offline_click"]["createdAt"].startswith(stamp[:16])
    # And the live session goes on: the next event is still in it, with its one session_start
    status, next_one = post(f"{gateway_url}/track", track("click"), writer, SAFARI)
    assert status == 200 and next_one["sessionId"] == live["sessionId"]
    starts = [e for e in stored_events(project_id, with_session_starts=True) if e["name"] == "session_start"]
    assert len(starts) == 1


def get(url: str, client: dict[str, str]) -> tuple[int, Any]:
    headers = {"openpanel-client-id": client["clientId"], "openpanel-client-secret": client["clientSecret"]}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_offline_days_batch_is_stored_as_the_sessions_that_happened_and_their_records_are_readable(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str, stored_events
) -> None:
    writer, reader = create_client(project_id, "write"), create_client(project_id, "read")
    morning = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)

    def offline(name: str, minutes: int, path: str = "") -> dict[str, Any]:
        moment = (morning + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        properties: dict[str, Any] = {"__timestamp": moment}
        if path:
            properties["__path"] = f"https://app.example{path}"
        return track(name, **properties)

    # Given an app's day offline: a visit of three events, one two hours later, and an event sent live
    day = [
        offline("screen_view", 0, "/feed"),
        offline("like", 3),
        offline("screen_view", 20, "/profile"),
        offline("screen_view", 140, "/feed"),
        track("screen_view", __path="https://app.example/now"),
    ]
    # When it uploads them in one batch, and again (no answer reached it)
    status, answer = post(f"{gateway_url}/track/batch", {"batch": day}, writer, SAFARI)
    assert status == 200 and answer["accepted"] == 5, answer
    again_status, again = post(f"{gateway_url}/track/batch", {"batch": day}, writer, SAFARI)
    assert again_status == 200 and again["results"] == answer["results"]
    # Then the back-dated events form the two sessions that happened, and the live one a session of its own
    sessions = [result["sessionId"] for result in answer["results"]]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3] != sessions[4] != sessions[0]
    events = stored_events(project_id, with_session_starts=True, with_session_ends=True)
    first = [e["name"] for e in events if e["sessionId"] == sessions[0]]
    assert first == ["session_start", "screen_view", "like", "screen_view", "session_end"]
    assert [e["name"] for e in events if e["sessionId"] == sessions[4]] == ["session_start", "screen_view"]
    assert len(events) == 5 + 2 * 2 + 1  # stored once, though sent twice
    # And each back-dated session's record is readable, with its entry and exit pages and duration
    status, record = get(f"{gateway_url}/session/{sessions[0]}", reader)
    assert status == 200, record
    assert (record["entryPath"], record["exitPath"], record["eventCount"]) == ("/feed", "/profile", 3)
    assert record["duration"] == 20 * 60 * 1000 and record["bounce"] is False
    assert record["firstEventAt"].startswith(morning.strftime("%Y-%m-%dT%H:%M"))
    status, bounce = get(f"{gateway_url}/session/{sessions[3]}", reader)
    assert status == 200 and bounce["bounce"] is True and bounce["duration"] == 0
