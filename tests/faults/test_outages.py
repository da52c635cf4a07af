"""A dependency stopped mid-run, then back, under a warm gateway of the test's own.

DynamoDB Local gone: the track function answers 503 with Retry-After, within the clients' timeouts, and
serves again by itself once a new DynamoDB Local is up. Never a 500/502.

Secrets Manager gone: the authorizer fails closed. API Gateway's AUTHORIZER_FAILURE (503 with Retry-After)
answers; never a 200 (nothing checked, nothing let through) and never a 401 for a client that may well be
valid. When Secrets Manager returns, the same gateway authorizes again.

The tests share one stack (starting one takes seconds); each brings back what it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from beacon.errors import DependencyUnavailableError
from beacon.store.aws import CLIENT_CONFIG
from beacon.store.clients import IssuedClientLookup, SecretsManagerClientStore
from beacon.store.device_salt import SecretsManagerStackSecret
from local.stack import free_port
from local.template import read_template
from tests.faults.private_stack import Answer, PrivateStack, private_stack, track_body
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function

pytestmark = pytest.mark.e2e
FUNCTION_TIMEOUT = float(read_template().data["Globals"]["Function"]["Timeout"])
RECOVERY_DEADLINE = 30.0
CANARY_IP = "198.51.100.78"  # the caller's public IP: the 503 path logs its reason, never this


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    with private_stack(tmp_path_factory.mktemp("outage-logs")) as running:
        yield running


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"].isdigit() and int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert body["status"] == 503 and body["error"]


def test_dynamodb_outage_is_503_with_retry_after_and_the_gateway_recovers_by_itself(stack: PrivateStack) -> None:
    # Given a warm gateway that has stored events for a client
    client = stack.new_client("dynamodb-outage", rate=1000, burst=1000)
    before = [stack.track(client, track_body("before", {"n": n})) for n in range(3)]
    assert [answer.status for answer in before] == [200, 200, 200]

    # When DynamoDB Local is stopped and the client keeps sending
    stack.stop_dynamodb()
    during = [stack.track(client, track_body("during", {"n": n}), [("X-Forwarded-For", CANARY_IP)]) for n in range(2)]

    # Then every answer is a JSON 503 with Retry-After, well within the function's timeout
    for answer in during:
        assert_unavailable(answer)
        assert answer.seconds < FUNCTION_TIMEOUT, f"took {answer.seconds:.1f}s"
    # And the reason was logged, without the caller's IP
    logs = stack.logs()
    assert "dependency unavailable" in logs and CANARY_IP not in logs

    # When a new (empty) DynamoDB Local comes up on the same port with the template's tables
    stack.start_dynamodb()

    # Then the same gateway process serves 200 again, without a restart, and only 503s before that
    answers: list[Answer] = []
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while time.monotonic() < deadline:
        answers.append(stack.track(client, track_body("after", {"n": len(answers)})))
        if answers[-1].status == 200:
            break
        assert_unavailable(answers[-1])
        time.sleep(0.5)
    assert answers[-1].status == 200, answers[-1]
    assert stack.gateway.poll() is None
    # And the event it accepted is in the new database
    events = stack.stack.boto3_client("dynamodb").scan(TableName="EventsTable")["Items"]
    assert [item["name"]["S"] for item in events if item["name"]["S"] != "session_start"] == ["after"]


def test_secrets_manager_outage_fails_closed_with_503_and_recovers(stack: PrivateStack) -> None:
    # Given a warm gateway and a valid client it has never seen (so no cached record to fall back on)
    warm = stack.new_client("secrets-outage")
    assert stack.track(warm, track_body("warm-up")).status == 200
    unseen = stack.new_client("secrets-outage")

    # When Secrets Manager goes away and the valid client sends an event
    stack.stop_secrets_manager()
    answer = stack.track(unseen, track_body("during-outage"))

    # Then the authorizer, which could not check it, neither lets it in nor calls it invalid: a JSON 503
    assert_unavailable(answer)
    assert answer.headers["x-amzn-errortype"] == "AUTHORIZER_FAILURE"

    # When Secrets Manager returns (empty, as after a restore) and the client's record is put back
    stack.start_secrets_manager()
    restored = stack.new_client("secrets-outage")

    # Then the same gateway process authorizes again
    assert stack.track(restored, track_body("after-outage")).status == 200
    assert stack.gateway.poll() is None


def test_authorizer_with_unreachable_secrets_manager_raises_what_api_gateway_maps_to_503() -> None:
    # Given the authorizer in-process, its client store pointing at a port where nothing listens
    authorizer: Any = load_function(
        "authorizer",
        {"CLIENT_SECRET_PREFIX": "beacon/faults/clients/", "CLIENT_ID_KEY_SECRET": "beacon/faults/client-id-key"},
    )
    dead = boto3.client(
        "secretsmanager",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=CLIENT_CONFIG.merge(Config(retries={"max_attempts": 1}, connect_timeout=1)),
    )
    # As the authorizer composes it: the gate (the legacy list, the stack key) and the records, all unreachable
    records = SecretsManagerClientStore("beacon/faults/clients/", cache_seconds=30, client=dead)
    store = IssuedClientLookup(records, SecretsManagerStackSecret("beacon/faults/client-id-key", client=dead))
    authorizer.client_store = lambda: store
    event: dict[str, Any] = load_event("authorizer")

    # When it is asked, twice, to check well-formed credentials
    for _ in range(2):
        with pytest.raises(DependencyUnavailableError) as raised:
            authorizer.lambda_handler(event, FakeLambdaContext())

        # Then it raises a dependency error every time: not "Unauthorized" (a 401), and the failed lookup
        # was not remembered as an unknown client
        assert str(raised.value) != "Unauthorized"
