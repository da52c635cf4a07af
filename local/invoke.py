"""`make invoke FN=track EVENT=events/track.json`: run one function on one event in-process, like
`sam local invoke` without Docker. Uses the local stack's endpoints when one is running."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from local.gateway import LocalFunction
from local.stack import _running_stack, local_aws_env
from local.template import read_template

ALIASES = {"track": "TrackFunction", "authorizer": "AuthorizerFunction", "read": "ReadFunction"}


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
    spec = functions[logical_id]
    os.environ.update(spec.environment)
    # Like `sam local invoke`: the function's logs and metrics go to stderr, its result alone to stdout.
    with contextlib.redirect_stdout(sys.stderr):
        result = LocalFunction(spec).invoke(json.loads(args.event.read_text()))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
