"""Erasure of a person's data against DynamoDB Local and the local lake: every store, store by store, and nothing
of another profile or project (docs/PRIVACY.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from admin.lake_erasure import DirectoryLakeFiles, ParquetLakeEraser
from beacon.domain.entities import Event, ProfileUpdate
from beacon.domain.erasure import (
    DONE,
    RUNNING,
    ErasureRequest,
    ErasureScope,
    StoreEraser,
    count_erasure,
    run_erasure,
    start_erasure,
)
from beacon.domain.lake import event_row
from beacon.domain.rejections import RejectedEvent
from beacon.domain.replays import ReplayChunk, chunk_position
from beacon.store.dynamodb import deserialize_item
from beacon.store.erasure import (
    PROJECT_ERASURE,
    DynamoDBErasureLog,
    DynamoDBScopeResolver,
    ErasureTables,
    ProjectSettingsSuppressor,
    dynamodb_erasers,
    project_erasers,
)
from beacon.store.events import DynamoDBEventStore, event_to_item
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.rejected import DynamoDBRejectedEventStore
from beacon.store.replays import S3ReplayStore, replay_pk
from beacon.store.sessions import record_key, session_key
from local.lake import ParquetLakeSink, events_source

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@dataclass
class World:
    """Two projects holding the same ids: `alice` (alias `alice-old`, devices d1 and d2) and `bob` (device d3, and an
    event of his own on alice's device d1)."""

    project: str
    other: str
    dynamodb: Any
    env: dict[str, str]
    lake: Path

    @property
    def tables(self) -> ErasureTables:
        return ErasureTables(
            events=self.env["EVENTS_TABLE"],
            entities=self.env["ENTITIES_TABLE"],
            sessions=self.env["SESSIONS_TABLE"],
            rejected_events=self.env["REJECTED_EVENTS_TABLE"],
        )

    def erasers(self) -> list[StoreEraser]:
        return [*dynamodb_erasers(self.tables, self.dynamodb), ParquetLakeEraser(DirectoryLakeFiles(self.lake))]

    def log(self) -> DynamoDBErasureLog:
        return DynamoDBErasureLog(self.env["ENTITIES_TABLE"], self.dynamodb)

    def resolver(self) -> DynamoDBScopeResolver:
        return DynamoDBScopeResolver(self.env["ENTITIES_TABLE"], self.env["EVENTS_TABLE"], self.dynamodb)

    def profile_events(self, project: str, profile_id: str) -> list[dict[str, Any]]:
        response = self.dynamodb.query(
            TableName=self.env["EVENTS_TABLE"],
            IndexName="byProfile",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{project}#{profile_id}"}},
        )
        items: list[dict[str, Any]] = response["Items"]
        return items

    def project_events(self, project: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for shard in range(8):
            items += self.dynamodb.query(
                TableName=self.env["EVENTS_TABLE"],
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"{project}#{shard}"}},
            )["Items"]
        return [deserialize_item(item) for item in items]

    def entity(self, project: str, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.env["ENTITIES_TABLE"], Key={"pk": {"S": f"{project}#{key}"}}, ConsistentRead=True
        ).get("Item")
        return item

    def session(self, project: str, device: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.env["SESSIONS_TABLE"], Key=session_key(project, device), ConsistentRead=True
        ).get("Item")
        return item

    def session_record(self, project: str, session_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.env["SESSIONS_TABLE"], Key=record_key(project, session_id), ConsistentRead=True
        ).get("Item")
        return item

    def rejected_payloads(self, project: str) -> list[str]:
        return [entry["payload"] for entry in DynamoDBRejectedEventStore(self.tables.rejected_events, self.dynamodb)
                .list_rejected(project, 1000)]  # fmt: skip

    def lake_rows(self, project: str) -> list[tuple[Any, ...]]:
        source = events_source(self.lake, project)
        with duckdb.connect() as connection:
            return connection.execute(f"SELECT profile_id, device_id, identified FROM {source} ORDER BY ALL").fetchall()


def make_event(project: str, number: int, device: str, profile: str | None, day: int = 0) -> Event:
    created = DAY + timedelta(days=day, minutes=number)
    return Event(
        id=f"{int(created.timestamp() * 1000):012x}{uuid.uuid4().hex[:16]}",
        project_id=project,
        client_id="client-1",
        name="screen_view",
        properties={"n": number},
        profile_id=profile,
        groups=None,
        device_id=device,
        session_id=f"session-{device}",
        created_at=created,
        received_at=created,
        path="/pricing",
    )


def populate(world: World, project: str) -> None:
    env, dynamodb = world.env, world.dynamodb
    profiles = DynamoDBProfileStore(env["ENTITIES_TABLE"], dynamodb)
    profiles.identify(project, ProfileUpdate("alice", email="alice@example.com"), NOW)
    profiles.add_alias(project, "alice", "alice-old", NOW)
    profiles.identify(project, ProfileUpdate("bob", email="bob@example.com"), NOW)
    events = [
        make_event(project, 1, "d1", "alice", day=0),
        make_event(project, 2, "d2", "alice", day=1),
        make_event(project, 3, "d2", "alice", day=2),
        make_event(project, 4, "d1", "alice-old", day=0),  # stored before the alias existed
        make_event(project, 5, "d1", None, day=0),  # anonymous, on alice's device: the link rule
        make_event(project, 6, "d2", None, day=2),
        make_event(project, 7, "d3", None, day=0),  # anonymous, on bob's device
        make_event(project, 8, "d3", "bob", day=1),
        make_event(project, 9, "d1", "bob", day=2),  # bob, on alice's device: his, kept
    ]
    store = DynamoDBEventStore(env["EVENTS_TABLE"], 35, dynamodb)
    for event in events:
        store.put_event(event)
    ParquetLakeSink(world.lake).write(
        [event_row(deserialize_item(event_to_item(event, 35))) for event in events], f"batch-{project}"
    )
    for device in ("d1", "d2", "d3"):
        dynamodb.put_item(
            TableName=env["SESSIONS_TABLE"],
            Item={**session_key(project, device), "sessionId": {"S": f"session-{device}"}},
        )
        dynamodb.put_item(  # the ended session's record (store/sessions.py), one per session id
            TableName=env["SESSIONS_TABLE"],
            Item={
                **record_key(project, f"session-{device}"),
                "sessionId": {"S": f"session-{device}"},
                "deviceId": {"S": device},
                "startedAt": {"S": "2026-11-28T10:00:00.000Z"},
            },
        )
    DynamoDBRejectedEventStore(env["REJECTED_EVENTS_TABLE"], dynamodb).put_rejected(
        [
            RejectedEvent(project, "client-1", "bad", 400, NOW, json.dumps({"profileId": "alice", "x": "a@b.c"})),
            RejectedEvent(project, "client-1", "bad", 400, NOW, '{"type": "identify", "payload": {"profileId": "ali'),
            RejectedEvent(project, "client-1", "bad", 400, NOW, '{"payload": {"profileId": "alice-old", "cut'),
            RejectedEvent(project, "client-1", "bad", 400, NOW, json.dumps({"profileId": "bob"})),
        ]
    )


@pytest.fixture
def world(dynamodb: Any, template_env: dict[str, str], tmp_path: Path) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:10]
    built = World(f"erase-{suffix}", f"keep-{suffix}", dynamodb, template_env, tmp_path / "lake")
    populate(built, built.project)
    populate(built, built.other)
    yield built


EXPECTED = {"events": 6, "sessions": 2, "sessionRecords": 2, "rejected": 2, "profiles": 2, "lake": 6}


def erase(world: World, **options: Any) -> Any:
    receipt = start_erasure(ErasureRequest(world.project, "alice", **options), world.resolver(), world.log(), NOW)
    return run_erasure(receipt, world.erasers(), world.log(), lambda: NOW + timedelta(minutes=1))


def test_an_erased_profile_is_gone_from_every_store_and_nothing_else_is(world):
    # When alice is erased with the link rule (the default)
    receipt = erase(world)
    # Then the receipt counts what each store removed, and names no one
    assert receipt.status == DONE and receipt.counts == EXPECTED and receipt.scope is None
    p = world.project
    # entities: the profile and the alias are gone, bob's profile is kept
    assert world.entity(p, "profile#alice") is None and world.entity(p, "alias#alice-old") is None
    assert world.entity(p, "profile#bob") is not None
    # events: none under either id, none anonymous on d1/d2; bob's two and d3's anonymous one are kept
    assert world.profile_events(p, "alice") == [] and world.profile_events(p, "alice-old") == []
    left = sorted((item["deviceId"], item.get("profileId", "")) for item in world.project_events(p))
    assert left == [("d1", "bob"), ("d3", ""), ("d3", "bob")]
    # sessions of alice's devices are gone
    assert world.session(p, "d1") is None and world.session(p, "d2") is None and world.session(p, "d3") is not None
    # and the records of the sessions her events were in; bob's own session d3 is kept
    assert world.session_record(p, "session-d1") is None and world.session_record(p, "session-d2") is None
    assert world.session_record(p, "session-d3") is not None
    assert world.session_record(world.other, "session-d1") is not None
    # rejected events naming alice (parsed, or cut short) are gone
    assert sorted(world.rejected_payloads(p)) == sorted(
        ['{"type": "identify", "payload": {"profileId": "ali', json.dumps({"profileId": "bob"})]
    )
    # the lake: the same rows as the table
    assert world.lake_rows(p) == [("bob", "d1", True), ("bob", "d3", True), ("d3", "d3", False)]
    # and the other project, with the same ids, is untouched
    assert world.entity(world.other, "profile#alice") is not None
    assert len(world.project_events(world.other)) == 9 and len(world.lake_rows(world.other)) == 9
    assert world.session(world.other, "d1") is not None and len(world.rejected_payloads(world.other)) == 4


def test_a_cut_payload_naming_only_a_prefix_of_an_id_is_kept(world):
    # A payload cut inside `"ali` cannot be told to be alice's: it is kept (and expires in 14 days).
    erase(world)
    assert '{"type": "identify", "payload": {"profileId": "ali' in world.rejected_payloads(world.project)


def test_without_the_link_rule_anonymous_events_stay(world):
    receipt = erase(world, linked_devices=False)
    assert receipt.counts == {**EXPECTED, "events": 4, "lake": 4}
    anonymous = sorted(item["deviceId"] for item in world.project_events(world.project) if "profileId" not in item)
    assert anonymous == ["d1", "d2", "d3"]


def test_the_dry_run_counts_what_erasure_removes_and_removes_nothing(world):
    scope = world.resolver().resolve(ErasureRequest(world.project, "alice"))
    assert scope.profile_ids == {"alice", "alice-old"} and scope.device_ids == {"d1", "d2"}
    assert scope.session_ids == {"session-d1", "session-d2"}
    assert count_erasure(scope, world.erasers()) == EXPECTED
    assert len(world.project_events(world.project)) == 9
    assert world.log().load(world.project, "nothing") is None


def test_erasing_through_an_alias_erases_the_profile(world):
    receipt = start_erasure(ErasureRequest(world.project, "alice-old"), world.resolver(), world.log(), NOW)
    assert receipt.scope is not None and receipt.scope.profile_ids == {"alice", "alice-old"}


def test_a_second_erasure_is_a_no_op_with_the_same_receipt(world):
    first = erase(world)
    second = erase(world)
    assert second == first
    assert world.log().load(world.project, first.id) == first


class KilledAfter:
    """Fault injection: the wrapped eraser dies after removing its first batch."""

    def __init__(self, inner: StoreEraser) -> None:
        self.inner = inner
        self.name = inner.name

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        for removed in self.inner.erase(scope):
            yield removed
            raise RuntimeError("killed")

    def count(self, scope: ErasureScope) -> int:
        return self.inner.count(scope)


def test_an_erasure_killed_halfway_completes_when_resumed(world):
    # Given an erasure killed after the events' first batch (the profile's own events), its progress saved
    log = world.log()
    receipt = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW)
    erasers = world.erasers()
    with pytest.raises(RuntimeError):
        run_erasure(receipt, [KilledAfter(erasers[0]), *erasers[1:]], log, lambda: NOW)
    saved = log.load(world.project, receipt.id)
    assert saved is not None and saved.status == RUNNING and 0 < saved.counts["events"] < 6
    assert saved.scope is not None and saved.scope.device_ids == {"d1", "d2"}
    assert saved.scope.session_ids == {"session-d1", "session-d2"}
    # When it is started again (as a new request would), Then it resumes from the checkpoint and completes
    resumed = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW)
    done = run_erasure(resumed, world.erasers(), log, lambda: NOW)
    assert done.status == DONE and done.counts == EXPECTED
    assert world.profile_events(world.project, "alice") == [] and world.entity(world.project, "profile#alice") is None


def test_suppression_keeps_the_ids_blocked(world):
    settings = DynamoDBProjectSettingsStore(world.env["ENTITIES_TABLE"], world.dynamodb, cache_seconds=0)
    receipt = start_erasure(ErasureRequest(world.project, "alice", suppress=True), world.resolver(), world.log(), NOW)
    done = run_erasure(receipt, world.erasers(), world.log(), lambda: NOW, ProjectSettingsSuppressor(settings))
    assert "suppression" in done.done
    assert settings.get_filters(world.project).blocked_profile_ids == {"alice", "alice-old"}
    assert settings.get_filters(world.other).blocked_profile_ids == frozenset()


# -- the operator's commands ----------------------------------------------------------------------------------------


@pytest.fixture
def cli(state_dir: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("BEACON_LAKE_DIR", str(world.lake))
    return world


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    from admin.__main__ import main as beacon

    capsys.readouterr()
    beacon(args)
    return json.loads(capsys.readouterr().out)


def test_the_export_is_one_document_with_everything_stored_about_the_person(cli, capsys, local_stack):
    put_replay_chunks(cli, local_stack.boto3_client("s3"))
    document = run_cli(["profiles", "export", "--project", cli.project, "--profile-id", "alice-old"], capsys)
    assert [profile["profileId"] for profile in document["profiles"]] == ["alice"]
    assert document["profiles"][0]["email"] == "alice@example.com"
    assert [alias["alias"] for alias in document["aliases"]] == ["alice-old"]
    assert sorted(session["sessionId"] for session in document["sessions"]) == ["session-d1", "session-d2"]
    # the records of the sessions her events were in, in the read API's session shape; not bob's session-d3
    records = document["sessionRecords"]
    assert [(record["id"], record["deviceId"], record["projectId"]) for record in records] == [
        ("session-d1", "d1", cli.project),
        ("session-d2", "d2", cli.project),
    ]
    # the replay index of those sessions, each chunk with the key of its payload, the payload itself left out
    replays = document["replays"]
    assert sorted((chunk["sessionId"], chunk["chunkIndex"]) for chunk in replays) == [
        ("session-d1", 0),
        ("session-d1", 1),
        ("session-d2", 0),
        ("session-d2", 1),
    ]
    assert all(chunk["object"].startswith(f"replays/{cli.project}/{chunk['sessionId']}/") for chunk in replays)
    assert all("payload" not in chunk and chunk["bytes"] == 4 for chunk in replays)
    assert len(document["events"]) == 4 and {event["projectId"] for event in document["events"]} == {cli.project}


def test_the_export_holds_the_replay_payloads_when_asked(cli, capsys, local_stack):
    put_replay_chunks(cli, local_stack.boto3_client("s3"))
    args = ["profiles", "export", "--project", cli.project, "--profile-id", "alice", "--replay-payloads"]
    replays = run_cli(args, capsys)["replays"]
    assert len(replays) == 4 and [chunk["payload"] for chunk in replays] == ["[]"] * 4


def test_the_export_of_a_person_without_sessions_has_empty_lists(cli, capsys):
    document = run_cli(["profiles", "export", "--project", cli.project, "--profile-id", "nobody"], capsys)
    assert document["profiles"] == [] and document["sessionRecords"] == [] and document["replays"] == []
    assert document["events"] == []


def test_the_cli_erases_after_a_dry_run_and_asks_unless_told_yes(cli, capsys, monkeypatch):
    args = ["profiles", "erase", "--project", cli.project, "--profile-id", "alice"]
    assert run_cli([*args, "--dry-run"], capsys)["counts"] == {**EXPECTED, "replays": 0}
    # Without --yes it asks for the project id; another answer erases nothing
    monkeypatch.setattr("builtins.input", lambda _question: "no")
    with pytest.raises(SystemExit, match="aborted"):
        run_cli(args, capsys)
    assert cli.entity(cli.project, "profile#alice") is not None
    receipt = run_cli([*args, "--yes"], capsys)
    assert receipt["status"] == "done" and receipt["removed"] == {**EXPECTED, "replays": 0}
    assert "alice" not in json.dumps(receipt)
    shown = run_cli(["profiles", "erasure", "--project", cli.project, "--id", receipt["id"]], capsys)
    assert shown == receipt


def put_replay_chunks(world: World, s3: Any) -> None:
    """Two chunks (S3 object + ReplaysTable item) of each session d1, d2 (alice's) and d3 (bob's), in both projects."""
    replays = S3ReplayStore(world.env["REPLAYS_TABLE"], world.env["REPLAY_BUCKET"], world.dynamodb, s3)
    for project in (world.project, world.other):
        for device in ("d1", "d2", "d3"):
            for index in range(2):
                started = DAY + timedelta(seconds=index)
                replays.put_chunk(
                    ReplayChunk(project, f"session-{device}", index, 3, index == 0, started, started, "[]", NOW)
                )


def replay_chunks(world: World, s3: Any, project: str, session: str | None = None) -> tuple[int, int]:
    """(index items, S3 objects) of a session's replay, or of every session of the project."""
    table, bucket = world.env["REPLAYS_TABLE"], world.env["REPLAY_BUCKET"]
    if session is None:
        items = world.dynamodb.scan(
            TableName=table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": f"{project}#"}},
        )["Items"]
    else:
        items = world.dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": replay_pk(project, session)}},
        )["Items"]
    prefix = f"replays/{project}/" + (f"{session}/" if session else "")
    return len(items), s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0)


def test_a_project_is_erased_whole_and_the_other_is_kept(cli, capsys, local_stack):
    # Given the project's replay chunks too (and the other project's, with the same session ids)
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(cli, s3)
    # When its erasure is dry-run, Then every store's count is shown, session records and replays apart
    args = ["projects", "erase", "--project", cli.project]
    counts = run_cli([*args, "--dry-run"], capsys)["counts"]
    assert counts["events"] == 9 and counts["rejected"] == 4 and counts["lakeFiles"] == 3
    assert counts["sessions"] == 3 and counts["sessionRecords"] == 3
    assert counts["replays"] == 6 and counts["replayIndex"] == 6
    assert replay_chunks(cli, s3, cli.project) == (6, 6)
    # When it is erased, Then nothing of it is left in any store, and the receipt counts what the dry run showed
    receipt = run_cli([*args, "--yes"], capsys)
    assert receipt["status"] == "done" and receipt["removed"] == counts
    assert cli.project_events(cli.project) == [] and cli.lake_rows(cli.project) == []
    assert cli.entity(cli.project, "profile#bob") is None and cli.session(cli.project, "d3") is None
    assert cli.session_record(cli.project, "session-d3") is None
    assert cli.rejected_payloads(cli.project) == []
    assert replay_chunks(cli, s3, cli.project) == (0, 0)
    # And the other project keeps everything, its replay chunks included
    assert len(cli.project_events(cli.other)) == 9 and cli.entity(cli.other, "profile#bob") is not None
    assert cli.session_record(cli.other, "session-d3") is not None
    assert replay_chunks(cli, s3, cli.other) == (6, 6)


def test_a_projects_erasure_removes_replay_payloads_that_no_index_item_names(cli, capsys, local_stack):
    # Given a chunk's object whose index item is gone (the index's TTL ran before the bucket's lifecycle rule)
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(cli, s3)
    cli.dynamodb.delete_item(
        TableName=cli.env["REPLAYS_TABLE"],
        Key={"pk": {"S": replay_pk(cli.project, "session-d1")}, "sk": {"S": chunk_position(DAY, 0)}},
    )
    assert replay_chunks(cli, s3, cli.project, "session-d1") == (1, 2)
    # When the project is erased, Then the orphan payload goes too
    receipt = run_cli(["projects", "erase", "--project", cli.project, "--yes"], capsys)
    assert receipt["removed"]["replays"] == 6 and receipt["removed"]["replayIndex"] == 5
    assert replay_chunks(cli, s3, cli.project) == (0, 0) and replay_chunks(cli, s3, cli.other) == (6, 6)


def test_the_replay_chunks_of_the_persons_sessions_are_erased_objects_and_index(world, local_stack):
    # Given replay chunks (S3 object + ReplaysTable item) of sessions d1, d2 (alice's) and d3 (bob's) in both projects
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(world, s3)
    tables = replace(world.tables, replays=world.env["REPLAYS_TABLE"], replay_bucket=world.env["REPLAY_BUCKET"])
    erasers = [*dynamodb_erasers(tables, world.dynamodb, s3), ParquetLakeEraser(DirectoryLakeFiles(world.lake))]
    # When alice is erased
    receipt = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), world.log(), NOW)
    receipt = run_erasure(receipt, erasers, world.log(), lambda: NOW + timedelta(minutes=1))
    # Then her sessions' four chunks are counted and gone, payloads and index items; bob's and the other project's stay
    assert receipt.status == DONE and receipt.counts == {**EXPECTED, "replays": 4}
    assert replay_chunks(world, s3, world.project, "session-d1") == (0, 0)
    assert replay_chunks(world, s3, world.project, "session-d2") == (0, 0)
    assert replay_chunks(world, s3, world.project, "session-d3") == (2, 2)
    assert replay_chunks(world, s3, world.other, "session-d1") == (2, 2)


def replay_erasers(world: World, s3: Any) -> list[StoreEraser]:
    tables = replace(world.tables, replays=world.env["REPLAYS_TABLE"], replay_bucket=world.env["REPLAY_BUCKET"])
    return [*dynamodb_erasers(tables, world.dynamodb, s3), ParquetLakeEraser(DirectoryLakeFiles(world.lake))]


def test_a_second_erasure_with_replays_is_a_no_op_with_the_same_receipt(world, local_stack):
    # Given alice erased, her session records and replay chunks counted in the receipt
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(world, s3)
    first = run_erasure(
        start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), world.log(), NOW),
        replay_erasers(world, s3),
        world.log(),
        lambda: NOW + timedelta(minutes=1),
    )
    assert first.counts == {**EXPECTED, "replays": 4} and {"sessionRecords", "replays"} <= set(first.done)
    # When the same erasure is asked for again, a minute later
    second = run_erasure(
        start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), world.log(), NOW),
        replay_erasers(world, s3),
        world.log(),
        lambda: NOW + timedelta(minutes=2),
    )
    # Then it answers the same receipt (same counts, same finish time), and removes nothing more
    assert second == first and world.log().load(world.project, first.id) == first
    assert replay_chunks(world, s3, world.project, "session-d3") == (2, 2)
    assert world.session_record(world.project, "session-d3") is not None
    assert replay_chunks(world, s3, world.other, "session-d1") == (2, 2)


def test_an_erasure_killed_inside_the_replay_eraser_completes_when_resumed(world, local_stack):
    # Given an erasure killed after the replay eraser's first batch (session-d1's chunks), session-d2's left
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(world, s3)
    log = world.log()
    receipt = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW)
    erasers = replay_erasers(world, s3)
    at = [eraser.name for eraser in erasers].index("replays")
    with pytest.raises(RuntimeError, match="killed"):
        run_erasure(receipt, [*erasers[:at], KilledAfter(erasers[at]), *erasers[at + 1 :]], log, lambda: NOW)
    saved = log.load(world.project, receipt.id)
    assert saved is not None and saved.status == RUNNING and saved.counts["replays"] == 2
    assert "replays" not in saved.done and "sessionRecords" in saved.done
    assert replay_chunks(world, s3, world.project, "session-d1") == (0, 0)
    assert replay_chunks(world, s3, world.project, "session-d2") == (2, 2)
    assert world.entity(world.project, "profile#alice") is not None  # the profile goes last
    # When it is started again, Then it completes: the counts are a clean run's, every chunk of hers is gone
    resumed = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW)
    done = run_erasure(resumed, replay_erasers(world, s3), log, lambda: NOW)
    assert done.status == DONE and done.counts == {**EXPECTED, "replays": 4}
    assert replay_chunks(world, s3, world.project, "session-d2") == (0, 0)
    assert replay_chunks(world, s3, world.project, "session-d3") == (2, 2)


class KilledAfterDeletingObjects:
    """Fault injection: an S3 client that dies right after its first DeleteObjects succeeded, before the eraser
    removes the index items of the same chunks."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def delete_objects(self, **arguments: Any) -> Any:
        self.inner.delete_objects(**arguments)
        raise RuntimeError("killed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_erasure_killed_between_a_chunks_payload_and_its_index_item_completes_when_resumed(world, local_stack):
    # Given an erasure killed once session-d1's payloads were deleted and their index items not yet
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(world, s3)
    log = world.log()
    receipt = start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW)
    with pytest.raises(RuntimeError, match="killed"):
        run_erasure(receipt, replay_erasers(world, KilledAfterDeletingObjects(s3)), log, lambda: NOW)
    saved = log.load(world.project, receipt.id)
    assert saved is not None and saved.counts.get("replays", 0) == 0 and "replays" not in saved.done
    assert replay_chunks(world, s3, world.project, "session-d1") == (2, 0)  # indexed, payloads gone
    # When it is resumed, Then the index items left are found and removed, and counted once
    done = run_erasure(
        start_erasure(ErasureRequest(world.project, "alice"), world.resolver(), log, NOW),
        replay_erasers(world, s3),
        log,
        lambda: NOW,
    )
    assert done.status == DONE and done.counts == {**EXPECTED, "replays": 4}
    assert replay_chunks(world, s3, world.project, "session-d1") == (0, 0)
    assert replay_chunks(world, s3, world.project, "session-d2") == (0, 0)


def test_a_projects_erasure_killed_between_the_replay_payloads_and_their_index_completes_when_resumed(
    world, local_stack
):
    # Given a project's erasure killed once its replay payloads were deleted, before their index items
    s3 = local_stack.boto3_client("s3")
    put_replay_chunks(world, s3)
    tables = replace(world.tables, replays=world.env["REPLAYS_TABLE"], replay_bucket=world.env["REPLAY_BUCKET"])
    scope = ErasureScope(world.project, frozenset(), frozenset(), linked_devices=False)
    log = world.log()
    receipt = start_erasure(ErasureRequest(world.project, PROJECT_ERASURE), FixedScope(scope), log, NOW)
    erasers = project_erasers(tables, world.env["IDEMPOTENCY_TABLE"], world.dynamodb, s3)
    at = [eraser.name for eraser in erasers].index("replays")
    with pytest.raises(RuntimeError, match="killed"):
        run_erasure(receipt, [*erasers[:at], KilledAfter(erasers[at]), *erasers[at + 1 :]], log, lambda: NOW)
    assert replay_chunks(world, s3, world.project) == (6, 0)
    # When it is resumed, Then the index items go too and each store is counted once
    resumed = start_erasure(ErasureRequest(world.project, PROJECT_ERASURE), FixedScope(scope), log, NOW)
    erasers = project_erasers(tables, world.env["IDEMPOTENCY_TABLE"], world.dynamodb, s3)
    done = run_erasure(resumed, erasers, log, lambda: NOW)
    assert done.status == DONE and done.counts["replays"] == 6 and done.counts["replayIndex"] == 6
    assert done.counts["sessions"] == 3 and done.counts["sessionRecords"] == 3
    assert replay_chunks(world, s3, world.project) == (0, 0) and replay_chunks(world, s3, world.other) == (6, 6)


class FixedScope:
    def __init__(self, scope: ErasureScope) -> None:
        self.scope = scope

    def resolve(self, request: ErasureRequest) -> ErasureScope:
        return self.scope
