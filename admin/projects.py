"""`beacon projects filters`: a project's blocked IPs / networks, blocked profile ids, and whether browsers (requests
without the client secret) may send revenue (`--allow-unsafe-revenue-tracking`, OpenPanel's switch of that name).

Without --stack-name it targets the running local stack; with it, the deployed stack's entities table.
Changes reach warm track functions within a minute (their settings cache).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys

from admin.aws import deployed_stack_options, use_aws_options
from admin.tables import table_name
from beacon.domain.auth import PROJECT_ID_PATTERN
from beacon.domain.filters import ProjectFilters
from beacon.store.projects import DynamoDBProjectSettingsStore


def filters_as_json(filters: ProjectFilters) -> dict[str, list[str] | bool]:
    return {
        "blockedIps": sorted(str(network) for network in filters.blocked_networks),
        "blockedProfileIds": sorted(filters.blocked_profile_ids),
        "allowUnsafeRevenueTracking": filters.allow_unsafe_revenue,
    }


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address or network: {value}") from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon projects", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    filters = sub.add_parser("filters", parents=[deployed_stack_options()], help="show or change a project's filters")
    filters.add_argument("--project", required=True)
    filters.add_argument("--block-ip", type=_network, action="append", default=[], metavar="IP_OR_CIDR")
    filters.add_argument("--unblock-ip", type=_network, action="append", default=[], metavar="IP_OR_CIDR")
    filters.add_argument("--block-profile", action="append", default=[], metavar="PROFILE_ID")
    filters.add_argument("--unblock-profile", action="append", default=[], metavar="PROFILE_ID")
    filters.add_argument(
        "--allow-unsafe-revenue-tracking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let browsers (no client secret) send __revenue; anyone can then claim any revenue (default: off)",
    )
    from admin.privacy import add_project_erase, erase_project

    add_project_erase(sub)
    args = parser.parse_args(argv)
    use_aws_options(args)
    if not PROJECT_ID_PATTERN.fullmatch(args.project):
        raise SystemExit("error: not a project id")
    if args.command == "erase":
        json.dump(erase_project(args), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    table = table_name("ENTITIES_TABLE", "EntitiesTableName", args.stack_name)
    store = DynamoDBProjectSettingsStore(table, cache_seconds=0)
    current = store.change_filters(
        args.project, args.block_ip, args.unblock_ip, args.block_profile, args.unblock_profile
    )
    if args.allow_unsafe_revenue_tracking is not None:
        current = store.set_unsafe_revenue_tracking(args.project, args.allow_unsafe_revenue_tracking)
    json.dump({"projectId": args.project, **filters_as_json(current)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
