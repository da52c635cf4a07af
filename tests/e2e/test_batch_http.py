"""POST /track/batch and issue 6's guarantees over HTTP: the local gateway (base64 bodies for the template's
binary media types), the authorizer and the track function, into DynamoDB Local."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.store.rejected import DynamoDBRejectedEventStore

pytestmark = pytest.mark.e2e


def post(url: str, body: bytes | str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def auth_headers(client: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        # an app's SDK: a server agent's (curl's) events take no session (docs/DESIGN.md §49)
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        **extra,
    }


def item(name: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "payload": {"name": name, "properties": properties}}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def zip_bomb(megabytes: int = 50) -> bytes:
    """50 MB of zeros, gzip-compressed to about 50 KB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    return b"".join([*(compressor.compress(megabyte) for _ in range(megabytes)), compressor.flush()])


def test_1000_event_batch_is_accepted_and_sending_it_again_stores_nothing_more(
    gateway_url, create_client, project_id, stored_events
):
    # Given a client and a batch of 1000 distinct events
    client = create_client(project_id)
    body = json.dumps({"batch": [item("page_view", n=i, path=f"/docs/{i}") for i in range(1000)]})

    # When it is sent
    status, _, answer = post(f"{gateway_url}/track/batch", body, auth_headers(client))

    # Then all 1000 are accepted and stored once (with the one session_start of their device's session)
    assert status == 200, answer
    assert (answer["accepted"], answer["rejected"], len(answer["results"])) == (1000, [], 1000)
    assert sorted(event["properties"]["n"] for event in stored_events(project_id)) == list(range(1000))
    assert len(stored_events(project_id, with_session_starts=True)) == 1001

    # When the exact same body is sent again (a retry after a lost answer)
    again_status, _, again = post(f"{gateway_url}/track/batch", body, auth_headers(client))

    # Then it is answered as the first time, and nothing more is stored
    assert again_status == 200
    assert again == answer
    assert len(stored_events(project_id)) == 1000
    assert len(stored_events(project_id, with_session_starts=True)) == 1001


def test_batch_of_1001_events_is_a_413(gateway_url, create_client, project_id, stored_events):
    # Given a batch one event over the limit
    client = create_client(project_id)
    body = json.dumps({"batch": [item("page_view", n=i) for i in range(1001)]})

    # When it is sent
    status, _, answer = post(f"{gateway_url}/track/batch", body, auth_headers(client))

    # Then it answers 413 and stores nothing
    assert (status, answer) == (413, {"error": "A batch holds at most 1000 events", "status": 413})
    assert stored_events(project_id, with_session_starts=True) == []


def test_mixed_batch_stores_the_valid_events_and_answers_each_item_by_index(
    gateway_url, create_client, project_id, stored_events
):
    # Given a batch of two valid events around one without a name
    client = create_client(project_id)
    body = json.dumps({"batch": [item("signup", plan="pro"), item(""), item("purchase", total=42)]})

    # When it is sent
    status, _, answer = post(f"{gateway_url}/track/batch", body, auth_headers(client))

    # Then it answers 200 with the counts, the rejection and the results, and the valid events are stored
    assert status == 200, answer
    assert answer["accepted"] == 2
    assert [(r["index"], r["status"], r["error"]) for r in answer["rejected"]] == [(1, 400, "Invalid request body")]
    assert [detail["field"] for detail in answer["rejected"][0]["details"]] == ["payload.name"]
    stored = {event["name"]: event for event in stored_events(project_id)}
    assert sorted(stored) == ["purchase", "signup"]
    assert answer["results"] == [
        {"index": 0, "deviceId": stored["signup"]["deviceId"], "sessionId": stored["signup"]["sessionId"]},
        {"index": 2, "deviceId": stored["purchase"]["deviceId"], "sessionId": stored["purchase"]["sessionId"]},
    ]


def test_events_rejected_for_validation_are_listed_with_reason_and_details(
    gateway_url, create_client, project_id, dynamodb, template_env
):
    # Given a batch with one invalid event, and a POST /track with an invalid body, from one client
    client = create_client(project_id)
    post(f"{gateway_url}/track/batch", json.dumps({"batch": [item("ok"), item("")]}), auth_headers(client))
    post(f"{gateway_url}/track", json.dumps({"type": "track", "payload": {"name": "x" * 81}}), auth_headers(client))

    # When the project's rejected events are listed
    listed = DynamoDBRejectedEventStore(template_env["REJECTED_EVENTS_TABLE"], client=dynamodb).list_rejected(
        project_id
    )

    # Then both are there, newest first, with client, reason, details and payload, and no secret
    assert [(r["reason"], r["status"], r.get("index")) for r in listed] == [
        ("Invalid request body", 400, None),
        ("Invalid request body", 400, 1),
    ]
    assert {r["clientId"] for r in listed} == {client["clientId"]}
    assert [detail["field"] for detail in listed[0]["details"]] == ["payload.name"]
    assert [detail["type"] for detail in listed[1]["details"]] == ["string_too_short"]
    assert json.loads(listed[1]["payload"]) == item("")
    assert json.loads(listed[0]["payload"])["payload"]["name"] == "x" * 81
    assert client["clientSecret"] not in json.dumps(listed, default=str)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/track", item("screen_view", path="/gzip")),
        ("/track/batch", {"batch": [item("screen_view", path="/gzip"), item("scroll", depth=80)]}),
    ],
)
def test_gzip_body_is_accepted(gateway_url, create_client, project_id, stored_events, path, body):
    # Given a client whose SDK compresses its bodies
    client = create_client(project_id)
    compressed = gzip.compress(json.dumps(body).encode())

    # When it sends a gzip body with Content-Encoding: gzip
    status, _, answer = post(f"{gateway_url}{path}", compressed, auth_headers(client, **{"Content-Encoding": "gzip"}))

    # Then it is accepted and stored as if sent uncompressed
    assert status == 200, answer
    assert ("screen_view", {"path": "/gzip"}) in [(e["name"], e["properties"]) for e in stored_events(project_id)]


@pytest.mark.parametrize("path", ["/track", "/track/batch"])
def test_zip_bomb_is_a_413(gateway_url, create_client, project_id, stored_events, path):
    # Given 50 MB of zeros compressed to about 50 KB
    client = create_client(project_id)

    # When it is sent as a gzip body
    status, headers, answer = post(
        f"{gateway_url}{path}", zip_bomb(), auth_headers(client, **{"Content-Encoding": "gzip"})
    )

    # Then it answers 413 in the API's JSON error shape, and nothing is stored
    assert status == 413
    assert answer["status"] == 413 and answer["error"].startswith("Decompressed body exceeds")
    assert headers["Content-Type"] == "application/json"
    assert stored_events(project_id, with_session_starts=True) == []


def test_idempotency_key_on_track_twice_stores_once_and_answers_the_same(
    gateway_url, create_client, project_id, stored_events
):
    # Given a track request sent with an Idempotency-Key
    client = create_client(project_id)
    headers = auth_headers(client, **{"Idempotency-Key": "checkout-5c1d"})
    body = json.dumps(item("checkout", total=42))
    first = post(f"{gateway_url}/track", body, headers)

    # When it is sent again with the same key
    repeat = post(f"{gateway_url}/track", body, headers)

    # Then both answers are the same 200, and one event is stored
    assert first[0] == repeat[0] == 200
    assert repeat[2] == first[2]
    assert [event["name"] for event in stored_events(project_id)] == ["checkout"]


def test_sent_at_header_corrects_a_client_clock_two_hours_ahead(gateway_url, create_client, project_id, stored_events):
    # Given a client whose clock is 2 hours fast, sending an event 5 s after it happened (on its clock)
    client = create_client(project_id)
    client_now = datetime.now(UTC) + timedelta(hours=2)
    timestamp = iso(client_now - timedelta(seconds=5))
    headers = auth_headers(client, **{"openpanel-sent-at": iso(client_now)})

    # When it is sent with openpanel-sent-at
    status, _, answer = post(f"{gateway_url}/track", json.dumps(item("purchase", __timestamp=timestamp)), headers)

    # Then it is stored 5 s before its receipt, with the client's own timestamp beside it
    assert status == 200, answer
    [event] = stored_events(project_id)
    received = datetime.fromisoformat(event["receivedAt"])
    assert received - datetime.fromisoformat(event["createdAt"]) == timedelta(seconds=5)
    assert abs(received - datetime.now(UTC)) < timedelta(minutes=1)
    assert event["clientTimestamp"] == timestamp


def test_batch_sent_at_corrects_a_client_clock_two_hours_behind(gateway_url, create_client, project_id, stored_events):
    # Given a client whose clock is 2 hours slow, sending two events queued 1 minute and 20 minutes earlier
    client = create_client(project_id)
    client_now = datetime.now(UTC) - timedelta(hours=2)
    body = {
        "sentAt": iso(client_now),
        "batch": [
            item("opened", __timestamp=iso(client_now - timedelta(minutes=20))),
            item("closed", __timestamp=iso(client_now - timedelta(minutes=1))),
        ],
    }

    # When the batch is sent
    status, _, answer = post(f"{gateway_url}/track/batch", json.dumps(body), auth_headers(client))

    # Then each event keeps its real distance from the send, and the older one counts as from the past
    assert status == 200, answer
    events = {event["name"]: event for event in stored_events(project_id)}
    for name, minutes in (("opened", 20), ("closed", 1)):
        event = events[name]
        delay = datetime.fromisoformat(event["receivedAt"]) - datetime.fromisoformat(event["createdAt"])
        assert delay == timedelta(minutes=minutes)
    assert events["opened"].get("fromPast") is True
    assert "fromPast" not in events["closed"]
