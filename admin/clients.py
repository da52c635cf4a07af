"""`beacon clients create|list|show|rotate|revoke|legacy-ids`: the client lifecycle.

Without --stack-name every command works on the running local stack (`make run`): the client records in
its Secrets Manager emulator, mirrored in .local/clients.json (hashes only) so the next `make run` re-seeds
the current state. With --stack-name it works on a deployed stack: the client records in Secrets Manager
under the stack's ClientSecretPrefix, and each client's API Gateway API key in a usage plan.

A plain secret is printed once, by create or rotate, on stdout; it is never stored, logged or listed.

Client ids are signed with the stack's client-id key (docs/DESIGN.md §4), which create reads from Secrets Manager.
`legacy-ids` records the ids of the clients made before signed ids, so that the authorizer admits exactly those
without a lookup per unknown id: run it once after upgrading (and again if an older CLI created a client since).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from admin.aws import NO_REGION_HINT, deployed_stack_options, use_aws_options
from beacon.domain.auth import (
    DEFAULT_ROTATION_GRACE,
    ClientRecord,
    client_id_key,
    create_client,
    is_client_id,
    is_signed_client_id,
    revoke_client,
    rotate_secret,
)
from beacon.domain.entities import ClientType
from beacon.errors import DependencyUnavailableError
from beacon.store.clients import SecretsManagerClientStore, client_record_to_secret
from beacon.store.device_salt import SecretsManagerStackSecret
from local.state_files import write_private

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

DEFAULT_GRACE_HOURS = DEFAULT_ROTATION_GRACE.total_seconds() / 3600


class ClientAdminError(Exception):
    """A clear, user-facing reason why a command cannot be carried out."""


# --- What the commands print ------------------------------------------------------------------------


def previous_secret_valid_until(record: ClientRecord, now: datetime) -> str | None:
    """When the last previous secret still inside its rotation grace stops working; None if none is."""
    valid = [
        previous.valid_until
        for previous in record.previous_secrets
        if previous.valid_until is not None and datetime.fromisoformat(previous.valid_until) > now
    ]
    return max(valid, key=datetime.fromisoformat) if valid else None


def client_summary(record: ClientRecord, now: datetime) -> dict[str, Any]:
    """What list and show print: never a secret, a hash, a salt or the API key value."""
    # A revoked client's secrets all stop working, previous ones included.
    valid_until = None if record.revoked_at else previous_secret_valid_until(record, now)
    status = "revoked" if record.revoked_at else "rotating" if valid_until else "active"
    return {
        "clientId": record.client_id,
        "projectId": record.project_id,
        "type": record.client_type.value,
        "origins": list(record.origins),
        "rate": record.rate,
        "burst": record.burst,
        "createdAt": record.created_at,
        "revokedAt": record.revoked_at,
        "status": status,
        "previousSecretValidUntil": valid_until,
    }


def credentials_output(record: ClientRecord, secret: str) -> dict[str, Any]:
    """What create prints, once."""
    return {
        "clientId": record.client_id,
        "clientSecret": secret,
        "projectId": record.project_id,
        "type": record.client_type.value,
        "origins": list(record.origins),
        "rate": record.rate,
        "burst": record.burst,
    }


# What `--format env` prints for each credential field: lines a shell can eval (`eval "$(make client FORMAT=env)"`).
ENV_NAMES = {"clientId": "BEACON_CLIENT_ID", "clientSecret": "BEACON_CLIENT_SECRET", "projectId": "BEACON_PROJECT_ID"}


def env_output(credentials: dict[str, Any]) -> str:
    """The credentials as `export NAME=value` lines, each value quoted for the shell."""
    return "".join(
        f"export {name}={shlex.quote(str(credentials[field]))}\n"
        for field, name in ENV_NAMES.items()
        if field in credentials
    )


def rotation_output(record: ClientRecord, secret: str, now: datetime) -> dict[str, Any]:
    """What rotate prints, once."""
    return {
        "clientId": record.client_id,
        "clientSecret": secret,
        "projectId": record.project_id,
        "previousSecretValidUntil": previous_secret_valid_until(record, now),
    }


# --- .local/clients.json: what re-seeds the local emulator on the next `make run` ---------------------


def save_local_client(record: ClientRecord, path: Path) -> None:
    """Replace the client's record in the file (append a new client); hashes only, never a plain secret.
    Rotate and revoke replace, so a restart re-seeds the client's current state."""
    records: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    body = json.loads(client_record_to_secret(record))
    kept = [existing for existing in records if existing.get("clientId") != record.client_id]
    if len(kept) == len(records):
        records.append(body)
    else:
        records = [body if existing.get("clientId") == record.client_id else existing for existing in records]
    write_private(path, json.dumps(records, indent=2))  # 0600, replaced atomically: `make run` never reads half


# --- API Gateway: each client's API key in a usage plan (deployed stacks only) ------------------------


@dataclass(frozen=True)
class StackResources:
    """The deployed stack's outputs that client provisioning needs."""

    stack_name: str
    client_secret_prefix: str
    api_id: str
    stage_name: str
    default_usage_plan_id: str
    client_id_key_secret: str  # the secret whose key signs client ids


STACK_OUTPUTS = {
    "client_secret_prefix": "ClientSecretPrefix",
    "client_id_key_secret": "ClientIdKeySecret",
    "api_id": "ApiId",
    "stage_name": "ApiStageName",
    "default_usage_plan_id": "DefaultUsagePlanId",
}


def read_stack_resources(stack_name: str, cloudformation: CloudFormationClient | None = None) -> StackResources:
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = sorted(key for key in STACK_OUTPUTS.values() if key not in outputs)
    if missing:
        raise ClientAdminError(f"stack {stack_name} has no output {', '.join(missing)}; deploy the current template")
    values = {field_name: outputs[key] for field_name, key in STACK_OUTPUTS.items()}
    return StackResources(stack_name=stack_name, **values)


@dataclass(frozen=True)
class ProvisionedKey:
    key_id: str
    usage_plan_id: str
    own_plan: bool  # a usage plan made for this client alone (it had --rate/--burst)


class ApiGatewayKeys:
    """The client's API key (the value the authorizer returns as usageIdentifierKey), named beacon-<clientId>,
    in the stack's default usage plan or, with a rate and burst, in a usage plan of its own."""

    def __init__(self, client: Any, resources: StackResources) -> None:
        self._client = client  # a boto3 apigateway client (no type stubs installed for it)
        self._resources = resources

    @staticmethod
    def key_name(client_id: str) -> str:
        return f"beacon-{client_id}"

    def provision(self, record: ClientRecord) -> ProvisionedKey:
        key_id = self._client.create_api_key(
            name=self.key_name(record.client_id),
            value=record.api_key,
            enabled=True,
            description=f"Beacon client of project {record.project_id}",
        )["id"]
        made: list[tuple[str, dict[str, Any]]] = [("delete_api_key", {"apiKey": key_id})]
        try:
            plan_id = self._resources.default_usage_plan_id
            if record.rate is not None and record.burst is not None:
                plan_id = self._client.create_usage_plan(
                    name=f"beacon-{self._resources.stack_name}-{record.client_id}",
                    description=f"Beacon client {record.client_id}: its own rate limit",
                    apiStages=[{"apiId": self._resources.api_id, "stage": self._resources.stage_name}],
                    throttle={"rateLimit": record.rate, "burstLimit": record.burst},
                )["id"]
                made += self._plan_removal(plan_id)
            self._client.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
        except Exception:
            self._undo(made)
            raise
        return ProvisionedKey(key_id, plan_id, own_plan=plan_id != self._resources.default_usage_plan_id)

    def remove(self, provisioned: ProvisionedKey) -> None:
        """Undo provision (the client's record could not be stored)."""
        made: list[tuple[str, dict[str, Any]]] = [("delete_api_key", {"apiKey": provisioned.key_id})]
        if provisioned.own_plan:
            made += self._plan_removal(provisioned.usage_plan_id)
        made.append(("delete_usage_plan_key", {"usagePlanId": provisioned.usage_plan_id, "keyId": provisioned.key_id}))
        self._undo(made)

    def _plan_removal(self, plan_id: str) -> list[tuple[str, dict[str, Any]]]:
        """A usage plan is deleted after its API stage is taken off it (undone in reverse order)."""
        stage = f"{self._resources.api_id}:{self._resources.stage_name}"
        detach = [{"op": "remove", "path": "/apiStages", "value": stage}]
        return [
            ("delete_usage_plan", {"usagePlanId": plan_id}),
            ("update_usage_plan", {"usagePlanId": plan_id, "patchOperations": detach}),
        ]

    def _undo(self, made: list[tuple[str, dict[str, Any]]]) -> None:
        """Best effort, newest first, each step on its own: a failure is reported, never hides the cause."""
        for operation, arguments in reversed(made):
            try:
                getattr(self._client, operation)(**arguments)
            except (ClientError, BotoCoreError) as exc:
                print(f"warning: could not undo with {operation}({arguments}): {exc}", file=sys.stderr)

    def find_key_id(self, client_id: str) -> str | None:
        name = self.key_name(client_id)
        position: str | None = None
        while True:
            page = self._client.get_api_keys(
                nameQuery=name, includeValues=False, **({"position": position} if position else {})
            )
            for key in page.get("items", []):
                if key["name"] == name:  # nameQuery matches a prefix
                    return str(key["id"])
            position = page.get("position")
            if not position:
                return None

    def disable(self, client_id: str) -> bool:
        """Disable the client's key; False when it has none."""
        key_id = self.find_key_id(client_id)
        if key_id is None:
            return False
        self._client.update_api_key(
            apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
        )
        return True


# --- Where the commands act ------------------------------------------------------------------------


class ClientRecords(Protocol):
    """What the commands need of a client store (SecretsManagerClientStore, or a fake in unit tests)."""

    def get_client(self, client_id: str, fresh: bool = False) -> ClientRecord | None: ...

    def put_client(self, record: ClientRecord) -> None: ...

    def update_client(self, record: ClientRecord) -> None: ...

    def list_clients(self) -> list[ClientRecord]: ...

    def put_legacy_client_ids(self, client_ids: Iterable[str]) -> None: ...


def stack_id_key(secret: Callable[[], bytes]) -> Callable[[], bytes]:
    """The key that signs the stack's client ids, from its secret, read when first needed."""
    return lambda: client_id_key(secret())


@dataclass(frozen=True)
class ClientTarget:
    store: ClientRecords
    keys: ApiGatewayKeys | None = None  # a deployed stack: API keys and usage plans
    local_file: Path | None = None  # the local stack: its clients.json, kept in sync
    id_key: Callable[[], bytes] | None = None  # the key new client ids are signed with (create needs it)

    def describe(self) -> str:
        return "the deployed stack" if self.keys is not None else "the local stack"


def local_target() -> ClientTarget:
    import boto3

    import local.stack as local_stack
    from local.template import read_template

    state = local_stack._running_stack()
    if state is None:
        raise ClientAdminError(
            f"no local stack is running (no live {local_stack.RUN_FILE}); start one with `make run` first"
        )
    env = local_stack.local_aws_env(state["dynamodbPort"], state["secretsPort"])
    secretsmanager = boto3.client(
        "secretsmanager",
        endpoint_url=env["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    environment = read_template().functions()["AuthorizerFunction"].environment
    store = SecretsManagerClientStore(environment["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)
    key_secret = SecretsManagerStackSecret(environment["CLIENT_ID_KEY_SECRET"], client=secretsmanager)
    # CLIENTS_FILE is read now: tests repoint it.
    return ClientTarget(store=store, local_file=local_stack.CLIENTS_FILE, id_key=stack_id_key(key_secret))


def aws_target(stack_name: str) -> ClientTarget:
    import boto3

    resources = read_stack_resources(stack_name)
    return ClientTarget(
        store=SecretsManagerClientStore(resources.client_secret_prefix, cache_seconds=0),
        keys=ApiGatewayKeys(boto3.client("apigateway"), resources),
        id_key=stack_id_key(SecretsManagerStackSecret(resources.client_id_key_secret)),
    )


def authorizer_cache_seconds() -> str:
    from local.template import read_template

    return read_template().functions()["AuthorizerFunction"].environment.get("CLIENT_CACHE_SECONDS", "60")


# --- The commands ----------------------------------------------------------------------------------


def provision_client(
    store: ClientRecords,
    args: argparse.Namespace,
    id_key: bytes,
    keys: ApiGatewayKeys | None = None,
    now: datetime | None = None,
) -> tuple[ClientRecord, str]:
    """A new client, its id signed with the stack's `id_key`: its API key in a usage plan first (deployed stacks),
    then its record, so a record never names a key that does not exist; a record that cannot be stored undoes the
    key."""
    record, secret = create_client(
        project_id=args.project,
        client_type=ClientType(args.type),
        now=now or datetime.now(UTC),
        origins=tuple(origin.strip() for origin in (args.origin or "").split(",") if origin.strip()),
        rate=args.rate,
        burst=args.burst,
        id_key=id_key,
    )
    provisioned = keys.provision(record) if keys is not None else None
    try:
        store.put_client(record)
    except Exception:
        if keys is not None and provisioned is not None:
            keys.remove(provisioned)
        raise
    return record, secret


def _existing_client(target: ClientTarget, client_id: str) -> ClientRecord:
    if not is_client_id(client_id):
        raise ClientAdminError(f"{client_id!r} is not a client id (a UUID)")
    record = target.store.get_client(client_id.lower())
    if record is None:
        raise ClientAdminError(f"no client {client_id} in {target.describe()}")
    return record


def _save(target: ClientTarget, record: ClientRecord, created: bool = False) -> None:
    if not created:
        target.store.update_client(record)
    if target.local_file is not None:
        save_local_client(record, target.local_file)


def create_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    if target.id_key is None:
        raise ClientAdminError(f"{target.describe()} has no client-id key to sign the new client's id with")
    try:
        record, secret = provision_client(target.store, args, target.id_key(), target.keys, now)
    except ValueError as exc:
        raise ClientAdminError(str(exc)) from exc
    _save(target, record, created=True)
    note = f"Created client {record.client_id}. Store its secret now: it is not shown again."
    if target.keys is not None:
        plan = "a usage plan of its own" if record.rate is not None else "the stack's default usage plan"
        note += f" API key {ApiGatewayKeys.key_name(record.client_id)} is in {plan}."
    _tell(note)
    return credentials_output(record, secret)


def list_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> list[dict[str, Any]]:
    records = [record for record in target.store.list_clients() if args.project in (None, record.project_id)]
    records.sort(key=lambda record: (record.project_id, record.created_at, record.client_id))
    return [client_summary(record, now) for record in records]


def show_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    return client_summary(_existing_client(target, args.client_id), now)


def rotate_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    record = _existing_client(target, args.client_id)
    if record.revoked_at is not None:
        raise ClientAdminError(f"client {record.client_id} was revoked at {record.revoked_at}; create a new one")
    rotated, secret = rotate_secret(record, now, timedelta(hours=args.grace_hours))
    _save(target, rotated)
    valid_until = previous_secret_valid_until(rotated, now) or now.isoformat()
    note = (
        f"Rotated the secret of client {rotated.client_id}. Store the new secret now: it is not shown again. "
        f"The previous secret keeps working until {valid_until} ({args.grace_hours:g} h grace)."
    )
    cache_seconds = authorizer_cache_seconds()
    if args.grace_hours * 3600 < float(cache_seconds):
        note += (
            f" An authorizer that cached the record before the rotation may accept it for up to {cache_seconds} s"
            " after the rotation (CLIENT_CACHE_SECONDS in template.yaml)."
        )
    _tell(note)
    return rotation_output(rotated, secret, now)


def revoke_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    record = _existing_client(target, args.client_id)
    if record.revoked_at is None:
        record = revoke_client(record, now)
        _save(target, record)
        note = f"Revoked client {record.client_id}."
    else:
        note = f"Client {record.client_id} was already revoked at {record.revoked_at}."
    note += (
        f" Its requests fail once the authorizer's cached copy of the record expires: within "
        f"{authorizer_cache_seconds()} s (CLIENT_CACHE_SECONDS in template.yaml)."
    )
    if target.keys is not None:
        if target.keys.disable(record.client_id):
            note += f" API key {ApiGatewayKeys.key_name(record.client_id)} is disabled."
        else:
            note += f" warning: no API key {ApiGatewayKeys.key_name(record.client_id)} found to disable."
    _tell(note)
    return client_summary(record, now)


# A secret holds at most 65,536 bytes: about 1,600 ids of 36 characters in the list's JSON.
MAX_LEGACY_IDS_BYTES = 65_536


def legacy_ids_command(target: ClientTarget, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """Record the ids of the clients made before signed ids (UUID4s) that can still authenticate (not revoked):
    the authorizer admits exactly these without a lookup per unknown id. Idempotent; the authorizer rereads the
    list within a minute."""
    records = target.store.list_clients()
    legacy = sorted(
        record.client_id
        for record in records
        if not is_signed_client_id(record.client_id) and record.revoked_at is None
    )
    if len(json.dumps({"clientIds": legacy}, separators=(",", ":"))) > MAX_LEGACY_IDS_BYTES:
        raise ClientAdminError(
            f"{len(legacy)} clients made before signed ids do not fit one secret (about 1,600 do); they keep working"
            " through the authorizer's lookup budget"
        )
    target.store.put_legacy_client_ids(legacy)
    signed = sum(1 for record in records if is_signed_client_id(record.client_id))
    _tell(
        f"Recorded {len(legacy)} client ids made before signed ids in {target.describe()} ({signed} signed ids need"
        " no record). Warm authorizers read the list within 60 s; an unsigned id not on it is refused without a"
        " lookup."
    )
    return {"legacyClientIds": legacy}


COMMANDS = {
    "create": create_command,
    "list": list_command,
    "show": show_command,
    "rotate": rotate_command,
    "revoke": revoke_command,
    "legacy-ids": legacy_ids_command,
}


def _tell(message: str) -> None:
    """Operator messages go to stderr; stdout is the result alone (JSON, or --format env's lines)."""
    print(message, file=sys.stderr)


def run(args: argparse.Namespace, target: ClientTarget, now: datetime | None = None) -> None:
    result = COMMANDS[args.command](target, args, now or datetime.now(UTC))
    if getattr(args, "format", "json") == "env" and isinstance(result, dict):  # create and rotate only
        sys.stdout.write(env_output(result))
        return
    pretty = args.command in ("list", "show", "revoke", "legacy-ids")
    json.dump(result, sys.stdout, indent=2 if pretty else None)
    sys.stdout.write("\n")


# --- Arguments --------------------------------------------------------------------------------------


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return number


def _grace_hours(value: str) -> float:
    hours = float(value)
    if not hours >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more hours, not {value}")
    return hours


FORMAT_HELP = 'json (default), or env: `export BEACON_CLIENT_ID=…` lines for `eval "$(…)"`'


def build_parser(prog: str = "beacon clients") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{create,list,show,rotate,revoke,legacy-ids}")
    stack = deployed_stack_options()

    create = sub.add_parser("create", parents=[stack], help="create a client and print its credentials (once)")
    create.add_argument("--project", required=True)
    create.add_argument("--type", choices=[kind.value for kind in ClientType], default=ClientType.WRITE.value)
    create.add_argument("--origin", default="", help="allowed origins, comma-separated (browser clients)")
    create.add_argument(
        "--rate", type=_positive_float, default=None, help="requests/s of the client's own usage plan (with --burst)"
    )
    create.add_argument("--burst", type=_positive_int, default=None, help="burst of its own usage plan (with --rate)")
    create.add_argument("--format", choices=("json", "env"), default="json", help=FORMAT_HELP)

    listing = sub.add_parser("list", parents=[stack], help="list clients (never their secrets)")
    listing.add_argument("--project", default=None, help="only this project's clients")

    show = sub.add_parser("show", parents=[stack], help="show one client (never its secret)")
    show.add_argument("client_id", metavar="CLIENT_ID")

    rotate = sub.add_parser("rotate", parents=[stack], help="issue a new secret; the old one works for a grace")
    rotate.add_argument("client_id", metavar="CLIENT_ID")
    rotate.add_argument("--format", choices=("json", "env"), default="json", help=FORMAT_HELP)
    rotate.add_argument(
        "--grace-hours",
        type=_grace_hours,
        default=DEFAULT_GRACE_HOURS,
        help=f"how long the previous secret keeps working (default {DEFAULT_GRACE_HOURS:g})",
    )

    revoke = sub.add_parser("revoke", parents=[stack], help="revoke a client: its requests fail within seconds")
    revoke.add_argument("client_id", metavar="CLIENT_ID")

    sub.add_parser(
        "legacy-ids",
        parents=[stack],
        help="record the ids of clients made before signed ids (run once after upgrading)",
    )
    return parser


def parse_args(argv: list[str] | None, prog: str = "beacon clients") -> argparse.Namespace:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "create" and (args.rate is None) != (args.burst is None):
        parser.error("--rate and --burst go together: a client's own usage plan needs both")
    return args


def target_name(args: argparse.Namespace) -> str:
    return f"stack {args.stack_name}" if args.stack_name else "local stack"


def main(argv: list[str] | None = None, prog: str = "beacon clients") -> None:
    args = parse_args(argv, prog)
    use_aws_options(args)
    try:
        target = aws_target(args.stack_name) if args.stack_name else local_target()
        run(args, target)
    except ClientAdminError as exc:
        raise SystemExit(f"error: {exc}") from exc
    except NoRegionError as exc:
        raise SystemExit(f"error: {target_name(args)}: {NO_REGION_HINT}") from exc
    except (ClientError, BotoCoreError, DependencyUnavailableError) as exc:
        raise SystemExit(f"error: {target_name(args)}: {exc}") from exc


if __name__ == "__main__":
    main(prog="python -m admin.clients")
