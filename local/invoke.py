"""`make invoke FN=track EVENT=events/track.json`: run one function on one event in-process, like
`sam local invoke` without Docker. Uses the local stack's endpoints when one is running."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import NoRegionError

from local.gateway import LocalFunction
from local.stack import _running_stack, local_aws_env
from local.template import read_template

ALIASES = {"track": "TrackFunction", "authorizer": "AuthorizerFunction", "read": "ReadFunction"}
EVENTS_DIR = Path("events")

NO_STACK_HINT = (
    "no local stack is running and no AWS region is set: start `make run` in another shell (the invocation then"
    " uses its DynamoDB Local and Secrets Manager emulator), or set AWS_REGION to call a real account"
)
UNAUTHORIZED_HINT = (
    "the authorizer refused the event (API Gateway answers 401 Unauthorized): its openpanel-client-id and"
    " openpanel-client-secret headers are not a client of the stack. Create one with `make client PROJECT=demo`"
    " (with `make run` running) and put its id and secret into the event's headers"
)


def read_event(path: Path) -> Any:
    """The event file as JSON, or an error that names what is there to choose from."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        shipped = ", ".join(sorted(str(event) for event in EVENTS_DIR.glob("*.json")))
        raise SystemExit(f"error: no event file {path}; the shipped events are {shipped or 'in events/'}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: {path} is not JSON: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("function", help="track, authorizer, or a function's logical id")
    parser.add_argument("event", type=Path)
    args = parser.parse_args(argv)
    functions = read_template().functions()
    logical_id = ALIASES.get(args.function, args.function)
    if logical_id not in functions:
        raise SystemExit(
            f"error: unknown function {args.function}; choose from {', '.join(ALIASES)} or {', '.join(functions)}"
        )
    state = _running_stack()
    if state is not None:
        os.environ.update(local_aws_env(state["dynamodbPort"], state["secretsPort"]))
    else:
        print("note: no local stack running; AWS calls go wherever your AWS environment points", file=sys.stderr)
    event = read_event(args.event)
    spec = functions[logical_id]
    os.environ.update(spec.environment)
    # Like `sam local invoke`: the function's logs and metrics go to stderr, its result alone to stdout.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = LocalFunction(spec).invoke(event)
    except NoRegionError:
        raise SystemExit(f"error: {NO_STACK_HINT}") from None
    except Exception as exc:
        if logical_id == "AuthorizerFunction" and str(exc) == "Unauthorized":  # Lambda's way to say 401
            raise SystemExit(f"error: {UNAUTHORIZED_HINT}") from None
        raise
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
