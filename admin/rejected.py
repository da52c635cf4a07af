"""`beacon rejected list --project P`: events refused for validation in the last 14 days, newest first.

Each entry has the client, the reason, the field details, the receipt time and the payload as sent
(truncated to 4 KB). No request headers, so no credentials, are ever kept.
"""

from __future__ import annotations

import argparse
import json
import sys

from admin.tables import table_name
from beacon.domain.auth import PROJECT_ID_PATTERN
from beacon.store.rejected import DynamoDBRejectedEventStore


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon rejected", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the project's rejected events, newest first")
    listing.add_argument("--project", required=True)
    listing.add_argument("--limit", type=int, default=50, choices=range(1, 1001), metavar="1..1000")
    listing.add_argument("--stack-name", default=None, help="a deployed stack; omit for the local stack")
    args = parser.parse_args(argv)
    if not PROJECT_ID_PATTERN.fullmatch(args.project):
        raise SystemExit("error: not a project id")
    store = DynamoDBRejectedEventStore(table_name("REJECTED_EVENTS_TABLE", "RejectedEventsTableName", args.stack_name))
    json.dump(store.list_rejected(args.project, args.limit), sys.stdout, default=str, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
