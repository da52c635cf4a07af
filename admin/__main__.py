"""`python -m admin <group> ...` (and the `./beacon` wrapper): Beacon's operator commands.

beacon clients create|list|show|rotate|revoke|legacy-ids    (see `beacon clients --help`)
beacon projects filters --project P [...]        blocked IPs and profile ids
beacon projects erase --project P [--dry-run]    every item and lake row of a project
beacon profiles erase|export --project P --profile-id X   a person's data (docs/PRIVACY.md)
beacon rejected list --project P                 events refused for validation (14 days)
beacon smoke [--stack-name S]                    every request type against a stack, read back
beacon --version                                 the release (CHANGELOG.md)
beacon query --project P "SQL"                   SQL over the project's events and sessions (the lake)
"""

from __future__ import annotations

import os
import sys

GROUPS = {
    "clients": "the client lifecycle: create, list, show, rotate, revoke",
    "projects": "a project's filters (blocked IPs/networks and profile ids), erasure of a project",
    "profiles": "a person's data: erase, export, an erasure's receipt (docs/PRIVACY.md)",
    "rejected": "events refused for validation, kept 14 days",
    "smoke": "every request type against a stack, read back, with throwaway clients",
    "query": "SQL over one project's events and sessions in the lake (DuckDB locally, Athena with --stack-name)",
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        from beacon import __version__

        sys.stdout.write(f"beacon {__version__}\n")
        return
    if not args or args[0] not in GROUPS:
        usage = (
            "usage: beacon {"
            + ",".join(GROUPS)
            + "} ... | --version\n"
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
    elif args[0] == "profiles":
        from admin.privacy import profiles_main

        profiles_main(args[1:])
    elif args[0] == "smoke":
        from admin.smoke import main as smoke_main

        smoke_main(args[1:])
    elif args[0] == "query":
        from admin.query import main as query_main

        query_main(args[1:])
    else:
        from admin.rejected import main as rejected_main

        rejected_main(args[1:])


def run_cli() -> None:
    """main() for a shell: output cut short by a closed pipe (`./beacon clients list | head`) ends quietly."""
    try:
        main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's own recipe: stdout goes to devnull so that the interpreter's last flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(141) from None  # 128 + SIGPIPE, as a shell reports any command cut short by a pipe


if __name__ == "__main__":
    run_cli()
