"""What a request can make the local gateway do with its size: no more than AWS would let it.

- A body whose proxy event would exceed Lambda's 6 MB invocation limit (base64, as every body reaches the track
  function) never reaches the function: 413 in the API's error shape. One up to the batch limit does.
- A Content-Length no one can read to the end of (-1, not a number, more than is sent) gets a 400 and the
  connection closed, instead of a gateway thread waiting on it forever.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from beacon.config import TrackSettings
from local.gateway import LAMBDA_PAYLOAD_BYTES, LocalGateway, make_handler
from local.template import read_template

pytestmark = pytest.mark.e2e
BATCH_LIMIT = TrackSettings.model_fields["max_batch_bytes"].default


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def writer_headers(create_client: Callable[..., dict[str, str]], project_id: str) -> dict[str, str]:
    client = create_client(project_id)
    return {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": "curl/8.5.0",
    }


def batch_of_size(size: int) -> bytes:
    """A valid batch of three events, padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps({"batch": [{"type": "track", "payload": {"name": f"step_{i}"}} for i in range(3)]}).encode()
    return body + b" " * (size - len(body))


def test_a_batch_of_exactly_the_limit_is_stored_and_one_byte_more_is_the_functions_413(gateway_url, writer_headers):
    # Given uncompressed batch bodies of exactly the batch limit and of one byte more
    exact, over = batch_of_size(BATCH_LIMIT), batch_of_size(BATCH_LIMIT + 1)
    # When each is posted through the gateway
    stored = post(f"{gateway_url}/track/batch", exact, writer_headers)
    refused = post(f"{gateway_url}/track/batch", over, writer_headers)
    # Then the first reaches the function and is stored; the second reaches it too, and the function refuses it
    assert stored[0] == 200 and stored[2]["accepted"] == 3, stored[2]
    assert refused[0] == 413
    assert refused[2] == {"error": f"Request body exceeds {BATCH_LIMIT} bytes", "status": 413}
    assert "x-amzn-ErrorType" not in refused[1]


def test_a_body_lambda_cannot_be_invoked_with_is_the_gateways_413_below_api_gateways_10_mb(gateway_url, writer_headers):
    # Given a body whose base64 alone is over Lambda's invocation limit, though under API Gateway's 10 MB
    size = LAMBDA_PAYLOAD_BYTES * 3 // 4 + 1024
    # When it is posted, Then it is refused before any function runs, in the API's error shape
    status, headers, body = post(f"{gateway_url}/track/batch", b" " * size, writer_headers)
    assert (status, body) == (413, {"error": "Request body too large", "status": 413})
    assert headers["x-amzn-ErrorType"] == "REQUEST_TOO_LARGE"


# -- Content-Length ------------------------------------------------------------------------------------------------
@pytest.fixture
def gateway_port() -> Iterator[int]:
    """A gateway of this test's own, in this process, that waits at most 1 s for a body."""
    from http.server import ThreadingHTTPServer

    saved = dict(os.environ)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(LocalGateway(read_template()), body_seconds=1.0))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        os.environ.clear()
        os.environ.update(saved)


def exchange(port: int, head: bytes, body: bytes = b"", timeout: float = 5) -> tuple[bytes, float, bool]:
    """Send a request's head and `body`, keep the connection open; the answer, how long it took, and whether the
    gateway closed the connection afterwards."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return answer, time.monotonic() - started, True
            answer += chunk
            if b"\r\n\r\n" in answer:
                head_part, _, rest = answer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head_part.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                if len(rest) >= length:
                    try:
                        closed = sock.recv(1) == b""
                    except TimeoutError:
                        closed = False
                    return answer, time.monotonic() - started, closed


def request_head(length: str) -> bytes:
    return (
        f"POST /track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(("length", "body"), [("-1", b"{}"), ("abc", b"{}"), ("100", b'{"type": "track"}')])
def test_a_content_length_that_cannot_be_read_to_its_end_is_a_400_and_the_connection_is_closed(
    gateway_port, length, body
):
    # When a request announces a length no one can read to the end of, and keeps its connection open
    answer, seconds, closed = exchange(gateway_port, request_head(length), body)
    # Then the gateway answers 400 in the API's error shape within its body timeout, and closes the connection
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert json.loads(payload) == {"error": "Bad request", "status": 400}
    assert b"connection: close" in head.lower()
    assert closed and seconds < 3
