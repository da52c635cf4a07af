"""Secrets and IP addresses never reach the logs. Requests carrying a known client secret, a known wrong
secret and known public IPs go through the local gateway (accepted, with an IP override, refused, malformed,
invalid); then every line the gateway, the authorizer and the track function printed meanwhile is searched
for them. (The 503 path, with DynamoDB down, is searched the same way in tests/faults/test_outages.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from local.stack import LocalStack
from local.template import load_template
from tests.constants import ROOT
from tests.faults.private_stack import Client, send, track_body

pytestmark = pytest.mark.e2e
CANARY_SECRET = "sec_canary-9f3b1c7d2e8a4f6b0c5d"
CANARY_IPV4 = "198.51.100.77"
CANARY_IPV6 = "2001:db8::7e57:1"


def test_secrets_and_ips_never_appear_in_any_log_line(
    gateway_url: str, local_stack: LocalStack, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a client, and requests that carry its secret, a wrong secret and the caller's public IPs
    created = create_client(project_id)
    client = Client(created["clientId"], created["clientSecret"], project_id)
    port = int(urlsplit(gateway_url).port or 0)
    ips = [("X-Forwarded-For", f"{CANARY_IPV4}, 130.176.0.1"), ("openpanel-client-ip", CANARY_IPV6)]
    wrong = [(name, CANARY_SECRET if name == "openpanel-client-secret" else value) for name, value in client.headers()]
    malformed = [(name, CANARY_SECRET if name == "openpanel-client-id" else value) for name, value in client.headers()]
    invalid = json.dumps({"type": "track", "payload": {"name": "", "properties": {"ip": CANARY_IPV4}}}).encode()
    logs = sorted(local_stack.log_dir.glob("*.log"))
    offsets = {path: path.stat().st_size for path in logs}

    # When they are sent: accepted, with an IP override, refused, malformed and invalid
    requests = [
        (client.headers(), track_body("ok")),
        (client.headers(), track_body("override", {"__ip": CANARY_IPV4})),
        (wrong, track_body("refused")),
        (malformed, track_body("malformed")),
        (client.headers(), invalid),
    ]
    statuses = [send(port, "POST", "/track", body, headers=[*headers, *ips]).status for headers, body in requests]

    # Then each path was taken, and the refusal was logged
    assert statuses == [200, 200, 401, 401, 400]
    written = "\n".join(read_from(path, offsets[path]) for path in logs)
    assert "invalid client credentials" in written
    # And neither secret nor any IP of the caller appears in any line logged meanwhile
    for line in written.splitlines():
        for canary in (client.secret, CANARY_SECRET, CANARY_IPV4, CANARY_IPV6):
            assert canary not in line, f"{canary!r} logged: {line[:300]}"


def read_from(path: Path, offset: int) -> str:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def test_no_function_is_configured_to_log_its_incoming_event() -> None:
    # Powertools logs the whole event (headers with the secret, the source IP) when this is on in any function
    template = load_template()
    environments = [template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})]
    environments += [
        resource["Properties"].get("Environment", {}).get("Variables", {})
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    for variables in environments:
        assert str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() != "true"
    # Nor is any handler decorated to log it
    for handler in ROOT.glob("functions/*/app.py"):
        assert "log_event=True" not in handler.read_text(), handler
