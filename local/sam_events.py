"""`make events`: what `sam local invoke` needs to call the running local stack.

- `env.json` (`--env-vars`): every `AWS_ENDPOINT_URL_*` the template declares, pointing at the stack's services. SAM
  passes a container only the variables a function declares; the template declares them empty, which botocore
  ignores, so deployed functions keep AWS's endpoints. The committed file names `make run`'s default ports.
- `.local/events/authorizer.json`: the committed authorizer event with the credentials of a new client of the
  running stack, so `sam local invoke AuthorizerFunction` (or `make invoke FN=authorizer`) is allowed. It is written
  under `.local/` (git-ignored), not over `events/authorizer.json`: a real secret is never committed, and the
  committed event stays the fixture the tests read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.state_files import write_private
from local.template import ROOT, Template, read_template

ENV_FILE = ROOT / "env.json"
# Which run.json port serves each endpoint variable (DynamoDB Local also serves the Streams API).
ENDPOINT_PORTS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "dynamodbPort",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "dynamodbPort",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER": "secretsPort",
    "AWS_ENDPOINT_URL_ATHENA": "athenaPort",
    "AWS_ENDPOINT_URL_FIREHOSE": "firehosePort",
    "AWS_ENDPOINT_URL_S3": "secretsPort",  # moto's server answers S3 beside Secrets Manager (DESIGN §43)
    "AWS_ENDPOINT_URL_LAMBDA": "lambdaPort",  # the gateway's process answers Invoke (local/lambda_invoke.py)
}


def env_vars(template: Template, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """SAM's `--env-vars` document: per function, each endpoint it declares at the local service's address
    (127.0.0.1: the container shares the host's network with `--docker-network host`)."""
    document: dict[str, dict[str, str]] = {}
    for logical_id, names in sorted(template.endpoint_variables().items()):
        unknown = [name for name in names if name not in ENDPOINT_PORTS]
        if unknown:
            raise ValueError(f"{logical_id} declares {', '.join(unknown)}, which the local stack does not serve")
        if names:
            document[logical_id] = {name: f"http://127.0.0.1:{ports[ENDPOINT_PORTS[name]]}" for name in names}
    return document


def default_ports() -> dict[str, int]:
    from local.stack import DEFAULT_PORTS

    return {f"{service}Port": port for service, port in DEFAULT_PORTS.items()}


def authorizer_event(template_event: dict[str, Any], client_id: str, secret: str) -> dict[str, Any]:
    """The committed authorizer event with these credentials in both header maps."""
    event: dict[str, Any] = json.loads(json.dumps(template_event))
    for maps, wrap in (("headers", lambda value: value), ("multiValueHeaders", lambda value: [value])):
        headers = event.get(maps) or {}
        headers["openpanel-client-id"] = wrap(client_id)
        headers["openpanel-client-secret"] = wrap(secret)
        event[maps] = headers
    return event


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make events", description=__doc__)
    import local.stack as local_stack
    from admin.clients import ClientAdminError, create_command, local_target

    parser.add_argument("--project", default="demo", help="the project of the client the event authenticates as")
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    parser.add_argument("--event-out", type=Path, default=local_stack.STATE_DIR / "events" / "authorizer.json")
    args = parser.parse_args(argv)

    state = local_stack._running_stack()
    if state is None:
        raise SystemExit(f"error: no local stack is running (no live {local_stack.RUN_FILE}); start `make run` first")
    ports = {**default_ports(), **{key: value for key, value in state.items() if key.endswith("Port")}}
    write_json(args.env_file, env_vars(read_template(), ports))
    print(f"wrote {args.env_file} (the running stack's ports)", file=sys.stderr)
    try:
        target = local_target()
        created = create_command(
            target,
            argparse.Namespace(project=args.project, type="write", origin=None, rate=None, burst=None),
            datetime.now(UTC),
        )
    except ClientAdminError as exc:
        raise SystemExit(f"error: {exc}") from None
    committed = json.loads((ROOT / "events" / "authorizer.json").read_text())
    out: Path = args.event_out
    write_private(out, json.dumps(authorizer_event(committed, created["clientId"], created["clientSecret"]), indent=2))
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(
        f"wrote {shown} (client {created['clientId']} of project {args.project}); try\n"
        f"  make invoke FN=authorizer EVENT={shown}\n"
        f"  sam local invoke AuthorizerFunction -e {shown} --env-vars env.json --docker-network host",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
