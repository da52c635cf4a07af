"""`beacon rejected list --project P`: events refused for validation in the last 14 days, newest first.

Each entry has the client, the reason, the field details, the receipt time and the payload as sent
(truncated to 4 KB). No request headers, so no credentials, are ever kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from admin.aws import deployed_stack_options, use_aws_options
from admin.tables import table_name
from beacon.domain.auth import PROJECT_ID_PATTERN
from beacon.store.rejected import DynamoDBRejectedEventStore


def json_value(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal: print them as JSON numbers (`"status": 400`), not strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon rejected", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser(
        "list", parents=[deployed_stack_options()], help="the project's rejected events, newest first"
    )
    listing.add_argument("--project", required=True)
    listing.add_argument("--limit", type=int, default=50, choices=range(1, 1001), metavar="1..1000")
    args = parser.parse_args(argv)
    use_aws_options(args)
    if not PROJECT_ID_PATTERN.fullmatch(args.project):
        raise SystemExit("error: not a project id")
    store = DynamoDBRejectedEventStore(table_name("REJECTED_EVENTS_TABLE", "RejectedEventsTableName", args.stack_name))
    json.dump(store.list_rejected(args.project, args.limit), sys.stdout, default=json_value, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
