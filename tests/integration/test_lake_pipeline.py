"""The lake pipeline against DynamoDB Local's Streams API: stored events → the event source mapping's emulation →
the lake function's own handler → the local Firehose → Parquet → DuckDB, exactly once as queried under injected
faults (Firehose refusing records after taking some, a crash before the checkpoint, Lambda's redelivery of
overlapping batches)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from beacon.domain.entities import Event
from beacon.domain.lake import event_row
from beacon.domain.lake_sql import LakeScope
from beacon.store.events import DynamoDBEventStore, event_to_item
from beacon.store.firehose import encode_row
from beacon.store.streams import deserialize_image
from local.firehose import LocalFirehose
from local.firehose import _row as firehose_row
from local.lake import Checkpoints, ParquetLakeSink, StreamPoller, lake_handler, lake_query, load_lake_function

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 30, 23, 59, 0, tzinfo=UTC)


def make_event(project_id: str, number: int, name: str = "screen_view", **fields: Any) -> Event:
    created = DAY + timedelta(seconds=number * 20)  # crosses midnight: two partitions
    return Event(
        id=f"{int(created.timestamp() * 1000):012x}{uuid.uuid4().hex[:16]}",
        project_id=project_id,
        client_id="client-1",
        name=name,
        properties={"n": number, "__query": {"utm_source": "newsletter"}},
        profile_id=None,
        groups=None,
        device_id=f"device-{number % 3}",
        session_id=f"session-{number % 3}",
        created_at=created,
        received_at=created,
        path=f"/page/{number % 2}",
        geo={"country": "DE", "city": "Berlin"},
        device={"os": "Android", "browser": "Chrome"},
        **fields,
    )


@pytest.fixture
def events_store(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBEventStore:
    return DynamoDBEventStore(template_env["EVENTS_TABLE"], retention_days=30, client=dynamodb)


@pytest.fixture(scope="module")
def streams(local_stack: Any) -> Any:
    return local_stack.boto3_client("dynamodbstreams")


@pytest.fixture
def checkpoints(tmp_path: Path, dynamodb: Any, streams: Any, template_env: dict[str, str]) -> Checkpoints:
    """A checkpoint at the end of the stream as it is now: each test delivers only what it stores."""
    caught_up = Checkpoints(tmp_path / "checkpoints.json")
    skip = StreamPoller(dynamodb, streams, template_env["EVENTS_TABLE"], lambda event: {}, caught_up)
    while skip.poll_once():
        pass
    return caught_up


@pytest.fixture
def poller(dynamodb, streams, template_env, local_lake, checkpoints) -> Iterator[StreamPoller]:
    handler = lake_handler(local_lake.environment)
    yield StreamPoller(dynamodb, streams, template_env["EVENTS_TABLE"], handler, checkpoints)
    local_lake.firehose.inject([])  # no fault outlives its test


def count(lake: Path, project_id: str, sql: str = "SELECT count(*) FROM events") -> Any:
    return duckdb.execute(lake_query(lake, LakeScope(project_id), sql)).fetchall()[0][0]


def raw_copies(lake: Path, project_id: str) -> int:
    """Rows in the project's files, before the readers' deduplication."""
    files = list((lake / "events" / f"project={project_id}").glob("day=*/*.parquet"))
    if not files:
        return 0
    return int(duckdb.execute(f"SELECT count(*) FROM read_parquet({[str(file) for file in files]})").fetchall()[0][0])


class CrashingCheckpoints(Checkpoints):
    """The process dies after the batch was delivered, before the checkpoint is saved."""

    def save(self, shard_id: str, sequence_number: str) -> None:
        raise KeyboardInterrupt("injected: killed before the checkpoint")


def test_the_events_table_that_make_run_creates_has_a_new_image_stream(dynamodb, template_env):
    # Given the tables the local stack created from template.yaml
    table = dynamodb.describe_table(TableName=template_env["EVENTS_TABLE"])["Table"]
    # Then the events table streams new images, which the lake consumer reads
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"]


def test_stored_events_reach_the_lake_with_their_fields(events_store, poller, local_lake, project_id):
    # Given events stored by the events store, over two days
    events = [make_event(project_id, number) for number in range(6)]
    for event in events:
        events_store.put_event(event)
    # When the mapping hands the stream to the lake function, and Firehose flushes
    assert poller.poll_once() == 6
    local_lake.firehose.flush()
    # Then each event is one row, in its day's partition, with its fields mapped to columns
    lake = local_lake.root
    assert raw_copies(lake, project_id) == count(lake, project_id) == 6
    assert count(lake, project_id, "SELECT count(DISTINCT day) FROM events") == 2
    row = duckdb.execute(
        lake_query(
            lake,
            LakeScope(project_id),
            "SELECT path, utm_source, country, city, os, browser, profile_id, identified, properties, created_at "
            f"FROM events WHERE id = '{events[1].id}'",
        )
    ).fetchall()
    assert row == [
        (
            "/page/1",
            "newsletter",
            "DE",
            "Berlin",
            "Android",
            "Chrome",
            "device-1",
            False,
            '{"n":1}',
            datetime(2026, 11, 30, 23, 59, 20),
        )
    ]


def test_a_batch_firehose_took_in_part_is_delivered_again_and_read_once(
    events_store, poller, local_lake, project_id, monkeypatch
):
    # Given events, and Firehose that takes the first three records and then refuses everything, on every retry
    monkeypatch.setattr("beacon.store.firehose.FAILED_RETRY_DELAYS", (0, 0))
    monkeypatch.setattr("beacon.store.firehose.RECORD_BYTES", 10)  # one row a record
    for number in range(6):
        events_store.put_event(make_event(project_id, number))
    local_lake.firehose.inject([True] * 3 + [False] * 9)
    # When the mapping delivers the batch, the function reports it failed, and the mapping delivers it again
    assert poller.poll_once() == 0
    assert poller.poll_once() == 6
    local_lake.firehose.flush()
    # Then three events reached the files twice, and every query reads each event once
    assert raw_copies(local_lake.root, project_id) == 9
    assert count(local_lake.root, project_id) == 6
    assert count(local_lake.root, project_id, "SELECT sum(event_count) FROM sessions") == 6


def test_a_crash_before_the_checkpoint_redelivers_and_is_read_once(
    dynamodb, streams, template_env, events_store, local_lake, checkpoints, project_id
):
    # Given events delivered by a mapping that dies before saving its checkpoint
    for number in range(5):
        events_store.put_event(make_event(project_id, number))
    crashing = StreamPoller(
        dynamodb,
        streams,
        template_env["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        CrashingCheckpoints(checkpoints.path),
    )
    with pytest.raises(KeyboardInterrupt):
        crashing.poll_once()
    # When a new one starts from the saved (older) checkpoint and delivers the same records again, and one more
    events_store.put_event(make_event(project_id, 7))
    again = StreamPoller(
        dynamodb,
        streams,
        template_env["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(checkpoints.path),
    )
    assert again.poll_once() == 6
    local_lake.firehose.flush()
    # Then the files hold the five twice, and the tables each event once
    assert raw_copies(local_lake.root, project_id) == 11
    assert count(local_lake.root, project_id) == 6


def test_lambda_redelivering_overlapping_batches_is_read_once(tmp_path):
    # Given a stream batch that Lambda delivers, then delivers again split differently (a retry after a timeout)
    project_id = f"test-{uuid.uuid4().hex[:12]}"
    module = load_lake_function()
    sink = ParquetLakeSink(tmp_path)
    items = [event_to_item(make_event(project_id, number), 30) for number in range(4)]
    records = [
        {
            "eventName": "INSERT",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/EventsTable/stream/label",
            "dynamodb": {"SequenceNumber": str(100 + number), "NewImage": item},
        }
        for number, item in enumerate(items)
    ]
    assert module.process_stream({"Records": records}, sink) == {"batchItemFailures": []}
    assert module.process_stream({"Records": records[1:]}, sink) == {"batchItemFailures": []}
    # Then the files hold three events twice, and every query reads each event once
    assert raw_copies(tmp_path, project_id) == 7
    assert count(tmp_path, project_id) == 4
    assert count(tmp_path, project_id, "SELECT sum(event_count) FROM sessions") == 4


def test_an_interrupted_flush_is_done_again_into_the_same_files(tmp_path):
    # Given a local Firehose holding rows, whose flush wrote the files but died before removing its spool
    project_id = f"test-{uuid.uuid4().hex[:12]}"
    firehose = LocalFirehose(tmp_path, flush_seconds=60)
    rows = [event_row(deserialize_image(event_to_item(make_event(project_id, n), 30))) for n in range(3)]
    firehose.put([encode_row(row) for row in rows])
    [spool] = (tmp_path / "_firehose").glob("*.jsonl")
    kept = spool.read_bytes()
    firehose.flush()
    spool.write_bytes(kept)
    # When the flush runs again
    firehose.flush()
    # Then the same files were written again: no row twice, even before the readers' deduplication
    assert raw_copies(tmp_path, project_id) == 3
    assert firehose_row(encode_row(rows[0]))["created_at"] == rows[0]["created_at"]


def test_two_projects_never_see_each_others_rows(events_store, poller, local_lake):
    # Given events of two projects in one lake
    first, second = (f"test-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for number in range(3):
        events_store.put_event(make_event(first, number))
    events_store.put_event(make_event(second, 9))
    poller.poll_once()
    local_lake.firehose.flush()
    # Then each project's tables hold its own rows only
    assert count(local_lake.root, first) == 3
    assert count(local_lake.root, second) == 1
    assert count(local_lake.root, f"test-{uuid.uuid4().hex[:12]}") == 0
