"""Shared fixtures. Integration and end-to-end tests start the real local stack once per session
(DynamoDB Local in memory and the Secrets Manager emulator on free ports, tables from template.yaml)
and stop it afterwards, so no process outlives the run and a running `make run` is never touched."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# What template.yaml sets for every function, in place before any test imports Powertools
# (Logger/Metrics read these once, at import). No X-Ray daemon in tests.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "beacon")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Beacon")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from local.stack import LocalStack, free_port
from local.template import read_template
from tests.constants import ROOT


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(
        data_dir=None, log_dir=tmp_path_factory.mktemp("stack-logs"), lake_dir=tmp_path_factory.mktemp("lake")
    )
    try:
        stack.start_services()
        stack.prepare(read_template())
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def dynamodb(local_stack: LocalStack) -> Any:
    return local_stack.boto3_client("dynamodb")


@pytest.fixture(scope="session")
def secretsmanager(local_stack: LocalStack) -> Any:
    return local_stack.boto3_client("secretsmanager")


@pytest.fixture
def get_secret_value_calls(secretsmanager: Any) -> Iterator[list[str]]:
    """Every GetSecretValue the emulator's client sends, by secret id."""
    calls: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["SecretId"])

    secretsmanager.meta.events.register("provide-client-params.secrets-manager.GetSecretValue", count)
    yield calls
    secretsmanager.meta.events.unregister("provide-client-params.secrets-manager.GetSecretValue", count)


@pytest.fixture(scope="session")
def template_env() -> dict[str, str]:
    functions = read_template().functions()
    return {**functions["TrackFunction"].environment, **functions["AuthorizerFunction"].environment}


@pytest.fixture(scope="session")
def gateway_url(local_stack: LocalStack) -> str:
    port = free_port()
    local_stack.start_gateway(port)
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def body_credentials_gateway_url(local_stack: LocalStack) -> str:
    """A second gateway on the session's stack, with BodyCredentials "true" as the environment sets it for the local
    stack (docs/DESIGN.md §50); its log is gateway-body-credentials.log, its AWS calls recorded apart."""
    port = free_port()
    local_stack.start_gateway(port, {"BEACON_BODY_CREDENTIALS": "true"}, name="gateway-body-credentials")
    return f"http://127.0.0.1:{port}"


@dataclass
class LakeUnderTest:
    """The session's local lake: one local Firehose (the lake function's client keeps the first endpoint it is
    given), its Parquet files under `root`, and the template's environment of the lake function."""

    root: Path
    firehose: Any
    environment: dict[str, str]


@pytest.fixture(scope="session")
def local_lake(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeUnderTest]:
    from local.firehose import LocalFirehose

    assert local_stack.lake_dir is not None
    root = local_stack.lake_dir  # the local Athena (the insights) reads the same files
    firehose = LocalFirehose(root, flush_seconds=2.0)
    server = firehose.serve()
    # The lake function in this process reaches the local Firehose; nothing else here reads this variable.
    os.environ["AWS_ENDPOINT_URL_FIREHOSE"] = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        os.environ.setdefault(name, local_stack.env[name])
    try:
        yield LakeUnderTest(root, firehose, read_template().functions()["LakeFunction"].environment)
    finally:
        server.shutdown()


@pytest.fixture
def project_id() -> str:
    """A fresh project per test: tests never see each other's data."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def client_id_key(secretsmanager: Any, template_env: dict[str, str]) -> bytes:
    """The test stack's key that client ids are signed with (docs/DESIGN.md §4), from its generated secret."""
    from beacon.store.clients import read_client_id_key

    return read_client_id_key(template_env["CLIENT_ID_KEY_SECRET"], secretsmanager)


@pytest.fixture
def create_client(
    secretsmanager: Any, template_env: dict[str, str], client_id_key: bytes
) -> Callable[..., dict[str, str]]:
    from beacon.domain.auth import create_client as new_client
    from beacon.domain.entities import ClientType
    from beacon.store.clients import SecretsManagerClientStore

    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)

    def make(project: str, client_type: str = "write") -> dict[str, str]:
        record, secret = new_client(project, ClientType(client_type), datetime.now(UTC), id_key=client_id_key)
        store.put_client(record)
        return {"clientId": record.client_id, "clientSecret": secret, "projectId": project}

    return make


@pytest.fixture
def stored_events(dynamodb: Any, template_env: dict[str, str]) -> Callable[..., list[dict[str, Any]]]:
    """The event items of a project, read straight from DynamoDB Local (all write shards), oldest first.
    The session_start and session_end events Beacon adds itself are left out unless asked for."""
    from beacon.store.dynamodb import deserialize_item as item_to_dict
    from beacon.store.events import EVENT_SHARDS

    def read(project: str, with_session_starts: bool = False, with_session_ends: bool = False) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for shard in range(EVENT_SHARDS):
            response = dynamodb.query(
                TableName=template_env["EVENTS_TABLE"],
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"{project}#{shard}"}},
                ConsistentRead=True,
            )
            items += [item_to_dict(item) for item in response["Items"]]
        items = sorted(items, key=lambda item: item["sk"])
        left_out = {"session_start"} - ({"session_start"} if with_session_starts else set())
        left_out |= set() if with_session_ends else {"session_end"}
        return [item for item in items if item["name"] not in left_out]

    return read


@pytest.fixture
def unreachable_dynamodb() -> Any:
    """A DynamoDB client whose endpoint is a local port where nothing listens (one attempt, short timeouts)."""
    import boto3
    from botocore.config import Config

    from beacon.store.aws import CLIENT_CONFIG

    dead_port = free_port()  # bound and released at once: nothing listens there
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{dead_port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=CLIENT_CONFIG.merge(Config(retries={"max_attempts": 1}, connect_timeout=1)),
    )


@pytest.fixture
def aws_env(local_stack: LocalStack) -> dict[str, str]:
    """The environment a subprocess needs to reach the test stack."""
    return {**os.environ, **local_stack.env, "PYTHONPATH": f"{ROOT / 'layers' / 'beacon'}{os.pathsep}{ROOT}"}


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_stack: LocalStack) -> Path:
    """A state dir whose run.json names the test stack (and this live process), as `make run` writes it."""
    for name, value in local_stack.env.items():
        monkeypatch.setenv(name, value)
    run_file = tmp_path / "run.json"
    run_file.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "gatewayPort": 0,
                "dynamodbPort": local_stack.dynamodb_port,
                "secretsPort": local_stack.secrets_port,
            }
        )
    )
    import local.stack

    monkeypatch.setattr(local.stack, "RUN_FILE", run_file)
    monkeypatch.setattr(local.stack, "CLIENTS_FILE", tmp_path / "clients.json")
    return tmp_path


# -- the record of the functions' AWS calls (tests/security/test_aws_grants.py) ------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    """Record every AWS call a function makes, in this process and in every gateway a test starts (they inherit
    BEACON_RECORD_AWS_CALLS), for the whole session."""
    import tempfile

    from local.aws_calls import RECORD_ENV, install

    config.addinivalue_line("markers", "session_end: runs after every other test of the session (tests/conftest.py)")
    config.addinivalue_line("markers", "aws_grants_driver: drives a function through every AWS call it makes")
    record_dir = Path(tempfile.mkdtemp(prefix="beacon-aws-calls-"))
    config.stash[_RECORD_DIR] = record_dir
    os.environ[RECORD_ENV] = str(record_dir / "calls.jsonl")
    install(record_dir / "calls.jsonl", read_template())


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    record_dir = config.stash.get(_RECORD_DIR, None)
    if record_dir is not None:
        shutil.rmtree(record_dir, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The checks over the whole run go last; the grants' drivers are noted, so the check knows they ran."""
    from tests.security.aws_grants import DRIVERS_PASSED, DriverRuns

    last = [item for item in items if item.get_closest_marker("session_end")]
    items[:] = [item for item in items if not item.get_closest_marker("session_end")] + last
    drivers = {item.nodeid for item in items if item.get_closest_marker("aws_grants_driver")}
    config.stash[DRIVERS_PASSED] = DriverRuns(collected=drivers, passed=_PASSED)  # filled as tests pass


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        _PASSED.add(report.nodeid)


_RECORD_DIR = pytest.StashKey[Path]()
_PASSED: set[str] = set()
