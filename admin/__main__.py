"""`python -m admin <group> ...` (and the `./beacon` wrapper): Beacon's operator commands.

beacon clients create|list|show|rotate|revoke    (see `beacon clients --help`)
"""

from __future__ import annotations

import sys

GROUPS = {"clients": "the client lifecycle: create, list, show, rotate, revoke"}


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


if __name__ == "__main__":
    main()
