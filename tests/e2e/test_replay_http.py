"""Session replay over HTTP through the local gateway: chunks sent as the web SDK sends them, stored in moto's S3 and
DynamoDB Local, read back in order by a read client; AWS's payload limits as the gateway applies them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.constants import CHROME

pytestmark = pytest.mark.e2e


def call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")  # noqa: S310
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def writer_headers(client: dict[str, str]) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "openpanel-sdk-name": "web",
        "User-Agent": CHROME,
    }


def reader_headers(client: dict[str, str]) -> dict[str, str]:
    return {"openpanel-client-id": client["clientId"], "openpanel-client-secret": client["clientSecret"]}


def chunk_body(index: int, seconds: int, payload: str) -> bytes:
    chunk = {
        "chunk_index": index,
        "events_count": 2,
        "is_full_snapshot": index == 0,
        "started_at": f"2026-12-02T10:{seconds // 60:02d}:{seconds % 60:02d}.000Z",
        "ended_at": f"2026-12-02T10:{seconds // 60:02d}:{seconds % 60:02d}.900Z",
        "payload": payload,
    }
    return json.dumps({"type": "replay", "payload": chunk}).encode()


@pytest.fixture
def session(gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str) -> dict[str, Any]:
    """A browser device's session, opened by a screen_view, and the clients that write and read it."""
    writer = create_client(project_id, "write")
    body = json.dumps({"type": "track", "payload": {"name": "screen_view", "properties": {"__path": "/a"}}})
    status, ids = call(f"{gateway_url}/track", body.encode(), writer_headers(writer))
    assert status == 200, ids
    return {"ids": ids, "writer": writer, "reader": create_client(project_id, "read")}


def test_chunks_uploaded_out_of_order_are_stored_and_read_back_in_order(gateway_url, session):
    # Given three chunks of the session sent out of order
    for index, seconds in [(2, 20), (0, 0), (1, 10)]:
        status, answer = call(
            f"{gateway_url}/track", chunk_body(index, seconds, f"[{seconds}]"), writer_headers(session["writer"])
        )
        # Then each is answered with the session's ids
        assert (status, answer) == (200, session["ids"])
    # When a read client reads the session's replay
    url = f"{gateway_url}/session/{session['ids']['sessionId']}/replay"
    status, page = call(url, headers=reader_headers(session["reader"]))
    # Then they come back in order, payloads inline
    assert status == 200, page
    assert [(c["chunkIndex"], c["payload"]) for c in page["data"]] == [(0, "[0]"), (1, "[10]"), (2, "[20]")]
    assert page["meta"] == {"count": 3, "next": None}
    assert page["data"][0]["isFullSnapshot"] is True and page["data"][0]["eventsCount"] == 2


def test_a_two_megabyte_chunk_is_accepted_and_read_back_whole(gateway_url, session):
    # Given a chunk with a 2 MiB payload of rrweb-like JSON (its body, escaped, is longer)
    unit = '{"type":3,"data":{"source":1,"x":12,"y":34},"timestamp":1764669600000},'
    payload = (unit * (2 * 1024 * 1024 // len(unit) + 1))[: 2 * 1024 * 1024]
    status, answer = call(f"{gateway_url}/track", chunk_body(0, 0, payload), writer_headers(session["writer"]))
    assert status == 200, answer
    url = f"{gateway_url}/session/{session['ids']['sessionId']}/replay"
    status, page = call(url, headers=reader_headers(session["reader"]))
    assert status == 200 and [c["payload"] for c in page["data"]] == [payload]


def test_a_body_over_the_replay_limit_is_a_413_json_and_stores_nothing(gateway_url, session):
    status, answer = call(
        f"{gateway_url}/track", chunk_body(0, 0, "x" * (3 * 1024 * 1024)), writer_headers(session["writer"])
    )
    assert (status, answer) == (413, {"error": "Request body exceeds 65536 bytes", "status": 413})
    url = f"{gateway_url}/session/{session['ids']['sessionId']}/replay"
    assert call(url, headers=reader_headers(session["reader"]))[0] == 404


def test_a_large_track_event_keeps_the_64_kib_limit(gateway_url, session):
    body = json.dumps({"type": "track", "payload": {"name": "big", "properties": {"p": "x" * 100_000}}})
    status, answer = call(f"{gateway_url}/track", body.encode(), writer_headers(session["writer"]))
    assert (status, answer) == (413, {"error": "Request body exceeds 65536 bytes", "status": 413})


def test_another_projects_reader_gets_a_404(gateway_url, session, create_client, project_id):
    assert call(f"{gateway_url}/track", chunk_body(0, 0, "[]"), writer_headers(session["writer"]))[0] == 200
    stranger = create_client(f"{project_id}-other", "read")
    url = f"{gateway_url}/session/{session['ids']['sessionId']}/replay"
    status, answer = call(url, headers=reader_headers(stranger))
    assert (status, answer) == (404, {"error": "Session replay not found", "status": 404})


def test_a_chunk_from_a_device_without_a_session_is_a_400(gateway_url, create_client, project_id):
    writer = create_client(project_id, "write")
    headers = {**writer_headers(writer), "User-Agent": CHROME.replace("Chrome", "Chromium")}  # another device
    status, answer = call(f"{gateway_url}/track", chunk_body(0, 0, "[]"), headers)
    assert status == 400 and answer["status"] == 400
