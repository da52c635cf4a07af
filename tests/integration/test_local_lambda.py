"""The local Lambda Invoke endpoint (local/lambda_invoke.py) as boto3 calls it: an asynchronous event is answered
202 and run after, in order, and retried when it fails; a synchronous invoke answers the function's result; an
unknown function is Lambda's ResourceNotFoundException."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.lambda_invoke import LocalLambda, function_name_of, local_port, make_handler
from local.stack import free_port
from local.template import FunctionSpec

HANDLER = """
import json, os, pathlib
JOURNAL = pathlib.Path(os.environ["BEACON_TEST_JOURNAL"])
def lambda_handler(event, context):
    lines = JOURNAL.read_text().splitlines() if JOURNAL.exists() else []
    JOURNAL.write_text("\\n".join([*lines, json.dumps(event)]) + "\\n")
    if event.get("fail") and len(lines) < 1:
        raise RuntimeError("first attempt fails")
    return {"seen": event, "name": context.function_name}
"""


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from http.server import ThreadingHTTPServer
    from threading import Thread

    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(HANDLER)
    monkeypatch.setenv("BEACON_TEST_JOURNAL", str(tmp_path / "journal"))
    spec = FunctionSpec("EchoFunction", tmp_path / "fn", "app.lambda_handler", {}, function_name="local-echo")
    lambdas = LocalLambda({"EchoFunction": spec}, retry_delays=(0.05,))
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(lambdas))
    Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client, lambdas, tmp_path / "journal"
    server.shutdown()


def test_an_event_invoke_answers_202_then_runs_and_a_failed_run_is_retried(endpoint: Any) -> None:
    client, lambdas, journal = endpoint
    # When the function is invoked asynchronously by its deployed name, with an event whose first run fails
    answer = client.invoke(FunctionName="local-echo", InvocationType="Event", Payload=json.dumps({"fail": True}))
    # Then the call is accepted at once, and the event runs after it, twice: the failure, then the retry
    assert answer["StatusCode"] == 202
    assert lambdas.wait_idle(10)
    assert [json.loads(line) for line in journal.read_text().splitlines()] == [{"fail": True}, {"fail": True}]


def test_a_request_response_invoke_answers_the_functions_result_by_name_or_arn(endpoint: Any) -> None:
    client, _, _ = endpoint
    arn = "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction:live"
    for name in ("local-echo", arn):
        answer = client.invoke(FunctionName=name, Payload=json.dumps({"n": 1}))
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == {"seen": {"n": 1}, "name": "local-echo"}


def test_an_unknown_function_is_resource_not_found(endpoint: Any) -> None:
    client, _, _ = endpoint
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="nobody", InvocationType="Event", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_names_and_endpoints() -> None:
    assert function_name_of("123456789012:function:local-privacy") == "local-privacy"
    assert function_name_of("local-privacy:live") == "local-privacy"
    assert local_port("http://127.0.0.1:8004") == 8004
    assert local_port("https://lambda.us-east-1.amazonaws.com") is None
