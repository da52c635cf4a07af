"""`beacon clients …` against the test stack: the local mode through main(argv) (the Secrets Manager
emulator, clients.json in a temporary state dir), and the deployed-stack mode's API Gateway keys and usage
plans against moto's API Gateway (the same moto server, standing in for the stack's API and default plan)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from admin.clients import ApiGatewayKeys, ClientTarget, StackResources, main, parse_args, run
from beacon.domain.auth import ClientRecord, authenticate
from beacon.errors import InvalidCredentialsError
from beacon.store.clients import SecretsManagerClientStore, client_record_from_secret
from local.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def store(secretsmanager: Any, template_env: dict[str, str]) -> SecretsManagerClientStore:
    """No cache: every lookup sees what the CLI just wrote."""
    return SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)


@pytest.fixture
def beacon(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `beacon clients <argv>` in-process: its JSON output, and its stderr message."""

    def invoke(*argv: str) -> tuple[Any, str]:
        main(list(argv))
        captured = capsys.readouterr()
        return json.loads(captured.out), captured.err

    return invoke


def saved_records(state_dir: Path, client_id: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((state_dir / "clients.json").read_text())
    return [record for record in records if record["clientId"] == client_id]


def stored_values(record: ClientRecord) -> list[str]:
    """Everything list/show must never print."""
    previous = [value for secret in record.previous_secrets for value in (secret.salt, secret.hash)]
    return [record.secret_hash, record.secret_salt, record.api_key, *previous]


def test_created_client_authenticates_with_the_printed_secret(beacon, store, state_dir, project_id):
    # When a client is created through the CLI
    created, message = beacon("create", "--project", project_id, "--rate", "2", "--burst", "4")
    # Then the printed secret authenticates it, and its rate limit is kept
    caller = authenticate(created["clientId"], created["clientSecret"], None, store, datetime.now(UTC)).caller
    assert (caller.project_id, caller.client_id) == (project_id, created["clientId"])
    assert (created["rate"], created["burst"], created["type"]) == (2.0, 4, "write")
    assert "not shown again" in message
    # And clients.json holds its record, with hashes and never the plain secret
    [saved] = saved_records(state_dir, created["clientId"])
    assert created["clientSecret"] not in (state_dir / "clients.json").read_text()
    assert client_record_from_secret(json.dumps(saved)) == store.get_client(created["clientId"])


def test_list_and_show_print_no_secret_hash_salt_or_api_key(beacon, store, project_id):
    # Given a client of the project, rotated once (so it also has a previous hash)
    created, _ = beacon("create", "--project", project_id, "--origin", "https://app.example")
    rotated, _ = beacon("rotate", created["clientId"])
    record = store.get_client(created["clientId"])
    assert record is not None
    # When the project's clients are listed and the client is shown
    listed, _ = beacon("list", "--project", project_id)
    shown, _ = beacon("show", created["clientId"])
    # Then both describe it
    assert [client["clientId"] for client in listed] == [created["clientId"]]
    assert listed[0] == shown
    assert shown["projectId"] == project_id
    assert shown["origins"] == ["https://app.example"]
    assert shown["status"] == "rotating"
    # And neither prints a secret, a hash, a salt or the API key
    printed = json.dumps(listed) + json.dumps(shown)
    for value in [created["clientSecret"], rotated["clientSecret"], *stored_values(record)]:
        assert value not in printed
    for field in ("clientSecret", "secretHash", "secretSalt", "apiKey", "previousSecrets"):
        assert field not in printed


def test_list_without_a_project_includes_clients_of_every_project(beacon, project_id):
    # Given clients of two projects
    first, _ = beacon("create", "--project", project_id)
    second, _ = beacon("create", "--project", project_id + "-other")
    # When every client is listed, Then both are there
    listed, _ = beacon("list")
    assert {first["clientId"], second["clientId"]} <= {client["clientId"] for client in listed}


def test_rotate_keeps_the_old_secret_working_until_the_grace_ends(beacon, store, state_dir, project_id):
    # Given a client
    created, _ = beacon("create", "--project", project_id)
    client_id, old_secret = created["clientId"], created["clientSecret"]
    # When its secret is rotated with a 2-hour grace
    before = datetime.now(UTC)
    rotated, message = beacon("rotate", client_id, "--grace-hours", "2")
    new_secret = rotated["clientSecret"]
    # Then the new secret works, and so does the old one within the grace
    assert new_secret != old_secret
    assert authenticate(client_id, new_secret, None, store, datetime.now(UTC)).caller.client_id == client_id
    assert authenticate(client_id, old_secret, None, store, datetime.now(UTC)).caller.client_id == client_id
    valid_until = datetime.fromisoformat(rotated["previousSecretValidUntil"])
    assert before + timedelta(hours=2) <= valid_until <= datetime.now(UTC) + timedelta(hours=2)
    assert rotated["previousSecretValidUntil"] in message
    # And after the grace only the new secret works
    later = valid_until + timedelta(seconds=1)
    with pytest.raises(InvalidCredentialsError):
        authenticate(client_id, old_secret, None, store, later)
    assert authenticate(client_id, new_secret, None, store, later).caller.client_id == client_id
    # And clients.json holds the rotated record in place of the old one
    [saved] = saved_records(state_dir, client_id)
    assert client_record_from_secret(json.dumps(saved)) == store.get_client(client_id)
    assert new_secret not in (state_dir / "clients.json").read_text()


def test_rotate_grants_24_hours_of_grace_by_default(beacon, project_id):
    created, _ = beacon("create", "--project", project_id)
    rotated, _ = beacon("rotate", created["clientId"])
    valid_until = datetime.fromisoformat(rotated["previousSecretValidUntil"])
    assert timedelta(hours=23, minutes=59) < valid_until - datetime.now(UTC) <= timedelta(hours=24)


def test_revoked_client_no_longer_authenticates(beacon, store, state_dir, project_id):
    # Given a client that authenticates
    created, _ = beacon("create", "--project", project_id, "--origin", "https://app.example")
    client_id, secret = created["clientId"], created["clientSecret"]
    authenticate(client_id, secret, None, store, datetime.now(UTC))
    # When it is revoked
    revoked, message = beacon("revoke", client_id)
    # Then neither its secret nor its allowed origin authenticates it (a store without a cache)
    with pytest.raises(InvalidCredentialsError):
        authenticate(client_id, secret, None, store, datetime.now(UTC))
    with pytest.raises(InvalidCredentialsError):
        authenticate(client_id, None, "https://app.example", store, datetime.now(UTC))
    # And the operator is told how long a warm authorizer may still accept it
    assert revoked["status"] == "revoked"
    assert revoked["revokedAt"] is not None
    assert "within 30 s" in message
    # And clients.json holds the revoked record in place of the old one
    [saved] = saved_records(state_dir, client_id)
    assert saved["revokedAt"] == revoked["revokedAt"]


def test_revoking_twice_keeps_the_first_revocation_time(beacon, project_id):
    created, _ = beacon("create", "--project", project_id)
    first, _ = beacon("revoke", created["clientId"])
    second, message = beacon("revoke", created["clientId"])
    assert second["revokedAt"] == first["revokedAt"]
    assert "already revoked" in message


def test_a_revoked_client_cannot_be_rotated(beacon, project_id, capsys):
    created, _ = beacon("create", "--project", project_id)
    beacon("revoke", created["clientId"])
    with pytest.raises(SystemExit, match="was revoked"):
        main(["rotate", created["clientId"]])
    assert capsys.readouterr().out == ""


def test_unknown_client_is_a_clear_error(beacon):
    with pytest.raises(SystemExit, match="no client 00000000-0000-4000-8000-000000000000 in the local stack"):
        main(["show", "00000000-0000-4000-8000-000000000000"])


def test_without_a_running_local_stack_the_cli_says_to_start_one(state_dir):
    (state_dir / "run.json").unlink()
    with pytest.raises(SystemExit, match="make run"):
        main(["list"])


# --- Deployed-stack mode: API Gateway keys and usage plans, against moto's API Gateway ---------------


@pytest.fixture
def apigateway(local_stack: LocalStack) -> Any:
    # moto's server answers every AWS service on its port, API Gateway included.
    return boto3.client(
        "apigateway",
        endpoint_url=local_stack.env["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def stack_resources(apigateway: Any, template_env: dict[str, str]) -> StackResources:
    """What a deployed stack's outputs name: a REST API with a stage, and its default usage plan."""
    api_id = apigateway.create_rest_api(name="beacon-test")["id"]
    root_id = next(item["id"] for item in apigateway.get_resources(restApiId=api_id)["items"] if item["path"] == "/")
    # moto, like API Gateway, deploys only an API that has a method.
    apigateway.put_method(restApiId=api_id, resourceId=root_id, httpMethod="POST", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root_id, httpMethod="POST", type="MOCK")
    apigateway.create_deployment(restApiId=api_id, stageName="v1")
    default_plan = apigateway.create_usage_plan(
        name="beacon-test-default",
        apiStages=[{"apiId": api_id, "stage": "v1"}],
        throttle={"rateLimit": 50.0, "burstLimit": 100},
    )
    return StackResources(
        stack_name="test",
        client_secret_prefix=template_env["CLIENT_SECRET_PREFIX"],
        api_id=api_id,
        stage_name="v1",
        default_usage_plan_id=default_plan["id"],
        client_id_key_secret=template_env["CLIENT_ID_KEY_SECRET"],
    )


@pytest.fixture
def aws(
    apigateway: Any, stack_resources: StackResources, store: SecretsManagerClientStore, client_id_key: bytes
) -> ClientTarget:
    return ClientTarget(store=store, keys=ApiGatewayKeys(apigateway, stack_resources), id_key=lambda: client_id_key)


def beacon_aws(target: ClientTarget, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[Any, str]:
    """`beacon clients <argv> --stack-name test`, with the stack's resources given rather than read from
    CloudFormation."""
    run(parse_args([*argv, "--stack-name", "test"]), target)
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def api_key_named(apigateway: Any, name: str) -> dict[str, Any]:
    [key] = [key for key in apigateway.get_api_keys(nameQuery=name, includeValues=True)["items"] if key["name"] == name]
    return dict(key)


def test_a_created_client_gets_its_api_key_in_the_default_usage_plan(
    aws, apigateway, stack_resources, capsys, project_id
):
    # When a client is created in the deployed stack
    created, message = beacon_aws(aws, capsys, "create", "--project", project_id)
    # Then its API key holds the record's value, is enabled, and is in the default usage plan
    record = aws.store.get_client(created["clientId"])
    assert record is not None
    key = api_key_named(apigateway, f"beacon-{created['clientId']}")
    assert (key["value"], key["enabled"]) == (record.api_key, True)
    plans = apigateway.get_usage_plans(keyId=key["id"])["items"]
    assert [plan["id"] for plan in plans] == [stack_resources.default_usage_plan_id]
    assert "default usage plan" in message
    # And the printed credentials never include the API key
    assert record.api_key not in json.dumps(created)


def test_a_client_with_rate_and_burst_gets_a_usage_plan_of_its_own(
    aws, apigateway, stack_resources, capsys, project_id
):
    # When a client is created with its own rate and burst
    created, _ = beacon_aws(aws, capsys, "create", "--project", project_id, "--rate", "5", "--burst", "10")
    # Then its key is in a plan of its own, on the stack's API stage, with that throttle
    key = api_key_named(apigateway, f"beacon-{created['clientId']}")
    [plan] = apigateway.get_usage_plans(keyId=key["id"])["items"]
    assert plan["id"] != stack_resources.default_usage_plan_id
    assert plan["throttle"] == {"rateLimit": 5.0, "burstLimit": 10}
    assert plan["apiStages"] == [{"apiId": stack_resources.api_id, "stage": "v1"}]
    assert plan["name"] == f"beacon-test-{created['clientId']}"


def test_revoke_disables_the_api_key(aws, apigateway, store, capsys, project_id):
    # Given a client of the deployed stack
    created, _ = beacon_aws(aws, capsys, "create", "--project", project_id)
    # When it is revoked
    _, message = beacon_aws(aws, capsys, "revoke", created["clientId"])
    # Then its API key is disabled and its record revoked
    assert api_key_named(apigateway, f"beacon-{created['clientId']}")["enabled"] is False
    assert "is disabled" in message
    with pytest.raises(InvalidCredentialsError):
        authenticate(created["clientId"], created["clientSecret"], None, store, datetime.now(UTC))


def test_rotate_keeps_the_api_key(aws, apigateway, store, capsys, project_id):
    created, _ = beacon_aws(aws, capsys, "create", "--project", project_id)
    before = store.get_client(created["clientId"])
    rotated, _ = beacon_aws(aws, capsys, "rotate", created["clientId"])
    after = store.get_client(created["clientId"])
    assert before is not None and after is not None
    assert after.api_key == before.api_key
    assert api_key_named(apigateway, f"beacon-{created['clientId']}")["enabled"] is True
    assert authenticate(created["clientId"], rotated["clientSecret"], None, store, datetime.now(UTC))


class UnwritableStore(SecretsManagerClientStore):
    """Secrets Manager refuses the new record (e.g. access denied)."""

    def put_client(self, record: ClientRecord) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "CreateSecret")


def test_a_record_that_cannot_be_stored_leaves_no_api_key_or_usage_plan(
    apigateway, stack_resources, template_env, client_id_key, capsys, project_id
):
    # Given a deployed stack whose Secrets Manager refuses the record
    store = UnwritableStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0)
    target = ClientTarget(store=store, keys=ApiGatewayKeys(apigateway, stack_resources), id_key=lambda: client_id_key)
    keys_before = {key["id"] for key in apigateway.get_api_keys()["items"]}
    plans_before = {plan["id"] for plan in apigateway.get_usage_plans()["items"]}
    # When a client with its own rate limit is created
    with pytest.raises(ClientError):
        run(parse_args(["create", "--project", project_id, "--rate", "1", "--burst", "1", "--stack-name", "t"]), target)
    # Then the key and the plan made for it are gone again, and nothing was printed
    assert {key["id"] for key in apigateway.get_api_keys()["items"]} == keys_before
    assert {plan["id"] for plan in apigateway.get_usage_plans()["items"]} == plans_before
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "could not undo" not in captured.err
