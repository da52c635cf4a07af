"""Every AWS client the functions use has explicit timeouts and retries, each attempt shorter than the
function's own timeout, so a slow dependency becomes a 503 from our code rather than a Lambda timeout."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, TypeGuard

import pytest

from beacon.store import aws
from beacon.store.aws import CLIENT_CONFIG as _CLIENT_CONFIG
from local.template import load_template
from tests.constants import ROOT

RUNTIME_CODE = [ROOT / "layers" / "beacon" / "beacon", ROOT / "functions"]
BOTOCORE_DEFAULT_TIMEOUT = 60  # seconds, connect and read alike
CLIENT_CONFIG: Any = _CLIENT_CONFIG  # botocore's Config declares its options dynamically


def function_timeouts() -> dict[str, float]:
    template = load_template()
    default = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)  # Lambda's default is 3 s
    return {
        name: float(resource["Properties"].get("Timeout", default))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_client_config_sets_timeouts_and_retries_explicitly() -> None:
    # Given the one botocore Config every client is built with
    config = CLIENT_CONFIG
    # Then connect and read timeouts are set, and not left at botocore's 60 s
    assert config.connect_timeout is not None and 0 < config.connect_timeout < BOTOCORE_DEFAULT_TIMEOUT
    assert config.read_timeout is not None and 0 < config.read_timeout < BOTOCORE_DEFAULT_TIMEOUT
    # And the retry mode and attempt count are chosen, not inherited from the environment
    assert config.retries is not None and config.retries["mode"] == "standard"
    assert {"max_attempts", "total_max_attempts"} & set(config.retries)


@pytest.mark.parametrize("function", sorted(function_timeouts()))
def test_one_attempt_of_any_aws_call_fits_in_the_function_timeout(function: str) -> None:
    # Given the function's timeout in template.yaml
    timeout = function_timeouts()[function]
    # Then connecting and reading once take less than the whole function may
    attempt = float(CLIENT_CONFIG.connect_timeout) + float(CLIENT_CONFIG.read_timeout)
    assert attempt < timeout, f"{function}: one attempt may take {attempt}s of its {timeout}s"


@pytest.mark.parametrize("factory", [aws.dynamodb_client, aws.secretsmanager_client])
def test_the_shared_clients_are_built_with_the_client_config(factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Lambda-like environment (a region, no endpoint override)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # When a client is built the way the functions build theirs (bypassing the per-container cache)
    client = factory.__wrapped__()
    # Then it carries the explicit timeouts and the standard retry mode
    config: Any = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (CLIENT_CONFIG.connect_timeout, CLIENT_CONFIG.read_timeout)
    assert config.retries["mode"] == "standard"


def _creates_client(node: ast.AST) -> TypeGuard[ast.Call]:
    """A call to `<something>.client(...)` or `.resource(...)` whose first argument is a service name."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("client", "resource")
        and bool(node.args)
        and isinstance(node.args[0], (ast.Constant, ast.Name))
    )


def test_no_runtime_code_builds_an_aws_client_outside_store_aws() -> None:
    # Given every Python file the Lambda functions and their layer run
    offenders = []
    for folder in RUNTIME_CODE:
        for path in folder.rglob("*.py"):
            if path == Path(aws.__file__).resolve():
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree) if _creates_client(node)]
    # Then none builds its own boto3 client (which would miss CLIENT_CONFIG's timeouts)
    assert offenders == []
