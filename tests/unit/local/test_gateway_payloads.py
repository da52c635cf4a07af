"""The local gateway refuses what Lambda would: a proxy event over the synchronous invocation payload limit is a
413 in the API's error shape and never reaches the function (no sockets: the functions are fakes)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from local.gateway import LAMBDA_PAYLOAD_BYTES, LocalGateway, UsagePlans, content_length, invocation_payload_bytes
from local.template import Template, UsagePlanSpec, load_template
from tests.constants import CLIENT_ID

ALLOW = {
    "principalId": CLIENT_ID,
    "policyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "context": {"projectId": "project-a", "clientId": CLIENT_ID, "clientType": "write", "secretAuth": True},
    "usageIdentifierKey": "key",
}
ANSWER = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
HEADERS = [("Content-Type", "application/json"), ("User-Agent", "curl/8.5.0")]


class Recording:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.answer


@pytest.fixture
def gateway() -> Iterator[tuple[LocalGateway, Recording]]:
    saved = dict(os.environ)  # LocalGateway puts the functions' environment into the process
    try:
        plans = UsagePlans(lambda key, principal: UsagePlanSpec())
        gateway = LocalGateway(Template(copy.deepcopy(load_template())), plans)
        track = Recording(ANSWER)
        gateway.functions["AuthorizerFunction"] = Recording(ALLOW)
        gateway.functions["TrackFunction"] = track
        yield gateway, track
    finally:
        os.environ.clear()
        os.environ.update(saved)


def post(gateway: LocalGateway, body: bytes) -> Any:
    return gateway.handle("POST", "/track/batch", HEADERS, body, "203.0.113.7")


def test_the_largest_body_whose_event_fits_lambdas_limit_is_invoked_and_one_byte_more_is_a_413(gateway):
    gateway, track = gateway
    # Given the size of the event around a body (base64, as the template's */* binary media type has it)
    assert post(gateway, b"x" * 3).status == 200
    overhead = invocation_payload_bytes(track.events[0]) - 4  # "eHh4" is 4 of its bytes
    largest = (LAMBDA_PAYLOAD_BYTES - overhead) // 4 * 3  # base64 grows 4 bytes for every 3
    # When the largest body whose event fits is sent, Then the function gets it, and its event is at most the limit
    assert post(gateway, b"x" * largest).status == 200
    assert LAMBDA_PAYLOAD_BYTES - 4 < invocation_payload_bytes(track.events[-1]) <= LAMBDA_PAYLOAD_BYTES
    # When one byte more is sent, Then Lambda's refusal is a 413 in the API's error shape; the function never ran
    refused = post(gateway, b"x" * (largest + 1))
    assert refused.status == 413
    assert json.loads(refused.body) == {"error": "Request body too large", "status": 413}
    assert len(track.events) == 2


def test_the_event_is_measured_as_lambda_counts_it_compact_json_in_utf8():
    event = {"body": "é", "headers": {"a": "b"}}
    assert invocation_payload_bytes(event) == len('{"body":"é","headers":{"a":"b"}}'.encode())


@pytest.mark.parametrize(
    ("values", "length"),
    [([], 0), (["0"], 0), (["42"], 42), ([" 42 "], 42), (["42", "42"], 42)]
    + [([bad], None) for bad in ("-1", "+1", "abc", "", "1e3", "4 2", "٤٢", "0x10")]
    + [(["1", "2"], None)],
)
def test_only_one_plain_decimal_content_length_is_a_length(values, length):
    assert content_length(values) == length
