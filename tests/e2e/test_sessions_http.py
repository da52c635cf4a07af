"""Sessions end to end through the local gateway with a 3-second timeout (issue 17): the boundary case writes the
previous session's session_end, the reaper function ends an idle one, and the read API returns their records."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.stack import LocalStack, free_port

pytestmark = pytest.mark.e2e
TIMEOUT_SECONDS = 3
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15"
)


@pytest.fixture(scope="module")
def short_gateway(local_stack: LocalStack) -> Iterator[str]:
    """A gateway of its own whose sessions end after 3 seconds of silence (the shared one keeps 30 minutes)."""
    before = os.environ.get("SESSION_TIMEOUT_SECONDS")
    os.environ["SESSION_TIMEOUT_SECONDS"] = str(TIMEOUT_SECONDS)
    try:
        port = free_port()
        process = local_stack.start_gateway(port)
    finally:
        if before is None:
            os.environ.pop("SESSION_TIMEOUT_SECONDS")
        else:
            os.environ["SESSION_TIMEOUT_SECONDS"] = before
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    local_stack.processes.remove(process)


def http(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET", headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def credentials(client: dict[str, str]) -> dict[str, str]:
    return {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": SAFARI,
        "Content-Type": "application/json",
    }


def view(path: str, device: str = "") -> dict[str, Any]:
    properties: dict[str, Any] = {"__path": f"https://shop.example{path}"}
    if device:
        properties["__deviceId"] = device
    return {"type": "track", "payload": {"name": "screen_view", "properties": properties}}


def test_a_visit_after_the_timeout_ends_the_previous_session_and_its_record_is_readable(
    short_gateway: str, create_client: Callable[..., dict[str, str]], project_id: str, stored_events
) -> None:
    writer, reader = create_client(project_id, "write"), create_client(project_id, "read")
    # Given a visit of two pages
    status, first = http(f"{short_gateway}/track", view("/landing?utm_source=news"), credentials(writer))
    assert status == 200, first
    assert http(f"{short_gateway}/track", view("/pricing"), credentials(writer))[0] == 200
    # When the device comes back after the timeout
    time.sleep(TIMEOUT_SECONDS + 1)
    status, second = http(f"{short_gateway}/track", view("/home"), credentials(writer))
    # Then it is a new session, and the first one got exactly one session_end with its exit page
    assert status == 200 and second["sessionId"] != first["sessionId"]
    ends = [e for e in stored_events(project_id, with_session_ends=True) if e["name"] == "session_end"]
    assert [(end["sessionId"], end["path"]) for end in ends] == [(first["sessionId"], "/pricing")]
    assert ends[0]["properties"]["__bounce"] is False
    # And the read API returns the ended session's record, alone in the export
    status, record = http(f"{short_gateway}/session/{first['sessionId']}", headers=credentials(reader))
    assert status == 200, record
    assert (record["entryPath"], record["exitPath"], record["screenViewCount"]) == ("/landing", "/pricing", 2)
    assert record["utm"] == {"utm_source": "news"} and record["bounce"] is False
    assert record["device"]["browser"] == "Safari"
    status, page = http(f"{short_gateway}/export/sessions", headers=credentials(reader))
    assert status == 200 and [session["id"] for session in page["data"]] == [first["sessionId"]]
    # The live session has no record yet; a write client may not read
    assert http(f"{short_gateway}/session/{second['sessionId']}", headers=credentials(reader))[0] == 404
    assert http(f"{short_gateway}/export/sessions", headers=credentials(writer))[0] == 403


def test_the_reaper_function_ends_an_idle_session_once_its_minute_is_idle(
    short_gateway: str, create_client: Callable[..., dict[str, str]], project_id: str, stored_events, dynamodb: Any
) -> None:
    from beacon.config import ReaperSettings
    from beacon.domain.sessions import reap_sessions
    from beacon.store.factory import reaper_store
    from local.template import read_template

    writer = create_client(project_id, "write")
    status, answer = http(f"{short_gateway}/track", view("/only", "reaped"), credentials(writer))
    assert status == 200, answer
    # When the reaper runs after the session's whole minute has been idle for the timeout
    started = datetime.now(UTC)
    time.sleep(60 - started.second + TIMEOUT_SECONDS + 1)
    environment = {**read_template().functions()["ReaperFunction"].environment, "SESSION_TIMEOUT_SECONDS": "3"}
    store = reaper_store(ReaperSettings.from_env(environment), dynamodb)
    outcome = reap_sessions(store, datetime.now(UTC), timedelta(seconds=TIMEOUT_SECONDS))
    again = reap_sessions(store, datetime.now(UTC), timedelta(seconds=TIMEOUT_SECONDS))
    # Then the session has exactly one session_end, a bounce of one page
    ends = [e for e in stored_events(project_id, with_session_ends=True) if e["name"] == "session_end"]
    assert [end["sessionId"] for end in ends] == [answer["sessionId"]]
    assert ends[0]["properties"] == {"__duration": 0, "__bounce": True} and ends[0]["path"] == "/only"
    assert outcome.ended >= 1 and again.ended == 0
