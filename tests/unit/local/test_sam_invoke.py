"""What `sam local invoke` needs, checked without Docker: the committed env.json resolves every endpoint variable
the template declares, the declared-empty endpoints do not displace the local stack's, and the committed events
have the shapes `sam local generate-event` gives (base64 bodies, as API Gateway sends with binary media types)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.gateway import media_type_matches
from local.sam_events import ENDPOINT_PORTS, ENV_FILE, authorizer_event, default_ports, env_vars
from local.template import ROOT, read_template

SAM = ROOT / ".venv-sam" / "bin" / "sam"
EVENTS = sorted((ROOT / "events").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def test_every_function_declares_the_endpoints_of_the_services_it_calls_empty() -> None:
    # Given the template
    template = read_template()
    raw = {
        logical_id: template.resources[logical_id]["Properties"]["Environment"]["Variables"]
        for logical_id in template.endpoint_variables()
    }
    # Then each function names the endpoints its AWS calls need, declared empty (botocore then uses AWS's own)
    assert template.endpoint_variables() == {
        "AuthorizerFunction": ["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        "TrackFunction": ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        "ReadFunction": [
            "AWS_ENDPOINT_URL_ATHENA",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ],
        "PrivacyFunction": [
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_LAMBDA",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ],
        "LakeFunction": ["AWS_ENDPOINT_URL_FIREHOSE"],
        "ReaperFunction": ["AWS_ENDPOINT_URL_DYNAMODB"],
    }
    assert all(
        variables[name] == ""
        for logical_id, variables in raw.items()
        for name in template.endpoint_variables()[logical_id]
    )


def test_botocore_ignores_an_empty_endpoint_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an endpoint variable declared empty, as a deployed function has it
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
    # When a client is made
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    # Then it calls AWS's own endpoint
    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"


def test_the_committed_env_file_resolves_every_declared_endpoint_at_make_runs_ports() -> None:
    # Given the committed env.json and the template
    document = load(ENV_FILE)
    declared = read_template().endpoint_variables()
    # Then every declared variable of every function has a local address, and nothing else is there
    assert {logical_id: sorted(values) for logical_id, values in document.items()} == {
        logical_id: names for logical_id, names in declared.items() if names
    }
    assert all(value.startswith("http://127.0.0.1:") for values in document.values() for value in values.values())
    # And it is exactly what `make events` writes for `make run`'s default ports
    assert document == env_vars(read_template(), default_ports())


def test_declared_empty_endpoints_leave_the_local_stacks_own() -> None:
    # When the local stack reads the functions' environments from the template
    functions = read_template().functions()
    # Then no endpoint variable is among them (os.environ's local endpoints stay), the other variables are
    assert not [name for spec in functions.values() for name in spec.environment if name in ENDPOINT_PORTS]
    assert functions["TrackFunction"].environment["EVENTS_TABLE"]


def test_make_events_puts_a_clients_credentials_into_both_header_maps() -> None:
    # Given the committed authorizer event
    committed = load(ROOT / "events" / "authorizer.json")
    # When `make events` writes it for a new client
    event = authorizer_event(committed, "client-id", "sec_new")
    # Then both maps carry the new credentials, and the committed event is unchanged
    assert (event["headers"]["openpanel-client-id"], event["headers"]["openpanel-client-secret"]) == (
        "client-id",
        "sec_new",
    )
    assert event["multiValueHeaders"]["openpanel-client-secret"] == ["sec_new"]
    assert committed["headers"]["openpanel-client-secret"] != "sec_new"


def generated(*args: str) -> dict[str, Any]:
    answer = subprocess.run(
        [str(SAM), "local", "generate-event", "apigateway", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin"},
    )
    event: dict[str, Any] = json.loads(answer.stdout)
    return event


@pytest.fixture(scope="module")
def proxy_shape() -> dict[str, Any]:
    return generated("aws-proxy")


@pytest.fixture(scope="module")
def authorizer_shape() -> dict[str, Any]:
    return generated("request-authorizer")


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.stem)
def test_each_event_has_every_field_of_sam_generate_events_shape(
    path: Path, proxy_shape: dict[str, Any], authorizer_shape: dict[str, Any]
) -> None:
    # Given a committed event and the shape SAM generates for its kind
    event = load(path)
    shape = authorizer_shape if event.get("type") == "REQUEST" else proxy_shape
    # Then it has every top-level and requestContext field of that shape
    assert set(shape) <= set(event)
    assert set(shape["requestContext"]) <= set(event["requestContext"])


@pytest.mark.parametrize("path", [path for path in EVENTS if "body" in load(path)], ids=lambda path: path.stem)
def test_proxy_bodies_are_base64_as_api_gateway_sends_them_with_binary_media_types(path: Path) -> None:
    # Given a proxy event and the API's binary media types
    event = load(path)
    kinds = read_template().binary_media_types()
    content_type = next((value for name, value in event["headers"].items() if name.lower() == "content-type"), "")
    # Then a body is base64 (its content type is binary), and decodes to the JSON request
    if event["body"] is None:
        assert event["isBase64Encoded"] is False
        return
    assert any(media_type_matches(content_type, kind) for kind in kinds)
    assert event["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(event["body"]))["type"]
