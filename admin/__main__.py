"""`python -m admin <group> ...` (and the `./beacon` wrapper): Beacon's operator commands.

beacon clients create|list|show|rotate|revoke|legacy-ids    (see `beacon clients --help`)
beacon projects filters --project P [...]        blocked IPs and profile ids
beacon rejected list --project P                 events refused for validation (14 days)
beacon query --project P "SQL"                   SQL over the project's events and sessions (the lake)
"""

from __future__ import annotations

import sys

GROUPS = {
    "clients": "the client lifecycle: create, list, show, rotate, revoke",
    "projects": "a project's filters: blocked IPs/networks and profile ids",
    "rejected": "events refused for validation, kept 14 days",
    "query": "SQL over one project's events and sessions in the lake (DuckDB locally, Athena with --stack-name)",
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in GROUPS:
        usage = (
            "usage: beacon {"
            + ",".join(GROUPS)
            + "} ...\n"
            + "".join(f"  {name:<10} {about}\n" for name, about in GROUPS.items())
        )
        if args and args[0] in ("-h", "--help"):
            sys.stdout.write(usage)
            return
        sys.stderr.write(usage)
        raise SystemExit(2)
    if args[0] == "clients":
        from admin.clients import main as clients_main

        clients_main(args[1:], prog="beacon clients")
    elif args[0] == "projects":
        from admin.projects import main as projects_main

        projects_main(args[1:])
    elif args[0] == "query":
        from admin.query import main as query_main

        query_main(args[1:])
    else:
        from admin.rejected import main as rejected_main

        rejected_main(args[1:])


if __name__ == "__main__":
    main()
