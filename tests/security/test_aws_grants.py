"""Every AWS call a function makes is granted by its policy in template.yaml, and every grant is used.

How it works:
1. Recording (local/aws_calls.py). For the whole test session, tests/conftest.py installs a recorder in the pytest
   process and names a file in BEACON_RECORD_AWS_CALLS, so every local gateway the tests start (a child process,
   which runs the functions) records too. Each botocore client gets a `provide-client-params` hook; each call is
   attributed to the function whose app.py is on the calling stack (pool threads inherit the submitter's
   function) and written as what IAM evaluates: (function, action, resource ARN). A batch is one entry per table,
   a transaction (TransactWriteItems) one per item, as the item's own action on its own table (IAM has no
   TransactWriteItems action: it checks dynamodb:PutItem/UpdateItem/DeleteItem/ConditionCheckItem per item), a
   Query on an index the index's ARN.
2. Grants (tests/security/aws_grants.py). Each function's inline statements, resolved the way CloudFormation
   resolves them for the local stack (tables and secrets named after their logical ids), matched with IAM's
   wildcards; an explicit Deny wins.
3. The checks run at the end of the session (the `session_end` marker: tests/conftest.py moves them last), over
   the calls of the whole run: every recorded call is allowed (any run, any subset of tests); and every Allow grant
   covers at least one recorded call. The second needs every code path to have run, so the driver tests below
   take each function through all of its store calls over HTTP; it is skipped when they did not all pass in
   this run (a subset, `-k`).

A function that starts a new kind of AWS call fails the first check until its policy grants it (the batch retry's
BatchGetItem on the events table was missing); a grant the code no longer needs fails the second.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local import aws_calls
from local.aws_calls import (
    RECORD_ENV,
    AwsCall,
    CallRecorder,
    iam_requests,
    read_calls,
    record_path,
    secret_arn,
    table_arn,
)
from local.template import read_template
from tests.constants import ROOT
from tests.e2e.test_seed_examples import REST_PAGE, TRACK_MDX
from tests.security.aws_grants import (
    DRIVERS_PASSED,
    Grant,
    allowed,
    of_the_stack,
    template_grants,
    ungranted,
    unused,
)

TEMPLATE = read_template()
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
GRANTS = template_grants(TEMPLATE)
# The stack with BodyCredentials on (docs/DESIGN.md §50), as the tests' second gateway runs it: its calls are recorded
# in a file of their own (local/aws_calls.py record_path) and checked against its own grants.
BODY_TEMPLATE = read_template(overrides={"BodyCredentials": "true"})
BODY_GRANTS = template_grants(BODY_TEMPLATE)


def recorded_calls() -> set[AwsCall]:
    return read_calls(Path(os.environ[RECORD_ENV]))


def body_credentials_calls() -> set[AwsCall]:
    return read_calls(record_path(Path(os.environ[RECORD_ENV]), BODY_TEMPLATE.overrides))


def report(lines: list[Any]) -> str:
    return "\n  " + "\n  ".join(str(line) for line in lines)


# -- the mechanism ----------------------------------------------------------------------------------------------
def test_a_transaction_is_checked_per_item_as_each_items_action_on_its_own_table() -> None:
    # Given a transaction over three tables: a Put, an Update and a ConditionCheck
    params = {
        "TransactItems": [
            {"Put": {"TableName": "EventsTable", "Item": {}}},
            {"Update": {"TableName": "SessionsTable", "Key": {}, "UpdateExpression": "SET a = :a"}},
            {"ConditionCheck": {"TableName": "EntitiesTable", "Key": {}, "ConditionExpression": "x"}},
        ]
    }
    # Then IAM evaluates one action per item, each on its own table, and no TransactWriteItems action
    assert iam_requests("dynamodb", "TransactWriteItems", params) == [
        ("dynamodb:PutItem", table_arn("EventsTable")),
        ("dynamodb:UpdateItem", table_arn("SessionsTable")),
        ("dynamodb:ConditionCheckItem", table_arn("EntitiesTable")),
    ]
    # And a grant of PutItem on the events table alone does not cover the session's Update
    grants = [Grant("TrackFunction", "s", "dynamodb:PutItem", table_arn("EventsTable"))]
    update = AwsCall("TrackFunction", "dynamodb:UpdateItem", table_arn("SessionsTable"))
    assert not allowed(update, grants)


def test_batches_are_checked_per_table_and_an_index_query_on_the_index() -> None:
    batch: dict[str, Any] = {"RequestItems": {"EventsTable": {"Keys": []}, "IdempotencyTable": {"Keys": []}}}
    assert iam_requests("dynamodb", "BatchGetItem", batch) == [
        ("dynamodb:BatchGetItem", table_arn("EventsTable")),
        ("dynamodb:BatchGetItem", table_arn("IdempotencyTable")),
    ]
    query = {"TableName": "EventsTable", "IndexName": "byProfile", "KeyConditionExpression": "k"}
    index = f"{table_arn('EventsTable')}/index/byProfile"
    assert iam_requests("dynamodb", "Query", query) == [("dynamodb:Query", index)]
    # An object's read or write is on the object's ARN
    assert iam_requests("s3", "PutObject", {"Bucket": "b", "Key": "replays/p/s.json", "Body": b""}) == [
        ("s3:PutObject", "arn:aws:s3:::b/replays/p/s.json")
    ]
    # And a call the mapping does not know is its action on "*", which nothing grants
    assert iam_requests("s3", "DeleteObject", {"Bucket": "b", "Key": "k"}) == [("s3:DeleteObject", "*")]


def test_a_delete_of_objects_is_checked_per_object_and_an_invoke_on_the_function_named() -> None:
    # IAM has no s3:DeleteObjects: each object of the request needs s3:DeleteObject on its own ARN
    delete = {"Bucket": "b", "Delete": {"Objects": [{"Key": "replays/p/1"}, {"Key": "replays/p/2"}]}}
    assert iam_requests("s3", "DeleteObjects", delete) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/replays/p/1"),
        ("s3:DeleteObject", "arn:aws:s3:::b/replays/p/2"),
    ]
    # And Invoke is lambda:InvokeFunction on the function as named: a name becomes the stack's unqualified ARN
    assert iam_requests("lambda", "Invoke", {"FunctionName": "local-privacy"}) == [
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:local-privacy")
    ]
    qualified = "arn:aws:lambda:us-east-1:123456789012:function:local-privacy:live"
    assert iam_requests("lambda", "Invoke", {"FunctionName": qualified}) == [("lambda:InvokeFunction", qualified)]


def test_secret_grants_follow_iam_name_matching() -> None:
    # A secret's ARN ends in 6 random characters: a prefix pattern with * covers it, the bare name does not
    name = "beacon/local/clients/c1"
    call = AwsCall("AuthorizerFunction", "secretsmanager:GetSecretValue", secret_arn(name))
    prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:beacon/local/clients/*"
    bare = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}"
    assert allowed(call, [Grant("AuthorizerFunction", "s", "secretsmanager:GetSecretValue", prefix)])
    assert not allowed(call, [Grant("AuthorizerFunction", "s", "secretsmanager:GetSecretValue", bare)])
    # And a Deny wins over an Allow; another function's grant never counts
    deny = Grant("AuthorizerFunction", "d", "secretsmanager:GetSecretValue", prefix, effect="Deny")
    assert not allowed(call, [Grant("AuthorizerFunction", "s", "secretsmanager:*", prefix), deny])
    assert not allowed(call, [Grant("TrackFunction", "s", "secretsmanager:GetSecretValue", prefix)])


def test_only_calls_on_resources_a_test_made_up_are_left_out_of_the_check() -> None:
    # A function loaded with an environment of a test's own (another stack's client prefix, a table no template
    # has) reaches resources no stack resource is named after; everything else is checked, "*" included
    def call(resource: str) -> AwsCall:
        return AwsCall("AuthorizerFunction", "secretsmanager:GetSecretValue", resource)

    assert of_the_stack(call(secret_arn("beacon/local/clients/c1")), TEMPLATE)
    assert of_the_stack(call(secret_arn("DeviceSaltSecret")), TEMPLATE)
    assert of_the_stack(call("*"), TEMPLATE)
    assert of_the_stack(AwsCall("TrackFunction", "dynamodb:Query", f"{table_arn('EventsTable')}/index/x"), TEMPLATE)
    assert not of_the_stack(call(secret_arn("beacon/faults/clients/c1")), TEMPLATE)
    assert not of_the_stack(AwsCall("TrackFunction", "dynamodb:PutItem", table_arn("beacon-unit-events")), TEMPLATE)


def test_a_call_is_recorded_for_the_function_whose_code_made_it_even_from_a_pool_thread(tmp_path: Path) -> None:
    # Given a recorder of our own, and code compiled as if it were the track function's app.py
    import botocore.session
    from botocore.stub import Stubber

    recorder = CallRecorder(tmp_path / "calls.jsonl", TEMPLATE)
    client: Any = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    client.meta.events.unregister("provide-client-params", unique_id="beacon-aws-call-recorder")  # not the session's
    client.meta.events.register("provide-client-params", recorder.on_call)
    stub = Stubber(client)
    items = [{"Put": {"TableName": "EventsTable", "Item": {}}}, {"Put": {"TableName": "IdempotencyTable", "Item": {}}}]
    stub.add_response("transact_write_items", {})
    stub.add_response("transact_write_items", {})
    stub.add_response("get_item", {})
    source = (
        "def in_function(call):\n    return call()\ndef in_pool(pool, call):\n    return pool.submit(call).result()\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, str(ROOT / "functions" / "track" / "app.py"), "exec"), namespace)  # noqa: S102 - our own code

    def transact() -> Any:
        return client.transact_write_items(TransactItems=items)

    installed = aws_calls._installed
    assert installed is not None, "tests/conftest.py installs the session's recorder (and its pool hook)"
    with stub, ThreadPoolExecutor(max_workers=1) as pool:
        # When that code makes the call itself, then through a pool thread, and the test makes one of its own
        namespace["in_function"](transact)
        assert namespace["in_pool"](pool, lambda: installed.attribution.current(sys._getframe())) == "TrackFunction"
        namespace["in_pool"](pool, transact)
        client.get_item(TableName="SessionsTable", Key={"pk": {"S": "p"}})

    # Then the function's calls are recorded once each, per table, and the test's own call not at all
    assert read_calls(recorder.path) == {
        AwsCall("TrackFunction", "dynamodb:PutItem", table_arn("EventsTable")),
        AwsCall("TrackFunction", "dynamodb:PutItem", table_arn("IdempotencyTable")),
    }
    assert len(recorder.path.read_text().splitlines()) == 2


def test_the_template_grants_resolve_to_arns_of_this_stack() -> None:
    # Every grant names an ARN of the local stack (no Ref of a table name, no unresolved intrinsic)
    assert GRANTS
    for grant in GRANTS:
        assert grant.resource.startswith(
            (
                "arn:aws:dynamodb:us-east-1:",
                "arn:aws:secretsmanager:us-east-1:",
                "arn:aws:firehose:us-east-1:",
                "arn:aws:athena:us-east-1:",
                "arn:aws:glue:us-east-1:",
                "arn:aws:s3:::",
                "arn:aws:lambda:us-east-1:123456789012:function:local-",
            )
        ), grant


# -- the drivers: each function through every store call it makes ------------------------------------------------
def http(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def credentials(client: dict[str, str], user_agent: str = BROWSER_USER_AGENT, **extra: str) -> dict[str, str]:
    """A browser's user agent by default: a server's events take no session (docs/DESIGN.md §49), so the session
    code paths would not run."""
    return {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": user_agent,
        "Content-Type": "application/json",
        **extra,
    }


@pytest.fixture
def writer(create_client: Callable[..., dict[str, str]], project_id: str) -> dict[str, str]:
    return create_client(project_id, "write")


@pytest.mark.aws_grants_driver
def test_driver_track_function_every_request_type_idempotency_rejections_and_device_ids(
    gateway_url: str, writer: dict[str, str]
) -> None:
    # OpenPanel's examples: new and continued sessions, identify, alias (a transaction with condition checks),
    # increment/decrement, groups, project filters, the device salt
    for example in TRACK_MDX + REST_PAGE:
        status, answer = http(f"{gateway_url}/track", "POST", example.body.encode(), credentials(writer))
        assert status == example.status, (example.section, answer)
    # An Idempotency-Key, twice (the claim in the event's transaction, then the repeat read back)
    track = json.dumps({"type": "track", "payload": {"name": "checkout"}}).encode()
    for _ in range(2):
        status, _answer = http(f"{gateway_url}/track", "POST", track, credentials(writer, **{"Idempotency-Key": "k1"}))
        assert status == 200
    increment = json.dumps({"type": "increment", "payload": {"profileId": "123", "property": "visits"}}).encode()
    status, _answer = http(f"{gateway_url}/track", "POST", increment, credentials(writer, **{"Idempotency-Key": "k2"}))
    assert status == 200
    # An event refused for validation is kept
    invalid = json.dumps({"type": "track", "payload": {"name": ""}}).encode()
    assert http(f"{gateway_url}/track", "POST", invalid, credentials(writer))[0] == 400
    # The device's ids
    assert http(f"{gateway_url}/track/device-id", headers=credentials(writer))[0] == 200
    # A server's event of a profile with a live browser session: the byLiveProfile index, then the device item
    visit = json.dumps({"type": "track", "payload": {"name": "screen_view", "profileId": "driver-1"}}).encode()
    assert http(f"{gateway_url}/track", "POST", visit, credentials(writer))[0] == 200
    paid = json.dumps({"type": "track", "payload": {"name": "invoice_paid", "profileId": "driver-1"}}).encode()
    status, joined = http(f"{gateway_url}/track", "POST", paid, credentials(writer, user_agent="curl/8.5.0"))
    assert status == 200 and joined["sessionId"] != ""


@pytest.mark.aws_grants_driver
def test_driver_track_function_batch_and_its_retry(gateway_url: str, writer: dict[str, str]) -> None:
    # A batch (its claim, BatchWriteItem of its events, a rejected item), then the same bytes again: the retry reads
    # which events are missing (BatchGetItem) before writing only those
    items = [{"type": "track", "payload": {"name": f"step_{i}"}} for i in range(30)]
    # and two back-dated events: a session of their own, with its record item (PutItem on the sessions table)
    offline = [
        {
            "type": "track",
            "payload": {"name": f"offline_{i}", "properties": {"__timestamp": f"2026-01-0{i + 1}T08:00:00Z"}},
        }
        for i in range(2)
    ]
    body = json.dumps({"batch": [*items, *offline, {"type": "track", "payload": {}}]}).encode()
    first = http(f"{gateway_url}/track/batch", "POST", body, credentials(writer))
    again = http(f"{gateway_url}/track/batch", "POST", body, credentials(writer))
    assert first[0] == again[0] == 200, (first, again)
    assert first[1]["accepted"] == again[1]["accepted"] == 32


@pytest.mark.aws_grants_driver
def test_driver_read_function_every_route_and_a_signed_cursor(
    gateway_url: str, writer: dict[str, str], create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    for example in TRACK_MDX + REST_PAGE:
        assert http(f"{gateway_url}/track", "POST", example.body.encode(), credentials(writer))[0] == example.status
    reader = create_client(project_id, "root")
    status, page = http(f"{gateway_url}/export/events?projectId={project_id}&limit=2", headers=credentials(reader))
    assert status == 200 and page["meta"]["next"], page
    cursor = urllib.parse.quote(page["meta"]["next"])
    next_page = f"{gateway_url}/export/events?projectId={project_id}&cursor={cursor}"
    assert http(next_page, headers=credentials(reader))[0] == 200
    for path in ("/profile/123", "/profile/user_123/events", "/group/org_acme", "/insights/live"):
        assert http(f"{gateway_url}{path}", headers=credentials(reader))[0] == 200, path


@pytest.mark.aws_grants_driver
def test_driver_session_replay_written_by_the_track_function_and_read_by_the_read_function(
    gateway_url: str, writer: dict[str, str], create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # A browser's session (a replay chunk joins it: its payload to S3, its index item to DynamoDB), then the read
    browser = credentials(writer, **{"User-Agent": BROWSER_USER_AGENT})
    screen_view = json.dumps({"type": "track", "payload": {"name": "screen_view"}}).encode()
    status, ids = http(f"{gateway_url}/track", "POST", screen_view, browser)
    assert status == 200, ids
    chunk = {
        "chunk_index": 0,
        "events_count": 1,
        "is_full_snapshot": True,
        "started_at": "2026-12-02T10:00:00.000Z",
        "ended_at": "2026-12-02T10:00:01.000Z",
        "payload": "[]",
    }
    replay = json.dumps({"type": "replay", "payload": chunk}).encode()
    assert http(f"{gateway_url}/track", "POST", replay, browser)[0] == 200
    reader = create_client(project_id, "root")
    status, page = http(f"{gateway_url}/session/{ids['sessionId']}/replay", headers=credentials(reader))
    assert status == 200 and page["meta"]["count"] == 1, page


@pytest.mark.aws_grants_driver
def test_driver_lake_function_reads_the_stream_with_its_role_and_writes_firehose(
    gateway_url: str, writer: dict[str, str], local_stack: Any, local_lake: Any, tmp_path: Path
) -> None:
    # The event source mapping reads the stream with the function's role (DescribeStream, GetShardIterator,
    # GetRecords), and the function hands the batch to Firehose (PutRecordBatch)
    from local.lake import Checkpoints, StreamPoller, lake_handler

    track = json.dumps({"type": "track", "payload": {"name": "lake_driver"}}).encode()
    assert http(f"{gateway_url}/track", "POST", track, credentials(writer))[0] == 200
    poller = StreamPoller(
        local_stack.boto3_client("dynamodb"),
        local_stack.boto3_client("dynamodbstreams"),
        TEMPLATE.functions()["TrackFunction"].environment["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(tmp_path / "checkpoints.json"),
    )
    assert poller.poll_once() >= 1


@pytest.mark.aws_grants_driver
def test_driver_read_function_insights_through_athena(
    gateway_url: str,
    writer: dict[str, str],
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    local_stack: Any,
    local_lake: Any,
    tmp_path: Path,
) -> None:
    # Events in the lake, then every insight: Athena queries in the workgroup, and what Athena does for them
    from local.lake import Checkpoints, StreamPoller, lake_handler

    track = json.dumps({"type": "track", "payload": {"name": "screen_view", "properties": {"__path": "/a"}}})
    assert http(f"{gateway_url}/track", "POST", track.encode(), credentials(writer))[0] == 200
    StreamPoller(
        local_stack.boto3_client("dynamodb"),
        local_stack.boto3_client("dynamodbstreams"),
        TEMPLATE.functions()["TrackFunction"].environment["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(tmp_path / "checkpoints.json"),
    ).poll_once()
    local_lake.firehose.flush()
    reader = create_client(project_id, "root")
    for path in (
        "/insights/overview",
        "/insights/top?dimension=path",
        "/insights/funnel?steps=screen_view,signup",
        "/insights/retention",
    ):
        assert http(f"{gateway_url}{path}", headers=credentials(reader))[0] == 200, path


@pytest.mark.aws_grants_driver
def test_driver_privacy_function_export_pages_then_an_erasure_of_every_store_with_suppression(
    gateway_url: str, writer: dict[str, str], create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # A person in every store the function reaches: a profile with an alias, events from a browser (their device's
    # session), a replay chunk of that session (S3 and its index item), an anonymous event of the device, a
    # refused event naming them
    import time

    browser = credentials(writer, **{"User-Agent": BROWSER_USER_AGENT})
    bodies = [
        {"type": "identify", "payload": {"profileId": "pat", "email": "pat@example.com"}},
        {"type": "alias", "payload": {"profileId": "pat", "alias": "pat-old"}},
        {"type": "track", "payload": {"name": "screen_view"}},
        {"type": "track", "payload": {"name": "screen_view", "profileId": "pat"}},
        {"type": "track", "payload": {"name": "checkout", "profileId": "pat"}},
    ]
    for body in bodies:
        assert http(f"{gateway_url}/track", "POST", json.dumps(body).encode(), browser)[0] == 200, body
    chunk = {
        "chunk_index": 0,
        "events_count": 1,
        "is_full_snapshot": True,
        "started_at": "2026-12-02T10:00:00.000Z",
        "ended_at": "2026-12-02T10:00:01.000Z",
        "payload": "[]",
    }
    replay = json.dumps({"type": "replay", "payload": chunk}).encode()
    assert http(f"{gateway_url}/track", "POST", replay, browser)[0] == 200
    refused = json.dumps({"type": "track", "payload": {"name": "", "profileId": "pat"}}).encode()
    assert http(f"{gateway_url}/track", "POST", refused, browser)[0] == 400
    root = create_client(project_id, "root")
    # The export, two pages (its head's GetItems, the index's pages, the signed cursor)
    export = f"{gateway_url}/profile/pat/export?projectId={project_id}&limit=1"
    status, page = http(export, headers=credentials(root))
    assert status == 200 and page["sessions"] and page["meta"]["next"], page
    cursor = urllib.parse.quote(page["meta"]["next"])
    assert http(f"{export}&cursor={cursor}", headers=credentials(root))[0] == 200
    # The erasure with suppression: the receipt, the hand-off to itself, then its run over every store
    status, receipt = http(
        f"{gateway_url}/profile/pat?projectId={project_id}&suppress=true", "DELETE", headers=credentials(root)
    )
    assert status == 202, receipt
    deadline = time.monotonic() + 30
    while receipt["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        receipt = http(f"{gateway_url}{receipt['statusUrl']}", headers=credentials(root))[1]
    assert receipt["status"] == "waiting", receipt
    assert {name: receipt["removed"][name] > 0 for name in ("events", "replays", "rejected", "profiles")} == {
        "events": True,
        "replays": True,
        "rejected": True,
        "profiles": True,
    }, receipt
    assert receipt["storesDone"][0] == "suppression"


def _idle_for_an_hour(dynamodb: Any, project_id: str, device_id: str) -> None:
    """Make the device's session look last seen an hour ago (a test's own write, no function's)."""
    from datetime import UTC, datetime, timedelta

    from beacon.domain.sessions import idle_bucket
    from beacon.store.events import isoformat_ms
    from beacon.store.sessions import bucket_value

    pk = f"{project_id}#{device_id}"
    old = datetime.now(UTC) - timedelta(hours=1)
    dynamodb.update_item(
        TableName=TEMPLATE.functions()["TrackFunction"].environment["SESSIONS_TABLE"],
        Key={"pk": {"S": pk}},
        UpdateExpression="SET lastSeenAt = :old, idleBucket = :bucket",
        ExpressionAttributeValues={
            ":old": {"S": isoformat_ms(old)},
            ":bucket": {"S": bucket_value(pk, idle_bucket(old))},
        },
    )


@pytest.mark.aws_grants_driver
def test_driver_track_function_boundary_case_and_reaper_function_ending_a_session(
    gateway_url: str,
    writer: dict[str, str],
    dynamodb: Any,
    project_id: str,
    local_stack: Any,
    create_client: Callable[..., dict[str, str]],
) -> None:
    # A session idle for an hour that no reaper ended: the next event's start writes its session_end and record
    # (GetItem of the old session, then a transaction Putting the record in the sessions table)
    def send(device: str) -> None:
        body = {"type": "track", "payload": {"name": "screen_view", "properties": {"__deviceId": device}}}
        status, answer = http(f"{gateway_url}/track", "POST", json.dumps(body).encode(), credentials(writer))
        assert status == 200, answer

    send("boundary-device")
    _idle_for_an_hour(dynamodb, project_id, "boundary-device")
    send("boundary-device")
    # The reaper (its own handler, as the schedule invokes it): the index Query, the reads, the end's transaction
    # (UpdateItem and the record's PutItem on the sessions table, session_end's PutItem on the events table), and
    # the cursor's UpdateItem
    from beacon.config import ReaperSettings
    from beacon.store.factory import reaper_store
    from local.reaper import load_reaper_function

    send("reaped-device")
    _idle_for_an_hour(dynamodb, project_id, "reaped-device")
    environment = TEMPLATE.functions()["ReaperFunction"].environment
    # The session was made idle an hour back, behind the cursor earlier tests' reapers left in this shared table:
    # the test's own delete of the cursor lets this run start from its first-run window (120 minutes back)
    from beacon.store.sessions import REAPER_KEY

    dynamodb.delete_item(TableName=environment["SESSIONS_TABLE"], Key=REAPER_KEY)
    reaper = load_reaper_function(environment)
    store = reaper_store(ReaperSettings.from_env(environment), local_stack.boto3_client("dynamodb"))
    assert reaper.run_reaper(store=store).ended >= 1
    # The read function's session routes: a record by id (GetItem), a project's (the byProjectStart index)
    reader = create_client(project_id, "root")
    status, page = http(f"{gateway_url}/export/sessions?projectId={project_id}", headers=credentials(reader))
    assert status == 200 and page["data"], page
    assert http(f"{gateway_url}/session/{page['data'][0]['id']}", headers=credentials(reader))[0] == 200


def test_body_credentials_add_exactly_the_track_functions_reads_of_client_records_and_the_id_key() -> None:
    # Given the grants with BodyCredentials off (the default) and on
    added, removed = set(BODY_GRANTS) - set(GRANTS), set(GRANTS) - set(BODY_GRANTS)
    # Then the parameter takes nothing away, and adds exactly the authorizer's two reads, to the track function
    assert removed == set()
    client_records = "arn:aws:secretsmanager:us-east-1:123456789012:secret:beacon/local/clients/*"
    assert {(grant.function, grant.action, grant.resource) for grant in added} == {
        ("TrackFunction", "secretsmanager:GetSecretValue", client_records),
        ("TrackFunction", "secretsmanager:GetSecretValue", secret_arn("ClientIdKeySecret")),
    }
    assert {grant.resource for grant in GRANTS if grant.function == "AuthorizerFunction"} >= {
        client_records,
        secret_arn("ClientIdKeySecret"),
    }
    # And off, the track function may read no secret but the device salt
    track_secrets = {
        grant.resource for grant in GRANTS if grant.function == "TrackFunction" and grant.action.startswith("secrets")
    }
    assert track_secrets == {secret_arn("DeviceSaltSecret")}


@pytest.mark.aws_grants_driver
def test_driver_track_function_body_credentials(body_credentials_gateway_url: str, writer: dict[str, str]) -> None:
    # A Zaraz-style body with BodyCredentials on: the track function reads the id key, then the client's record
    body = {"type": "track", "payload": {"name": "zaraz_event"}, **{k: writer[k] for k in ("clientId", "clientSecret")}}
    headers = {"User-Agent": "curl/8.5.0", "Content-Type": "application/json"}
    status, answer = http(f"{body_credentials_gateway_url}/track", "POST", json.dumps(body).encode(), headers)
    assert status == 200, answer


# -- the checks, over the whole run ---------------------------------------------------------------------------------
@pytest.mark.session_end
def test_every_aws_call_a_function_made_in_this_run_is_granted_by_its_policy() -> None:
    calls = recorded_calls()
    if not calls:
        pytest.skip("no function made an AWS call in this run")
    missing = ungranted((call for call in calls if of_the_stack(call, TEMPLATE)), GRANTS)
    assert not missing, "calls that template.yaml does not grant (IAM would refuse them in AWS):" + report(missing)


@pytest.mark.session_end
def test_every_grant_of_every_function_is_used_in_this_run(request: pytest.FixtureRequest) -> None:
    drivers = request.config.stash.get(DRIVERS_PASSED, None)
    if drivers is None or not drivers.all_passed():
        pytest.skip("the driver tests of tests/security/test_aws_grants.py did not all run and pass")
    idle = unused(recorded_calls(), GRANTS)
    assert not idle, "grants no function used in this run (least privilege: remove them):" + report(idle)


@pytest.mark.session_end
def test_with_body_credentials_every_aws_call_a_function_made_is_granted_by_its_policy() -> None:
    calls = body_credentials_calls()
    if not calls:
        pytest.skip("no function of the BodyCredentials gateway made an AWS call in this run")
    missing = ungranted((call for call in calls if of_the_stack(call, BODY_TEMPLATE)), BODY_GRANTS)
    assert not missing, "calls that template.yaml does not grant with BodyCredentials on:" + report(missing)


@pytest.mark.session_end
def test_every_grant_body_credentials_add_is_used_in_this_run(request: pytest.FixtureRequest) -> None:
    drivers = request.config.stash.get(DRIVERS_PASSED, None)
    if drivers is None or not drivers.all_passed():
        pytest.skip("the driver tests of tests/security/test_aws_grants.py did not all run and pass")
    added = [grant for grant in BODY_GRANTS if grant not in GRANTS]
    idle = unused(body_credentials_calls(), added)
    assert not idle, "grants BodyCredentials adds that no function used (least privilege: remove them):" + report(idle)
