"""The batch limit is one AWS can deliver: with the template's binary media type (*/*) every body reaches the
track function base64-encoded (4/3 of its bytes) inside the proxy event, and Lambda refuses a synchronous
invocation whose event exceeds 6 MB (Lambda quotas), well before API Gateway's 10 MB."""

from __future__ import annotations

import base64

from beacon.config import TrackSettings
from local.gateway import LAMBDA_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES
from local.template import read_template

# What the rest of a proxy event may take besides the body: API Gateway allows 10 KB of request line and headers,
# which the event carries twice (headers, multiValueHeaders), JSON-escaped, beside the request context and the
# authorizer's context. 64 KiB is several times that.
REST_OF_EVENT_BYTES = 64 * 1024


def base64_length(size: int) -> int:
    return len(base64.b64encode(b"x" * size))


def test_the_documented_batch_limit_fits_a_lambda_invocation_with_room_for_the_rest_of_the_event():
    # Given the batch limit the template sets and the one the track function defaults to
    template_limit = int(read_template().functions()["TrackFunction"].environment["MAX_BATCH_BYTES"])
    default_limit = TrackSettings.model_fields["max_batch_bytes"].default
    # Then they are the same, and a body of that size, base64 in the event, leaves room for the rest of the event
    assert template_limit == default_limit
    assert base64_length(template_limit) + REST_OF_EVENT_BYTES <= LAMBDA_PAYLOAD_BYTES < MAX_PAYLOAD_BYTES


def test_the_track_function_reads_its_batch_limit_from_the_environment():
    env = dict.fromkeys(("EVENTS_TABLE", "ENTITIES_TABLE", "SESSIONS_TABLE", "IDEMPOTENCY_TABLE"), "t")
    env |= {"REJECTED_EVENTS_TABLE": "t", "REPLAYS_TABLE": "t", "REPLAY_BUCKET": "b", "DEVICE_SALT_SECRET": "s"}
    env |= {"MAX_BATCH_BYTES": "2097152"}
    assert TrackSettings.from_env(env).max_batch_bytes == 2 * 1024 * 1024


def test_a_replay_chunk_at_its_bounds_fits_a_lambda_invocation_and_a_lambda_response():
    # Given the replay body limit, and the longest payload a read page may carry inline
    from beacon.domain.replays import REPLAY_PAGE_BYTES
    from beacon.models.requests import MAX_REPLAY_BODY_BYTES, MAX_REPLAY_PAYLOAD_CHARS

    # Then a 2 MiB payload fits the body even when JSON escaping doubles part of it, and the body, base64 in the
    # event, leaves room for the rest of the event inside Lambda's 6 MB
    assert MAX_REPLAY_PAYLOAD_CHARS * 3 // 2 <= MAX_REPLAY_BODY_BYTES
    assert base64_length(MAX_REPLAY_BODY_BYTES) + REST_OF_EVENT_BYTES <= LAMBDA_PAYLOAD_BYTES
    # And a read page (at least one chunk, whose stored payload is at most the body limit) stays under Lambda's 6 MB
    # response, escaped as JSON again (at most the body's escaping: the same text)
    assert max(REPLAY_PAGE_BYTES, MAX_REPLAY_BODY_BYTES) + REST_OF_EVENT_BYTES <= LAMBDA_PAYLOAD_BYTES
