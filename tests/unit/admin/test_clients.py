"""`beacon clients …` without sockets: argument parsing, what each command prints, clients.json upkeep,
the CloudFormation output lookup and the API Gateway calls (against fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

import admin.clients as clients_cli
from admin.__main__ import main as admin_main
from admin.aws import use_aws_options
from admin.clients import (
    DEFAULT_GRACE_HOURS,
    ApiGatewayKeys,
    ClientAdminError,
    ClientTarget,
    StackResources,
    client_summary,
    credentials_output,
    env_output,
    parse_args,
    previous_secret_valid_until,
    read_stack_resources,
    run,
    save_local_client,
)
from beacon.domain.auth import (
    ClientRecord,
    SecretHash,
    client_id_signature_valid,
    create_client,
    is_signed_client_id,
    revoke_client,
    rotate_secret,
)
from beacon.domain.entities import ClientType
from beacon.store.clients import client_record_from_secret
from tests.constants import CLIENT_ID_KEY, NOW

RESOURCES = StackResources(
    stack_name="prod",
    client_secret_prefix="beacon/prod/clients/",
    api_id="api123",
    stage_name="v1",
    default_usage_plan_id="default-plan",
    client_id_key_secret="arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/prod/client-id-key",
)
SUMMARY_FIELDS = {
    "clientId",
    "projectId",
    "type",
    "origins",
    "rate",
    "burst",
    "createdAt",
    "revokedAt",
    "status",
    "previousSecretValidUntil",
}


def new_client(project: str = "shop", **options: Any) -> tuple[ClientRecord, str]:
    return create_client(project, ClientType.WRITE, NOW, **options, id_key=CLIENT_ID_KEY)


class FakeClientStore:
    """The client store the commands use, over a dict."""

    def __init__(self, *records: ClientRecord) -> None:
        self.records = {record.client_id: record for record in records}
        self.updates: list[ClientRecord] = []
        self.legacy_ids: list[str] | None = None

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None:
        return self.records.get(client_id)

    def put_client(self, record: ClientRecord) -> None:
        self.records[record.client_id] = record

    def update_client(self, record: ClientRecord) -> None:
        self.records[record.client_id] = record
        self.updates.append(record)

    def list_clients(self) -> list[ClientRecord]:
        return list(self.records.values())

    def put_legacy_client_ids(self, client_ids: Iterable[str]) -> None:
        self.legacy_ids = sorted(client_ids)


def api_error(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, operation)


class FakeApiGateway:
    """The API Gateway calls ApiGatewayKeys makes; it records them, and fails the ones it is told to."""

    def __init__(self, fail: set[str] | None = None, keys: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail or set()
        self.keys = keys or []
        self.page_size = 2

    def __getattr__(self, operation: str) -> Any:
        def call(**arguments: Any) -> dict[str, Any]:
            self.calls.append((operation, arguments))
            if operation in self.fail:
                raise api_error(operation)
            if operation == "create_api_key":
                return {"id": "key-1"}
            if operation == "create_usage_plan":
                return {"id": "own-plan"}
            if operation == "get_api_keys":
                start = int(arguments.get("position", 0))
                matching = [key for key in self.keys if key["name"].startswith(arguments["nameQuery"])]
                page = matching[start : start + self.page_size]
                more = start + self.page_size < len(matching)
                return {"items": page, **({"position": str(start + self.page_size)} if more else {})}
            return {}

        return call

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        outputs = [{"OutputKey": key, "OutputValue": value} for key, value in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


def printed(capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


# --- Arguments ---------------------------------------------------------------------------------------


def test_create_defaults_to_a_write_client_on_the_local_stack_with_the_default_plan() -> None:
    args = parse_args(["create", "--project", "shop"])
    assert (args.command, args.project, args.type, args.origin) == ("create", "shop", "write", "")
    assert (args.rate, args.burst, args.stack_name) == (None, None, None)


def test_create_reads_rate_burst_origins_and_stack() -> None:
    args = parse_args(
        [
            *["create", "--project", "shop", "--type", "read", "--origin", "https://a.example"],
            *["--rate", "2.5", "--burst", "5", "--stack-name", "prod"],
        ]
    )
    assert (args.type, args.origin, args.rate, args.burst, args.stack_name) == (
        "read",
        "https://a.example",
        2.5,
        5,
        "prod",
    )


@pytest.mark.parametrize(
    "extra",
    [["--rate", "5"], ["--burst", "5"], ["--rate", "0", "--burst", "5"], ["--rate", "5", "--burst", "0"]],
    ids=["rate-without-burst", "burst-without-rate", "zero-rate", "zero-burst"],
)
def test_create_refuses_an_incomplete_or_empty_rate_limit(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["create", "--project", "shop", *extra])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--rate" in error or "--burst" in error


def test_rotate_grace_defaults_to_the_domain_grace_of_24_hours() -> None:
    args = parse_args(["rotate", "00000000-0000-4000-8000-000000000000"])
    assert args.grace_hours == DEFAULT_GRACE_HOURS == 24


def test_rotate_takes_a_grace_in_hours_but_never_a_negative_one() -> None:
    assert parse_args(["rotate", "id", "--grace-hours", "0.5"]).grace_hours == 0.5
    assert parse_args(["rotate", "id", "--grace-hours", "0"]).grace_hours == 0
    with pytest.raises(SystemExit):
        parse_args(["rotate", "id", "--grace-hours", "-1"])


@pytest.mark.parametrize("command", ["show", "rotate", "revoke"])
def test_commands_on_one_client_need_its_id(command: str) -> None:
    with pytest.raises(SystemExit):
        parse_args([command])
    args = parse_args([command, "some-id", "--stack-name", "prod"])
    assert (args.client_id, args.stack_name) == ("some-id", "prod")


def test_list_takes_an_optional_project() -> None:
    assert parse_args(["list"]).project is None
    assert parse_args(["list", "--project", "shop"]).project == "shop"


def test_admin_entry_point_hands_clients_commands_to_the_clients_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        admin_main(["clients", "--help"])
    assert exit_info.value.code == 0
    assert "usage: beacon clients" in capsys.readouterr().out


def test_admin_entry_point_lists_its_groups_when_given_none(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        admin_main([])
    assert exit_info.value.code == 2
    assert "clients" in capsys.readouterr().err


# --- What the commands print ---------------------------------------------------------------------------


def test_summary_of_a_new_client_is_active_and_holds_no_secret_material() -> None:
    record, secret = new_client(origins=("https://a.example",), rate=2.0, burst=4)
    summary = client_summary(record, NOW)
    assert set(summary) == SUMMARY_FIELDS
    assert summary["status"] == "active"
    assert (summary["origins"], summary["rate"], summary["burst"]) == (["https://a.example"], 2.0, 4)
    assert (summary["createdAt"], summary["revokedAt"], summary["previousSecretValidUntil"]) == (
        NOW.isoformat(),
        None,
        None,
    )
    text = json.dumps(summary)
    for value in (secret, record.secret_hash, record.secret_salt, record.api_key):
        assert value not in text


def test_summary_of_a_rotated_client_says_until_when_the_previous_secret_works() -> None:
    record, _ = new_client()
    rotated, _ = rotate_secret(record, NOW, timedelta(hours=2))
    summary = client_summary(rotated, NOW + timedelta(hours=1))
    assert summary["status"] == "rotating"
    assert summary["previousSecretValidUntil"] == (NOW + timedelta(hours=2)).isoformat()
    assert record.secret_hash not in json.dumps(summary)
    # Once the grace is over the client is simply active again
    assert client_summary(rotated, NOW + timedelta(hours=3))["status"] == "active"


def test_summary_of_a_revoked_client_is_revoked_with_no_secret_still_working() -> None:
    record, _ = new_client()
    rotated, _ = rotate_secret(record, NOW)
    summary = client_summary(revoke_client(rotated, NOW), NOW)
    assert (summary["status"], summary["revokedAt"]) == ("revoked", NOW.isoformat())
    assert summary["previousSecretValidUntil"] is None


def test_previous_secret_valid_until_is_the_latest_grace_still_running() -> None:
    record, _ = new_client()
    record = replace(
        record,
        previous_secrets=(
            SecretHash("00", "expired", (NOW - timedelta(hours=1)).isoformat()),
            SecretHash("00", "later", (NOW + timedelta(hours=5)).isoformat()),
            SecretHash("00", "sooner", (NOW + timedelta(hours=1)).isoformat()),
        ),
    )
    assert previous_secret_valid_until(record, NOW) == (NOW + timedelta(hours=5)).isoformat()
    assert previous_secret_valid_until(record, NOW + timedelta(hours=6)) is None


def test_credentials_are_what_the_sdks_need_and_never_the_api_key() -> None:
    record, secret = new_client(origins=("https://a.example",))
    output = credentials_output(record, secret)
    assert output == {
        "clientId": record.client_id,
        "clientSecret": secret,
        "projectId": "shop",
        "type": "write",
        "origins": ["https://a.example"],
        "rate": None,
        "burst": None,
    }
    assert record.api_key not in json.dumps(output)


# --- clients.json ----------------------------------------------------------------------------------------


def test_save_local_client_appends_new_clients_and_replaces_known_ones(tmp_path: Path) -> None:
    # Given two clients saved
    path = tmp_path / "state" / "clients.json"
    first, _ = new_client()
    second, _ = new_client()
    save_local_client(first, path)
    save_local_client(second, path)
    # When the first is rotated and saved again
    rotated, secret = rotate_secret(first, NOW)
    save_local_client(rotated, path)
    # Then it replaced its old record in place, and the plain secret is not in the file
    records = json.loads(path.read_text())
    assert [client_record_from_secret(json.dumps(record)) for record in records] == [rotated, second]
    assert secret not in path.read_text()
    assert not list(path.parent.glob("*.tmp"))


# --- Stack outputs and API Gateway (fakes) --------------------------------------------------------------


def test_stack_resources_come_from_the_stack_outputs() -> None:
    outputs = {
        "ClientSecretPrefix": "beacon/prod/clients/",
        "ApiId": "api123",
        "ApiStageName": "v1",
        "DefaultUsagePlanId": "default-plan",
        "ClientIdKeySecret": RESOURCES.client_id_key_secret,
        "ApiUrl": "https://example",
    }
    assert read_stack_resources("prod", cast(Any, FakeCloudFormation(outputs))) == RESOURCES


def test_a_stack_without_the_outputs_names_what_is_missing() -> None:
    with pytest.raises(ClientAdminError, match="ApiId, ClientIdKeySecret, DefaultUsagePlanId"):
        read_stack_resources("old", cast(Any, FakeCloudFormation({"ClientSecretPrefix": "p/", "ApiStageName": "v1"})))


def test_provision_puts_the_key_in_the_default_plan_without_a_rate() -> None:
    apigateway = FakeApiGateway()
    record, _ = new_client()
    provisioned = ApiGatewayKeys(apigateway, RESOURCES).provision(record)
    assert (provisioned.key_id, provisioned.usage_plan_id, provisioned.own_plan) == ("key-1", "default-plan", False)
    assert apigateway.operations() == ["create_api_key", "create_usage_plan_key"]
    assert apigateway.calls[0][1]["value"] == record.api_key
    assert apigateway.calls[0][1]["name"] == f"beacon-{record.client_id}"
    assert apigateway.calls[1][1] == {"usagePlanId": "default-plan", "keyId": "key-1", "keyType": "API_KEY"}


def test_provision_gives_a_client_with_a_rate_its_own_plan_on_the_stack_stage() -> None:
    apigateway = FakeApiGateway()
    record, _ = new_client(rate=5.0, burst=10)
    provisioned = ApiGatewayKeys(apigateway, RESOURCES).provision(record)
    assert (provisioned.usage_plan_id, provisioned.own_plan) == ("own-plan", True)
    plan = dict(apigateway.calls)["create_usage_plan"]
    assert plan["apiStages"] == [{"apiId": "api123", "stage": "v1"}]
    assert plan["throttle"] == {"rateLimit": 5.0, "burstLimit": 10}
    assert dict(apigateway.calls)["create_usage_plan_key"]["usagePlanId"] == "own-plan"


def test_provision_undoes_what_it_made_when_a_step_fails() -> None:
    # Given API Gateway refuses to attach the key to the plan
    apigateway = FakeApiGateway(fail={"create_usage_plan_key"})
    record, _ = new_client(rate=5.0, burst=10)
    # When the key is provisioned, Then the failure surfaces
    with pytest.raises(ClientError):
        ApiGatewayKeys(apigateway, RESOURCES).provision(record)
    # And the plan (its stage taken off first) and the key are deleted, newest first
    assert apigateway.operations()[3:] == ["update_usage_plan", "delete_usage_plan", "delete_api_key"]
    assert dict(apigateway.calls)["update_usage_plan"]["patchOperations"] == [
        {"op": "remove", "path": "/apiStages", "value": "api123:v1"}
    ]


def test_a_record_that_cannot_be_stored_removes_the_provisioned_key(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a store that refuses new records
    class RefusingStore(FakeClientStore):
        def put_client(self, record: ClientRecord) -> None:
            raise api_error("CreateSecret")

    apigateway = FakeApiGateway()
    target = ClientTarget(
        store=RefusingStore(), keys=ApiGatewayKeys(apigateway, RESOURCES), id_key=lambda: CLIENT_ID_KEY
    )
    # When a client is created, Then the failure surfaces, nothing is printed, and the key is gone again
    with pytest.raises(ClientError):
        run(parse_args(["create", "--project", "shop", "--stack-name", "prod"]), target, NOW)
    assert apigateway.operations() == [
        "create_api_key",
        "create_usage_plan_key",
        "delete_usage_plan_key",
        "delete_api_key",
    ]
    assert capsys.readouterr().out == ""


def test_disable_finds_the_key_by_its_exact_name_across_pages() -> None:
    # Given keys whose names share the client's key name as a prefix (nameQuery is a prefix match)
    record, _ = new_client()
    name = f"beacon-{record.client_id}"
    keys = [{"id": "a", "name": name + "-old"}, {"id": "b", "name": name + "x"}, {"id": "c", "name": name}]
    apigateway = FakeApiGateway(keys=keys)
    # When the client's key is disabled, Then only the exact name is patched
    assert ApiGatewayKeys(apigateway, RESOURCES).disable(record.client_id) is True
    assert apigateway.calls[-1] == (
        "update_api_key",
        {"apiKey": "c", "patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]},
    )


def test_disable_without_a_key_reports_it() -> None:
    apigateway = FakeApiGateway()
    assert ApiGatewayKeys(apigateway, RESOURCES).disable("00000000-0000-4000-8000-000000000000") is False
    assert "update_api_key" not in apigateway.operations()


# --- Commands on a fake store --------------------------------------------------------------------------


def test_create_prints_the_credentials_once_and_saves_the_record_locally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FakeClientStore()
    target = ClientTarget(store=store, local_file=tmp_path / "clients.json", id_key=lambda: CLIENT_ID_KEY)
    run(parse_args(["create", "--project", "shop", "--origin", "https://a.example, https://b.example"]), target, NOW)
    output, message = printed(capsys)
    record = store.records[output["clientId"]]
    assert output == credentials_output(record, output["clientSecret"])
    assert record.origins == ("https://a.example", "https://b.example")
    assert "not shown again" in message
    assert [entry["clientId"] for entry in json.loads((tmp_path / "clients.json").read_text())] == [record.client_id]


def test_create_with_a_bad_project_id_is_a_clear_error() -> None:
    with pytest.raises(ClientAdminError, match="project id"):
        target = ClientTarget(store=FakeClientStore(), id_key=lambda: CLIENT_ID_KEY)
        run(parse_args(["create", "--project", "no spaces"]), target, NOW)


def test_create_signs_the_new_clients_id_with_the_stacks_key(capsys: pytest.CaptureFixture[str]) -> None:
    run(parse_args(["create", "--project", "shop"]), ClientTarget(FakeClientStore(), id_key=lambda: CLIENT_ID_KEY), NOW)
    output, _ = printed(capsys)
    assert is_signed_client_id(output["clientId"]) and client_id_signature_valid(output["clientId"], CLIENT_ID_KEY)


def test_create_without_the_stacks_client_id_key_is_a_clear_error() -> None:
    with pytest.raises(ClientAdminError, match="no client-id key"):
        run(parse_args(["create", "--project", "shop"]), ClientTarget(store=FakeClientStore()), NOW)


def test_legacy_ids_records_the_unsigned_ids_that_can_still_authenticate(capsys: pytest.CaptureFixture[str]) -> None:
    # Given clients made before signed ids (one of them revoked) and one made since
    old = [replace(new_client()[0], client_id=str(uuid.uuid4())) for _ in range(3)]
    revoked = revoke_client(old[2], NOW)
    signed, _ = new_client()
    store = FakeClientStore(old[0], old[1], revoked, signed)
    # When the legacy ids are recorded
    run(parse_args(["legacy-ids"]), ClientTarget(store=store), NOW)
    # Then the list holds exactly the unsigned ids not revoked, and says so
    output, message = printed(capsys)
    assert store.legacy_ids == output["legacyClientIds"] == sorted([old[0].client_id, old[1].client_id])
    assert "Recorded 2 client ids" in message


def test_list_filters_by_project_and_orders_by_creation(capsys: pytest.CaptureFixture[str]) -> None:
    older, _ = create_client("shop", ClientType.WRITE, NOW - timedelta(days=1), id_key=CLIENT_ID_KEY)
    newer, _ = create_client("shop", ClientType.READ, NOW, id_key=CLIENT_ID_KEY)
    other, _ = create_client("blog", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)
    run(parse_args(["list", "--project", "shop"]), ClientTarget(store=FakeClientStore(newer, other, older)), NOW)
    listed, _ = printed(capsys)
    assert [client["clientId"] for client in listed] == [older.client_id, newer.client_id]


def test_rotate_prints_the_new_secret_and_the_end_of_the_grace(capsys: pytest.CaptureFixture[str]) -> None:
    record, old_secret = new_client()
    store = FakeClientStore(record)
    run(parse_args(["rotate", record.client_id, "--grace-hours", "1"]), ClientTarget(store=store), NOW)
    output, message = printed(capsys)
    [rotated] = store.updates
    assert set(output) == {"clientId", "clientSecret", "projectId", "previousSecretValidUntil"}
    assert rotated.accepts_secret(output["clientSecret"], NOW)
    assert rotated.accepts_secret(old_secret, NOW + timedelta(minutes=59))
    assert not rotated.accepts_secret(old_secret, NOW + timedelta(minutes=61))
    valid_until = (NOW + timedelta(hours=1)).isoformat()
    assert output["previousSecretValidUntil"] == valid_until
    assert valid_until in message


def test_revoke_says_how_long_a_warm_authorizer_may_still_accept_the_client(
    capsys: pytest.CaptureFixture[str],
) -> None:
    record, _ = new_client()
    store = FakeClientStore(record)
    run(parse_args(["revoke", record.client_id]), ClientTarget(store=store), NOW)
    output, message = printed(capsys)
    assert store.records[record.client_id].revoked_at == NOW.isoformat()
    assert output["status"] == "revoked"
    assert "within 30 s (CLIENT_CACHE_SECONDS" in message


def test_revoke_in_a_stack_disables_the_key_and_warns_when_there_is_none(capsys: pytest.CaptureFixture[str]) -> None:
    record, _ = new_client()
    target = ClientTarget(store=FakeClientStore(record), keys=ApiGatewayKeys(FakeApiGateway(), RESOURCES))
    run(parse_args(["revoke", record.client_id, "--stack-name", "prod"]), target, NOW)
    _, message = printed(capsys)
    assert f"warning: no API key beacon-{record.client_id}" in message


@pytest.mark.parametrize("command", ["show", "rotate", "revoke"])
def test_commands_on_an_unknown_or_malformed_client_id_are_clear_errors(command: str) -> None:
    target = ClientTarget(store=FakeClientStore())
    with pytest.raises(ClientAdminError, match="no client"):
        run(parse_args([command, "00000000-0000-4000-8000-000000000000"]), target, NOW)
    with pytest.raises(ClientAdminError, match="not a client id"):
        run(parse_args([command, "nope"]), target, NOW)


def test_main_turns_errors_into_an_error_line_and_exit_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients_cli, "local_target", lambda: ClientTarget(store=FakeClientStore()))
    with pytest.raises(SystemExit, match=r"^error: no client 00000000-0000-4000-8000-000000000000 in the local stack"):
        clients_cli.main(["show", "00000000-0000-4000-8000-000000000000"])


def test_main_reports_aws_failures_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingStore(FakeClientStore):
        def list_clients(self) -> list[ClientRecord]:
            raise api_error("ListSecrets")

    monkeypatch.setattr(clients_cli, "aws_target", lambda stack_name: ClientTarget(store=FailingStore()))
    with pytest.raises(SystemExit, match=r"^error: stack prod: .*TooManyRequestsException"):
        clients_cli.main(["list", "--stack-name", "prod"])


# --- The shell around the commands: --format env, --region, --profile (issue 20) ----------------------


def test_create_in_env_format_sets_the_shells_variables_through_eval(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a client created with --format env
    store = FakeClientStore()
    target = ClientTarget(store=store, id_key=lambda: CLIENT_ID_KEY)
    run(parse_args(["create", "--project", "shop", "--format", "env"]), target, NOW)
    lines = capsys.readouterr().out
    (record,) = store.records.values()
    # When a shell evals what was printed
    script = 'eval "$1"; printf "%s\\n%s\\n%s\\n" "$BEACON_CLIENT_ID" "$BEACON_CLIENT_SECRET" "$BEACON_PROJECT_ID"'
    done = subprocess.run(["bash", "-c", script, "_", lines], capture_output=True, text=True, timeout=30, check=True)
    # Then its variables hold the new client's id, its secret (which authenticates) and its project
    client_id, secret, project = done.stdout.splitlines()
    assert (client_id, project) == (record.client_id, "shop")
    assert SecretHash(record.secret_salt, record.secret_hash).matches(secret)


def test_a_value_with_shell_characters_is_quoted() -> None:
    assert env_output({"clientId": "a b", "projectId": "x'$(y)"}) == (
        "export BEACON_CLIENT_ID='a b'\nexport BEACON_PROJECT_ID='x'\"'\"'$(y)'\n"
    )


def test_region_and_profile_choose_the_deployed_stacks_account(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no region nor profile in the environment (set first, so that monkeypatch restores what the command sets)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # When a command on a deployed stack names them
    use_aws_options(parse_args(["list", "--stack-name", "prod", "--region", "eu-west-1", "--profile", "ops"]))
    # Then every AWS client made from then on uses them
    assert (os.environ["AWS_DEFAULT_REGION"], os.environ["AWS_PROFILE"]) == ("eu-west-1", "ops")


def test_region_without_a_stack_is_refused() -> None:
    with pytest.raises(SystemExit, match="with --stack-name"):
        use_aws_options(parse_args(["list", "--region", "eu-west-1"]))


def test_a_stack_without_any_region_configured_says_to_pass_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no AWS configuration at all
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # not the instance's region either
    # When a deployed stack's clients are listed
    with pytest.raises(SystemExit) as stopped:
        clients_cli.main(["list", "--stack-name", "prod"])
    # Then the error says how to give a region (botocore said only "You must specify a region")
    assert "pass --region" in str(stopped.value.code)


def test_rotate_in_env_format_prints_the_new_secret_for_eval(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a client
    record, _ = new_client()
    store = FakeClientStore(record)
    # When its secret is rotated with --format env
    run(parse_args(["rotate", record.client_id, "--format", "env"]), ClientTarget(store=store), NOW)
    lines = capsys.readouterr().out.splitlines()
    # Then the lines name the client and carry the new secret, which authenticates
    assert lines[0] == f"export BEACON_CLIENT_ID={record.client_id}"
    secret = lines[1].removeprefix("export BEACON_CLIENT_SECRET=")
    rotated = store.records[record.client_id]
    assert SecretHash(rotated.secret_salt, rotated.secret_hash).matches(secret)
