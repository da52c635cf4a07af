"""`make smoke STACK=name` (`python -m admin smoke --stack-name S`): a deployed stack answers as the local one does.

It creates a write and a read client of a throwaway project, sends each kind of request over HTTPS (track,
identify, increment, a batch, the device id), reads the events and the profile back, and revokes both clients,
even when a check fails. Without --stack-name it runs against the local stack of `make run` (--url). It is
the check that the local gateway has not drifted from API Gateway, for anyone with an account.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from admin.aws import deployed_stack_options, use_aws_options

# A new API key can take a few seconds to join its usage plan, and a read may lag a write by as much.
SETTLE_SECONDS = 30.0


class SmokeError(Exception):
    """The API answered something the local stack would not have."""


def _call(
    base_url: str, method: str, path: str, client: dict[str, str], body: Any = None
) -> tuple[int, dict[str, Any]]:
    headers = {"openpanel-client-id": client["clientId"], "openpanel-client-secret": client["clientSecret"]}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    url = base_url.rstrip("/") + path
    if not url.startswith(("https://", "http://")):
        raise SmokeError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - checked above
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"raw": raw[:200].decode(errors="replace")}
    return status, answer if isinstance(answer, dict) else {"value": answer}


def _expect(
    what: str,
    attempt: Callable[[], tuple[int, dict[str, Any]]],
    ok: Callable[[int, dict[str, Any]], bool],
    settle_seconds: float,
) -> dict[str, Any]:
    """Retry until ok() or settle_seconds have passed (keys joining usage plans, reads catching up)."""
    deadline = time.monotonic() + settle_seconds
    while True:
        status, answer = attempt()
        if ok(status, answer):
            return answer
        if time.monotonic() >= deadline:
            raise SmokeError(f"{what}: HTTP {status} {json.dumps(answer)[:300]}")
        time.sleep(1.0)


def run_smoke(
    base_url: str, writer: dict[str, str], reader: dict[str, str], settle_seconds: float = SETTLE_SECONDS
) -> list[str]:
    """Every request type, then the reads that must find them; returns what was checked, one line each."""
    checked: list[str] = []
    profile_id = f"smoke-{uuid.uuid4().hex[:8]}"
    name = "smoke_test"

    def post(path: str, body: Any) -> Callable[[], tuple[int, dict[str, Any]]]:
        return lambda: _call(base_url, "POST", path, writer, body)

    def accepted(status: int, answer: dict[str, Any]) -> bool:
        return status in (200, 202)

    track = {"type": "track", "payload": {"name": name, "profileId": profile_id, "properties": {"step": 1}}}
    _expect("POST /track (track)", post("/track", track), accepted, settle_seconds)
    checked.append("POST /track track")
    identify = {"type": "identify", "payload": {"profileId": profile_id, "firstName": "Smoke", "properties": {}}}
    _expect("POST /track (identify)", post("/track", identify), accepted, settle_seconds)
    checked.append("POST /track identify")
    increment = {"type": "increment", "payload": {"profileId": profile_id, "property": "smokes", "value": 1}}
    _expect("POST /track (increment)", post("/track", increment), accepted, settle_seconds)
    checked.append("POST /track increment")
    batch = {"batch": [{"type": "track", "payload": {"name": name, "profileId": profile_id}} for _ in range(2)]}
    _expect("POST /track/batch", post("/track/batch", batch), accepted, settle_seconds)
    checked.append("POST /track/batch (2 events)")
    device = _expect(
        "GET /track/device-id",
        lambda: _call(base_url, "GET", "/track/device-id", writer),
        lambda status, answer: status == 200 and "deviceId" in answer,
        settle_seconds,
    )
    checked.append(f"GET /track/device-id ({device['deviceId'][:8]}…)")

    def read(path: str) -> Callable[[], tuple[int, dict[str, Any]]]:
        return lambda: _call(base_url, "GET", path, reader)

    def three_events(status: int, answer: dict[str, Any]) -> bool:
        return status == 200 and sum(event.get("name") == name for event in answer.get("data", [])) >= 3

    _expect("GET /export/events", read(f"/export/events?event={name}&limit=100"), three_events, settle_seconds)
    checked.append("GET /export/events (3 events back)")
    _expect(
        "GET /profile/{profileId}",
        read(f"/profile/{profile_id}"),
        lambda status, answer: status == 200 and answer.get("firstName") == "Smoke",
        settle_seconds,
    )
    checked.append("GET /profile/{profileId} (identify's traits back)")
    _expect(
        "GET /profile/{profileId}/events",
        read(f"/profile/{profile_id}/events?limit=100"),
        three_events,
        settle_seconds,
    )
    checked.append("GET /profile/{profileId}/events")
    status, _ = _call(base_url, "POST", "/track", reader, track)
    if status != 403:
        raise SmokeError(f"a read client's POST /track answered {status}, not 403")
    checked.append("a read client may not write (403)")
    return checked


def _stack_api_url(stack_name: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    url = outputs.get("DistributionUrl") or outputs.get("ApiUrl")
    if not url:
        raise SmokeError(f"stack {stack_name} has no ApiUrl output")
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="beacon smoke", description=(__doc__ or "").split("\n\n")[0], parents=[deployed_stack_options()]
    )
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local stack's URL (without --stack-name)")
    args = parser.parse_args(argv)
    use_aws_options(args)
    from admin.clients import ClientAdminError, aws_target, create_command, local_target, revoke_command

    target = aws_target(args.stack_name) if args.stack_name else local_target()
    base_url = _stack_api_url(args.stack_name) if args.stack_name else args.url
    project = f"smoke-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    made: list[dict[str, Any]] = []
    try:
        for kind in ("write", "read"):
            options = argparse.Namespace(project=project, type=kind, origin="", rate=None, burst=None)
            made.append(create_command(target, options, datetime.now(UTC)))
        for line in run_smoke(base_url, made[0], made[1]):
            sys.stdout.write(f"ok  {line}\n")
    except (SmokeError, ClientAdminError) as exc:
        raise SystemExit(f"smoke test failed against {base_url}: {exc}") from exc
    finally:
        for client in made:
            revoke_command(target, argparse.Namespace(client_id=client["clientId"]), datetime.now(UTC))
    sys.stdout.write(f"smoke test passed against {base_url} (project {project}; its clients are revoked)\n")
