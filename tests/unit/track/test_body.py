"""Request bodies: base64 from API Gateway, gzip-decompressed with a limit that stops a zip bomb early."""

from __future__ import annotations

import base64
import gzip
import inspect
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zlib
from functools import cache
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from beacon.errors import InvalidRequestError, PayloadTooLargeError
from beacon.gateway.body import BeaconEnvelope, decode_body
from beacon.gateway.track_bodies import parse_batch, parse_track
from beacon.models.requests import TrackEventRequest
from tests.constants import ROOT
from tests.unit.support.fakes import FakeEventStore, tracked
from tests.unit.support.handlers import FakeLambdaContext, load_event

BATCH_LIMIT = 5 * 1024 * 1024  # the batch endpoint's decompressed-size limit (MAX_BATCH_BYTES)
BOMB_MEGABYTES = 50
TRACK_BODY = {"type": "track", "payload": {"name": "screen_view", "properties": {"path": "/pricing"}}}


@cache
def zip_bomb() -> bytes:
    """50 MB of zeros gzip-compressed to about 50 KB, built 1 MB at a time (never whole in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    parts = [compressor.compress(megabyte) for _ in range(BOMB_MEGABYTES)]
    return b"".join([*parts, compressor.flush()])


def as_api_gateway_sends(data: bytes) -> str:
    """API Gateway hands binary media types (the template's "*/*") to the function base64-encoded."""
    return base64.b64encode(data).decode()


# -- decode_body ----------------------------------------------------------------------------------------
def test_gzip_body_is_decompressed() -> None:
    # Given a JSON body compressed with gzip, as API Gateway delivers it (base64)
    raw = json.dumps(TRACK_BODY).encode()
    body = as_api_gateway_sends(gzip.compress(raw))

    # When it is decoded with Content-Encoding: gzip
    decoded = decode_body(body, True, "gzip", 64 * 1024)

    # Then the original bytes come out
    assert decoded == raw


@pytest.mark.parametrize("encoding", ["GZIP", " gzip ", "Gzip"])
def test_content_encoding_is_matched_whatever_its_case_and_spacing(encoding: str) -> None:
    # Given a gzip body labelled with an unusual spelling of gzip
    raw = b'{"batch": []}'

    # When it is decoded
    decoded = decode_body(as_api_gateway_sends(gzip.compress(raw)), True, encoding, 1024)

    # Then it is decompressed all the same
    assert decoded == raw


@pytest.mark.parametrize("encoding", [None, "", "identity"])
def test_uncompressed_body_is_passed_through(encoding: str | None) -> None:
    # Given an uncompressed body, base64 or plain text
    raw = json.dumps(TRACK_BODY).encode()

    # When it is decoded without a compressing Content-Encoding
    from_base64 = decode_body(as_api_gateway_sends(raw), True, encoding, 1024)
    from_text = decode_body(raw.decode(), False, encoding, 1024)

    # Then its bytes are returned as they are
    assert from_base64 == from_text == raw


def test_body_labelled_gzip_that_is_not_gzip_is_an_invalid_request() -> None:
    # Given a plain JSON body that claims to be gzip
    body = as_api_gateway_sends(json.dumps(TRACK_BODY).encode())

    # When it is decoded, Then it is refused as a 400 naming the problem
    with pytest.raises(InvalidRequestError, match="not valid gzip") as refused:
        decode_body(body, True, "gzip", 64 * 1024)
    assert refused.value.status == 400


@pytest.mark.parametrize("kept", [10, 0.5, -4], ids=["header only", "half", "all but the trailer"])
def test_truncated_gzip_body_is_an_invalid_request(kept: float) -> None:
    # Given a gzip body cut short (a client that dropped the end of its upload)
    compressed = gzip.compress(os.urandom(2048))  # incompressible, so every cut loses data
    cut = compressed[: int(len(compressed) * kept)] if isinstance(kept, float) else compressed[:kept]

    # When it is decoded, Then it is refused as a 400, never answered with part of a body
    with pytest.raises(InvalidRequestError) as refused:
        decode_body(as_api_gateway_sends(cut), True, "gzip", 64 * 1024)
    assert refused.value.status == 400


def test_zip_bomb_stops_at_the_limit_without_inflating_the_whole_output() -> None:
    # Given 50 MB of zeros compressed to about 50 KB, well under the compressed-size limit
    bomb = zip_bomb()
    assert len(bomb) < 100 * 1024

    # When it is decoded under the batch endpoint's 5 MB limit, with memory allocation traced
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError) as refused:
            decode_body(as_api_gateway_sends(bomb), True, "gzip", BATCH_LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it is refused as a 413, and decompression stopped near the limit instead of producing 50 MB
    assert refused.value.status == 413
    assert refused.value.message == f"Decompressed body exceeds {BATCH_LIMIT} bytes"
    assert peak < 3 * BATCH_LIMIT < BOMB_MEGABYTES * 1024 * 1024


def test_every_member_of_a_multi_member_gzip_body_is_read() -> None:
    # Given a body of two gzip members, as `cat a.gz b.gz` makes (RFC 1952: a gzip file is a series of members)
    first, second = b'{"batch": [', b"]}"

    # When it is decoded, Then both members' bytes come out, not only the first's
    body = as_api_gateway_sends(gzip.compress(first) + gzip.compress(second))
    assert decode_body(body, True, "gzip", 1024) == first + second == gzip.decompress(gzip.compress(first + second))


@pytest.mark.parametrize(
    "trailer",
    [
        pytest.param(b"junk", id="junk"),
        pytest.param(b"\x00" * 8, id="zero-padding"),
        pytest.param(b"\x1f", id="half-a-magic-number"),
        pytest.param(b',"more": 1}', id="plain-json"),
    ],
)
def test_bytes_after_the_last_gzip_member_are_an_invalid_request(trailer: bytes) -> None:
    # Given a valid gzip member followed by bytes that are not a gzip member
    body = as_api_gateway_sends(gzip.compress(json.dumps(TRACK_BODY).encode()) + trailer)

    # When it is decoded, Then it is refused as a 400, never answered with the first member alone
    with pytest.raises(InvalidRequestError, match="not valid gzip") as refused:
        decode_body(body, True, "gzip", 64 * 1024)
    assert refused.value.status == 400


def test_a_truncated_second_member_is_an_invalid_request() -> None:
    # Given a whole member followed by the first half of another
    second = gzip.compress(os.urandom(2048))
    body = as_api_gateway_sends(gzip.compress(b"{}") + second[: len(second) // 2])

    # When it is decoded, Then it is a 400
    with pytest.raises(InvalidRequestError):
        decode_body(body, True, "gzip", 64 * 1024)


def test_members_count_together_against_the_limit() -> None:
    # Given members that each fit the limit, and together exceed it by one byte
    limit = 4096
    exact = gzip.compress(b"x" * (limit - 100)) + gzip.compress(b"x" * 100)
    over = gzip.compress(b"x" * (limit - 100)) + gzip.compress(b"x" * 101)

    # When they are decoded, Then the first is whole and the second is a 413
    assert decode_body(as_api_gateway_sends(exact), True, "gzip", limit) == b"x" * limit
    with pytest.raises(PayloadTooLargeError):
        decode_body(as_api_gateway_sends(over), True, "gzip", limit)


def test_a_zip_bomb_of_many_members_stops_at_the_limit() -> None:
    # Given 50 members of 1 MB of zeros each (about 50 KB compressed in all)
    member = gzip.compress(bytes(1024 * 1024), compresslevel=9)
    bomb = member * BOMB_MEGABYTES
    assert len(bomb) < 100 * 1024

    # When it is decoded under the batch limit, with memory allocation traced
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError) as refused:
            decode_body(as_api_gateway_sends(bomb), True, "gzip", BATCH_LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it is a 413, and decompression stopped near the limit
    assert refused.value.message == f"Decompressed body exceeds {BATCH_LIMIT} bytes"
    assert peak < 3 * BATCH_LIMIT


def test_many_empty_members_are_refused_without_reading_them_all() -> None:
    # Given a body made of as many empty gzip members as fit the batch endpoint's compressed limit
    member = gzip.compress(b"")
    body = member * (BATCH_LIMIT // len(member))

    # When it is decoded, Then it is a 400 (no client sends that many members), found out quickly
    started = time.perf_counter()
    with pytest.raises(InvalidRequestError, match="gzip members"):
        decode_body(base64.b64encode(body).decode(), True, "gzip", BATCH_LIMIT)
    assert time.perf_counter() - started < 1.0


def test_decompressed_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_too_large() -> None:
    # Given two gzip bodies that expand to exactly the limit and to one byte more
    limit = 4096
    exact = as_api_gateway_sends(gzip.compress(b"x" * limit))
    over = as_api_gateway_sends(gzip.compress(b"x" * (limit + 1)))

    # When they are decoded, Then the first is whole and the second is a 413
    assert decode_body(exact, True, "gzip", limit) == b"x" * limit
    with pytest.raises(PayloadTooLargeError):
        decode_body(over, True, "gzip", limit)


def test_compressed_body_over_the_limit_is_too_large_before_it_is_decompressed() -> None:
    # Given a body whose compressed bytes alone exceed the limit (and are not even gzip)
    limit = 4096
    body = as_api_gateway_sends(os.urandom(limit + 1))

    # When it is decoded, Then it is a 413: its size is checked before any decompression
    with pytest.raises(PayloadTooLargeError, match=f"Request body exceeds {limit} bytes"):
        decode_body(body, True, "gzip", limit)


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, br"])
def test_unsupported_content_encoding_is_an_invalid_request(encoding: str) -> None:
    # Given a body compressed some other way than gzip
    body = as_api_gateway_sends(zlib.compress(json.dumps(TRACK_BODY).encode()))

    # When it is decoded, Then it is a 400 that tells the client to use gzip
    with pytest.raises(InvalidRequestError, match=r"Unsupported Content-Encoding .*\(use gzip\)"):
        decode_body(body, True, encoding, 64 * 1024)


# -- through the track function -----------------------------------------------------------------------
def compressed_request(path: str, data: bytes, encoding: str = "gzip") -> dict[str, Any]:
    """The committed track event, sent to `path` with a compressed body as API Gateway delivers it."""
    event = load_event("track")
    event["path"] = event["resource"] = path
    event["body"] = as_api_gateway_sends(data)
    event["isBase64Encoded"] = True
    event["headers"]["Content-Encoding"] = encoding
    event["multiValueHeaders"]["Content-Encoding"] = [encoding]
    return event


def invoke(track_app: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    response = track_app.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_gzip_track_request_is_accepted(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a track request whose body is gzip-compressed
    event = compressed_request("/track", gzip.compress(json.dumps(TRACK_BODY).encode()))

    # When the function handles it
    status, body = invoke(track_app, event)

    # Then the event is stored as if it had been sent uncompressed
    assert status == 200, body
    assert [(e.name, e.properties) for e in tracked(store)] == [("screen_view", {"path": "/pricing"})]
    assert body == {"deviceId": tracked(store)[0].device_id, "sessionId": tracked(store)[0].session_id}


def test_gzip_batch_request_is_accepted(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch of three events, gzip-compressed
    batch = {"batch": [{"type": "track", "payload": {"name": f"step_{i}"}} for i in range(3)]}
    event = compressed_request("/track/batch", gzip.compress(json.dumps(batch).encode()))

    # When the function handles it
    status, body = invoke(track_app, event)

    # Then all three are accepted and stored
    assert status == 200, body
    assert body["accepted"] == 3
    assert sorted(e.name for e in tracked(store)) == ["step_0", "step_1", "step_2"]


@pytest.mark.parametrize(("path", "limit_name"), [("/track", "max_body_bytes"), ("/track/batch", "max_batch_bytes")])
def test_zip_bomb_is_a_413_json_answer_and_stores_nothing(
    track_app: ModuleType, store: FakeEventStore, path: str, limit_name: str
) -> None:
    # Given 50 MB of zeros compressed to about 50 KB, sent as a gzip body
    event = compressed_request(path, zip_bomb())

    # When the function handles it
    status, body = invoke(track_app, event)

    # Then it answers 413 in the API's error shape, naming the endpoint's limit, and stores nothing
    limit = getattr(track_app.settings, limit_name)
    assert (status, body) == (413, {"error": f"Decompressed body exceeds {limit} bytes", "status": 413})
    assert store.events == []


def test_body_labelled_gzip_that_is_not_gzip_is_a_400(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given an uncompressed body labelled Content-Encoding: gzip
    event = compressed_request("/track", json.dumps(TRACK_BODY).encode())

    # When the function handles it
    status, body = invoke(track_app, event)

    # Then it is a 400 in the API's error shape, and nothing is stored
    assert (status, body) == (400, {"error": "Body is not valid gzip", "status": 400})
    assert store.events == []


def test_a_gzip_body_with_trailing_junk_is_a_400_and_stores_nothing(
    track_app: ModuleType, store: FakeEventStore
) -> None:
    # Given a gzip /track body with bytes after its member
    event = compressed_request("/track", gzip.compress(json.dumps(TRACK_BODY).encode()) + b"junk")

    # When the function handles it, Then it is a 400 in the API's error shape, and nothing is stored
    status, body = invoke(track_app, event)
    assert status == 400 and "not valid gzip" in body["error"]
    assert store.events == []


def test_a_two_member_gzip_batch_is_read_whole(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a batch whose JSON is split over two gzip members
    raw = json.dumps({"batch": [TRACK_BODY, {**TRACK_BODY, "payload": {"name": "second"}}]}).encode()
    event = compressed_request("/track/batch", gzip.compress(raw[:20]) + gzip.compress(raw[20:]))

    # When the function handles it, Then both items are stored
    status, body = invoke(track_app, event)
    assert (status, body["accepted"]) == (200, 2), body
    assert sorted(e.name for e in tracked(store)) == ["screen_view", "second"]


def test_unsupported_content_encoding_is_a_400(track_app: ModuleType, store: FakeEventStore) -> None:
    # Given a body labelled Content-Encoding: br
    event = compressed_request("/track/batch", json.dumps({"batch": [TRACK_BODY]}).encode(), encoding="br")

    # When the function handles it
    status, body = invoke(track_app, event)

    # Then it is a 400 telling the client to use gzip, and nothing is stored
    assert (status, body) == (400, {"error": "Unsupported Content-Encoding 'br' (use gzip)", "status": 400})
    assert store.events == []


# -- the Beacon envelope: Powertools' parser over the decoded body ---------------------------------------------
def proxy_event(body: bytes, encoding: str | None = None) -> dict[str, Any]:
    headers = {"Content-Encoding": encoding} if encoding else {}
    return {"body": as_api_gateway_sends(body), "isBase64Encoded": True, "headers": headers}


def test_powertools_parse_through_the_envelope_decodes_and_validates_a_gzip_body() -> None:
    # Given a gzip-compressed track body as API Gateway hands it over
    event = proxy_event(gzip.compress(json.dumps(TRACK_BODY).encode()), "GZIP")

    # When Powertools' parse() reads it through the Beacon envelope
    request = parse_track(event, 64 * 1024)

    # Then the request is the validated model of the decompressed body
    assert isinstance(request, TrackEventRequest)
    assert request.payload.name == "screen_view" and request.payload.properties.ordinary == {"path": "/pricing"}


def test_the_envelope_refuses_an_invalid_body_with_pydantics_error_and_an_oversized_one_with_a_413() -> None:
    # Given a body the contract refuses, and one over the limit
    invalid = proxy_event(json.dumps({"type": "track", "payload": {"name": ""}}).encode())
    oversized = proxy_event(json.dumps(TRACK_BODY).encode())

    # When each is parsed, then the first fails validation (a 400 by field) and the second is too large (413)
    with pytest.raises(ValidationError):
        parse_track(invalid, 64 * 1024)
    with pytest.raises(PayloadTooLargeError):
        parse_track(oversized, 16)


def test_a_batch_through_the_envelope_keeps_its_bytes_which_identify_it() -> None:
    # Given a batch body
    raw = json.dumps({"batch": [TRACK_BODY, "not an event"], "sentAt": "2026-03-01T12:00:00Z"}).encode()

    # When it is parsed through the envelope
    batch = parse_batch(proxy_event(raw), BATCH_LIMIT)

    # Then its items are still raw (each is validated on its own later) and its bytes are the body's
    assert batch.batch == [TRACK_BODY, "not an event"] and batch.sentAt == "2026-03-01T12:00:00Z"
    assert batch.body == raw


def test_the_envelope_keeps_powertools_envelope_contract_without_importing_every_built_in_envelope() -> None:
    # Given Powertools' own base class of envelopes
    from aws_lambda_powertools.utilities.parser.envelopes.base import BaseEnvelope

    # When the Beacon envelope's parse is compared with it, then it takes the same arguments
    assert list(inspect.signature(BeaconEnvelope.parse).parameters) == list(
        inspect.signature(BaseEnvelope.parse).parameters
    )
    # And importing the track function's body parsing imports none of Powertools' built-in envelopes (cold start)
    envelopes = "aws_lambda_powertools.utilities.parser.envelopes"
    probe = f"import sys, beacon.gateway.track_bodies; print({envelopes!r} in sys.modules)"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'beacon'}{os.pathsep}{ROOT}"}
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert answer.stdout.strip() == "False"
