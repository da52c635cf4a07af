"""Secrets and IP addresses never reach the logs. Requests carrying a known client secret, a known wrong
secret and known public IPs go through the local gateway (accepted, with an IP override, refused, malformed,
invalid); then every line the gateway, the authorizer and the track function printed meanwhile is searched
for them. (The 503 path, with DynamoDB down, is searched the same way in tests/faults/test_outages.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
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


def test_secrets_sent_in_the_body_never_appear_in_any_log_line_nor_in_what_is_kept(
    body_credentials_gateway_url: str,
    local_stack: LocalStack,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    stored_events: Callable[..., list[dict[str, Any]]],
    dynamodb: Any,
    template_env: dict[str, str],
) -> None:
    # Given a client, and bodies that carry its secret, a wrong secret, or its secret with an invalid or an oversized
    # event, through the gateway with BodyCredentials on (docs/DESIGN.md §50)
    created = create_client(project_id)
    port = int(urlsplit(body_credentials_gateway_url).port or 0)
    headers = [("Content-Type", "application/json"), ("User-Agent", "curl/8.5.0")]

    def body(secret: str, payload: dict[str, Any]) -> str:
        credentials = {"clientId": created["clientId"], "clientSecret": secret}
        return json.dumps({"type": "track", "payload": payload, **credentials})

    logs = sorted(local_stack.log_dir.glob("*.log"))
    offsets = {path: path.stat().st_size for path in logs}
    requests = [
        body(created["clientSecret"], {"name": "ok"}),
        body(CANARY_SECRET, {"name": "refused"}),
        body(created["clientSecret"], {"name": ""}),  # invalid: kept in the rejected-events table
        body(created["clientSecret"], {"name": "cut", "properties": {"long": "x" * 5000}}),  # truncated: kept too
    ]

    # When they are sent
    statuses = [send(port, "POST", "/track", data.encode(), headers=headers).status for data in requests]

    # Then each path was taken, and the refusal was logged
    assert statuses == [200, 401, 400, 200]
    logs = sorted(local_stack.log_dir.glob("*.log"))  # the body gateway's log may be new
    written = "\n".join(read_from(path, offsets.get(path, 0)) for path in logs)
    assert "invalid client credentials in the body" in written
    # And neither secret appears in any line logged meanwhile
    for line in written.splitlines():
        for canary in (created["clientSecret"], CANARY_SECRET):
            assert canary not in line, f"{canary!r} logged: {line[:300]}"
    # Nor in the stored events, nor in the rejected-events table (the invalid and the cut event are both kept)
    assert [event["name"] for event in stored_events(project_id)] == ["ok", "cut"]
    assert created["clientSecret"] not in json.dumps(stored_events(project_id), default=str)
    kept = dynamodb.query(
        TableName=template_env["REJECTED_EVENTS_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": project_id}},
        ConsistentRead=True,
    )["Items"]
    assert len(kept) == 2
    assert created["clientSecret"] not in json.dumps(kept) and CANARY_SECRET not in json.dumps(kept)


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


CANARY_PERSON = "canary-person-5d1e"
CANARY_EMAIL = "canary.person.5d1e@example.com"


def test_an_erasure_logs_no_personal_data(
    dynamodb: object,
    template_env: dict[str, str],
    tmp_path: Path,
    project_id: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Given a person with a profile, an alias and events on a device (the log canaries)
    import logging
    from datetime import UTC, datetime

    from admin.lake_erasure import DirectoryLakeFiles, ParquetLakeEraser
    from beacon.domain.entities import ProfileUpdate
    from beacon.domain.erasure import ErasureRequest, receipt_document, run_erasure, start_erasure
    from beacon.store.erasure import DynamoDBErasureLog, DynamoDBScopeResolver, ErasureTables, dynamodb_erasers
    from beacon.store.events import DynamoDBEventStore
    from beacon.store.profiles import DynamoDBProfileStore
    from tests.integration.test_erasure import make_event

    now = datetime(2026, 12, 2, tzinfo=UTC)
    profiles = DynamoDBProfileStore(template_env["ENTITIES_TABLE"], dynamodb)  # type: ignore[arg-type]
    profiles.identify(project_id, ProfileUpdate(CANARY_PERSON, email=CANARY_EMAIL), now)
    DynamoDBEventStore(template_env["EVENTS_TABLE"], 35, dynamodb).put_event(  # type: ignore[arg-type]
        make_event(project_id, 1, f"{CANARY_PERSON}-device", CANARY_PERSON)
    )
    tables = ErasureTables(
        template_env["EVENTS_TABLE"],
        template_env["ENTITIES_TABLE"],
        template_env["SESSIONS_TABLE"],
        template_env["REJECTED_EVENTS_TABLE"],
    )
    log = DynamoDBErasureLog(tables.entities, dynamodb)  # type: ignore[arg-type]
    # When it is erased, every logger recording from INFO up
    with caplog.at_level(logging.INFO):
        receipt = start_erasure(
            ErasureRequest(project_id, CANARY_PERSON),
            DynamoDBScopeResolver(tables.entities, tables.events, dynamodb),  # type: ignore[arg-type]
            log,
            now,
        )
        erasers = [*dynamodb_erasers(tables, dynamodb), ParquetLakeEraser(DirectoryLakeFiles(tmp_path))]  # type: ignore[arg-type]
        done = run_erasure(receipt, erasers, log, lambda: now)
    # Then it removed them, and neither a log record, the process' output, nor the receipt names the person
    assert done.counts["events"] == 1 and done.counts["profiles"] == 1
    printed = capfd.readouterr()
    for text in (caplog.text, printed.out, printed.err, json.dumps(receipt_document(done))):
        assert CANARY_PERSON not in text and CANARY_EMAIL not in text


def test_an_erasure_and_an_export_over_http_log_no_personal_data(
    gateway_url: str, local_stack: LocalStack, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a person tracked over HTTP, and the gateway's log (the functions' lines) as it stands
    import time

    from tests.e2e.test_read_api import call, credentials

    person, email = f"{CANARY_PERSON}-http", f"http.{CANARY_EMAIL}"
    writer, root = create_client(project_id, "write"), create_client(project_id, "root")
    headers = {**credentials(writer), "Content-Type": "application/json"}
    for body in (
        {"type": "identify", "payload": {"profileId": person, "email": email}},
        {"type": "track", "payload": {"name": "screen_view", "profileId": person}},
    ):
        assert call(f"{gateway_url}/track", "POST", json.dumps(body), headers).status == 200
    logs = sorted(local_stack.log_dir.glob("*.log"))
    offsets = {path: path.stat().st_size for path in logs}
    # When a root client exports the person, then erases them, and the asynchronous run finishes
    export = call(f"{gateway_url}/profile/{person}/export", headers=credentials(root))
    assert export.status == 200 and export.body["profiles"][0]["email"] == email
    receipt = call(f"{gateway_url}/profile/{person}", "DELETE", headers=credentials(root)).body
    deadline = time.monotonic() + 30
    while receipt["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        receipt = call(f"{gateway_url}{receipt['statusUrl']}", headers=credentials(root)).body
    assert receipt["status"] in ("waiting", "done") and receipt["removed"]["events"] >= 1
    # Then the function logged the run (its id and counts), and no line names the person or their email
    written = "\n".join(read_from(path, offsets[path]) for path in logs)
    assert "erasure run" in written and receipt["erasureId"] in written
    for line in written.splitlines():
        assert person not in line and email not in line, line[:300]
