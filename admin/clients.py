"""`python -m admin.clients create`: provision a client and print its credentials once.

Without --stack-name it targets the running local stack (`make run`); with --stack-name it reads the
deployed stack's ClientSecretPrefix output and writes the client secret to Secrets Manager in AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from beacon.domain.auth import ClientRecord, create_client
from beacon.domain.entities import ClientType
from beacon.store.clients import SecretsManagerClientStore, client_record_to_secret


def provision_client(store: SecretsManagerClientStore, args: argparse.Namespace) -> tuple[ClientRecord, str]:
    record, secret = create_client(
        project_id=args.project,
        client_type=ClientType(args.type),
        now=datetime.now(UTC),
        origins=tuple(origin for origin in (args.origin or "").split(",") if origin),
        rate=args.rate,
        burst=args.burst,
    )
    store.put_client(record)
    return record, secret


def _stack_output(stack_name: str, key: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == key:
            return str(output["OutputValue"])
    raise SystemExit(f"error: stack {stack_name} has no output {key}")


def _local_store() -> SecretsManagerClientStore:
    from local.stack import RUN_FILE, _running_stack, local_aws_env
    from local.template import read_template

    state = _running_stack()
    if state is None:
        raise SystemExit(f"error: no local stack is running (no live {RUN_FILE}); start one with `make run` first")
    os.environ.update(local_aws_env(state["dynamodbPort"], state["secretsPort"]))
    prefix = read_template().functions()["AuthorizerFunction"].environment["CLIENT_SECRET_PREFIX"]
    return SecretsManagerClientStore(prefix, cache_seconds=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon-clients", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a client and print its credentials (shown once)")
    create.add_argument("--project", required=True)
    create.add_argument("--type", choices=[kind.value for kind in ClientType], default=ClientType.WRITE.value)
    create.add_argument("--origin", default="", help="allowed origins, comma-separated (browser clients)")
    create.add_argument("--rate", type=float, default=None, help="requests per second (usage plan)")
    create.add_argument("--burst", type=int, default=None, help="burst size (usage plan)")
    create.add_argument("--stack-name", default=None, help="a deployed stack; omit for the local stack")
    args = parser.parse_args(argv)

    if args.stack_name:
        store = SecretsManagerClientStore(_stack_output(args.stack_name, "ClientSecretPrefix"), cache_seconds=0)
    else:
        store = _local_store()
    try:
        record, secret = provision_client(store, args)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if not args.stack_name:
        from local.stack import remember_client

        remember_client(client_record_to_secret(record))
    output: dict[str, Any] = {
        "clientId": record.client_id,
        "clientSecret": secret,
        "projectId": record.project_id,
        "type": record.client_type.value,
        "origins": list(record.origins),
        "rate": record.rate,
        "burst": record.burst,
    }
    json.dump(output, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
