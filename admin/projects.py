"""`beacon projects filters`: a project's blocked IPs / networks and blocked profile ids.

Without --stack-name it targets the running local stack; with it, the deployed stack's entities table.
Changes reach warm track functions within a minute (their settings cache).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys

from beacon.domain.auth import PROJECT_ID_PATTERN
from beacon.domain.filters import ProjectFilters
from beacon.store.projects import DynamoDBProjectSettingsStore


def _table_name(stack_name: str | None) -> str:
    if stack_name:
        import boto3

        stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        return outputs["EntitiesTableName"]
    from local.stack import _running_stack, local_aws_env
    from local.template import read_template

    state = _running_stack()
    if state is None:
        raise SystemExit("error: no local stack is running; start one with `make run` first")
    os.environ.update(local_aws_env(state["dynamodbPort"], state["secretsPort"]))
    return read_template().functions()["TrackFunction"].environment["ENTITIES_TABLE"]


def filters_as_json(filters: ProjectFilters) -> dict[str, list[str]]:
    return {
        "blockedIps": sorted(str(network) for network in filters.blocked_networks),
        "blockedProfileIds": sorted(filters.blocked_profile_ids),
    }


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address or network: {value}") from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon projects", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    filters = sub.add_parser("filters", help="show or change a project's filters")
    filters.add_argument("--project", required=True)
    filters.add_argument("--block-ip", type=_network, action="append", default=[], metavar="IP_OR_CIDR")
    filters.add_argument("--unblock-ip", type=_network, action="append", default=[], metavar="IP_OR_CIDR")
    filters.add_argument("--block-profile", action="append", default=[], metavar="PROFILE_ID")
    filters.add_argument("--unblock-profile", action="append", default=[], metavar="PROFILE_ID")
    filters.add_argument("--stack-name", default=None, help="a deployed stack; omit for the local stack")
    args = parser.parse_args(argv)
    if not PROJECT_ID_PATTERN.fullmatch(args.project):
        raise SystemExit("error: not a project id")
    store = DynamoDBProjectSettingsStore(_table_name(args.stack_name), cache_seconds=0)
    current = store.change_filters(
        args.project, args.block_ip, args.unblock_ip, args.block_profile, args.unblock_profile
    )
    json.dump({"projectId": args.project, **filters_as_json(current)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
