"""Session replay chunks on POST /track: filed under the device's active session, 2 MB payloads on this type only."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from beacon.models.requests import MAX_REPLAY_BODY_BYTES, MAX_REPLAY_PAYLOAD_CHARS
from tests.unit.support.fakes import FakeEventStore, FakeReplayStore, FakeSessionStore
from tests.unit.support.handlers import FakeLambdaContext, load_event


def invoke(track_app: ModuleType, body: str, client_type: str = "write") -> tuple[int, dict[str, Any]]:
    event = load_event("track")
    event["requestContext"]["authorizer"]["clientType"] = client_type
    event["body"] = body
    response = track_app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def replay_body(chunk_index: int = 0, payload: str = '[{"type":2,"data":{},"timestamp":1}]', **fields: Any) -> str:
    chunk = {
        "chunk_index": chunk_index,
        "events_count": 1,
        "is_full_snapshot": chunk_index == 0,
        "started_at": f"2026-12-02T10:00:{chunk_index:02d}.000Z",
        "ended_at": f"2026-12-02T10:00:{chunk_index:02d}.500Z",
        "payload": payload,
        **fields,
    }
    return json.dumps({"type": "replay", "payload": chunk})


@pytest.fixture
def replays(track_app: ModuleType, store: FakeEventStore, monkeypatch: pytest.MonkeyPatch) -> FakeReplayStore:
    fake = FakeReplayStore()
    monkeypatch.setattr(track_app, "replays", lambda: fake)
    return fake


def open_session(track_app: ModuleType) -> dict[str, Any]:
    status, body = invoke(track_app, load_event("track")["body"])
    assert status == 200
    return body


def test_a_chunk_is_filed_under_the_session_the_devices_events_opened(
    track_app: ModuleType, replays: FakeReplayStore
) -> None:
    # Given a device whose screen_view opened a session
    ids = open_session(track_app)
    # When its SDK sends a replay chunk
    status, body = invoke(track_app, replay_body(3))
    # Then it is answered with the same ids and stored under that session, with its fields as sent
    assert (status, body) == (200, ids)
    [(key, chunks)] = replays.chunks.items()
    assert key == ("example-project", ids["sessionId"])
    [chunk] = chunks.values()
    assert (chunk.chunk_index, chunk.events_count, chunk.is_full_snapshot) == (3, 1, False)
    assert chunk.payload == '[{"type":2,"data":{},"timestamp":1}]'


def test_a_chunk_neither_starts_nor_extends_a_session(
    track_app: ModuleType, store: FakeEventStore, replays: FakeReplayStore
) -> None:
    # Given a device with no active session
    # When its SDK sends a replay chunk
    status, body = invoke(track_app, replay_body())
    # Then it is refused as OpenPanel refuses a replay without a session, and nothing is stored
    assert status == 400
    assert body == {
        "error": "No active session for this device: replay chunks join the session the SDK's events opened",
        "status": 400,
    }
    assert replays.chunks == {} and store.events == []
    sessions = track_app.stores().sessions
    assert isinstance(sessions, FakeSessionStore) and sessions.sessions == {}


def test_a_chunk_of_the_same_position_again_is_stored_once(track_app: ModuleType, replays: FakeReplayStore) -> None:
    open_session(track_app)
    invoke(track_app, replay_body(1))
    invoke(track_app, replay_body(1))
    [chunks] = replays.chunks.values()
    assert len(chunks) == 1


def test_a_two_megabyte_payload_is_accepted_on_replay(track_app: ModuleType, replays: FakeReplayStore) -> None:
    # Given a chunk whose payload is at the bound, full of characters JSON escapes (its body is longer still)
    open_session(track_app)
    payload = ('{"a":"' + "x" * 100 + '"}') * (MAX_REPLAY_PAYLOAD_CHARS // 108)
    payload += "x" * (MAX_REPLAY_PAYLOAD_CHARS - len(payload))
    body = replay_body(0, payload)
    assert len(body) > 2 * 1024 * 1024
    # When it is sent, then it is stored whole
    status, _ = invoke(track_app, body)
    assert status == 200
    [chunks] = replays.chunks.values()
    assert [chunk.payload for chunk in chunks.values()] == [payload]


def test_a_payload_over_two_megabytes_is_a_400(track_app: ModuleType, replays: FakeReplayStore) -> None:
    open_session(track_app)
    status, body = invoke(track_app, replay_body(0, "x" * (MAX_REPLAY_PAYLOAD_CHARS + 1)))
    assert status == 400 and body["status"] == 400
    assert replays.chunks == {}


def test_a_replay_body_over_its_limit_is_a_413(track_app: ModuleType, replays: FakeReplayStore) -> None:
    open_session(track_app)
    status, body = invoke(track_app, replay_body(0, "x" * MAX_REPLAY_BODY_BYTES))
    assert (status, body) == (413, {"error": "Request body exceeds 65536 bytes", "status": 413})
    assert replays.chunks == {}


def test_other_types_keep_their_64_kib_limit(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a track event of 100 KB (a replay chunk that size would be accepted)
    body = json.dumps({"type": "track", "payload": {"name": "big", "properties": {"p": "x" * 100_000}}})
    # When it is sent, then it is refused with the limit POST /track always had
    status, answer = invoke(track_app, body)
    assert (status, answer) == (413, {"error": "Request body exceeds 65536 bytes", "status": 413})
    assert store.events == []


def test_read_clients_cannot_send_chunks(track_app: ModuleType, replays: FakeReplayStore) -> None:
    status, _ = invoke(track_app, replay_body(), client_type="read")
    assert status == 403
    assert replays.chunks == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"ended_at": "2026-12-02T09:00:00.000Z"},
        {"started_at": "2026-12-02T10:00:00"},
        {"events_count": 0},
        {"started_at": "0001-01-01T00:00:00+01:00"},
        {"started_at": "1969-12-31T23:59:59.000Z", "ended_at": "1970-01-01T00:00:00.000Z"},
        {"is_full_snapshot": "maybe"},
    ],
)
def test_an_inconsistent_chunk_is_a_400(track_app: ModuleType, replays: FakeReplayStore, fields: Any) -> None:
    open_session(track_app)
    status, _ = invoke(track_app, replay_body(0, **fields))
    assert status == 400
    assert replays.chunks == {}
