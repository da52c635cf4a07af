"""The lake pipeline against DynamoDB Local's Streams API: stored events → the lake function's code → the local
lake's Parquet files → DuckDB, exactly once under injected faults (a failed delivery, a crash before the
checkpoint, Lambda's redelivery of overlapping batches)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from beacon.domain.entities import Event
from beacon.domain.lake_sql import LakeScope
from beacon.errors import DependencyUnavailableError
from beacon.store.events import DynamoDBEventStore, event_to_item
from local.lake import Checkpoints, ParquetLakeSink, StreamPoller, lake_query, load_lake_function

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
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def handler_with(sink: Any) -> Any:
    module = load_lake_function()
    return lambda event, context: module.process_stream(event, sink)


def poller(dynamodb: Any, streams: Any, template_env: dict[str, str], lake: Path, sink: Any, **kw: Any) -> StreamPoller:
    checkpoints = kw.pop("checkpoints", None) or Checkpoints(lake / "_checkpoints" / "events.json")
    return StreamPoller(dynamodb, streams, template_env["EVENTS_TABLE"], handler_with(sink), checkpoints, **kw)


def count(lake: Path, project_id: str, sql: str = "SELECT count(*) FROM events") -> Any:
    return duckdb.execute(lake_query(lake, LakeScope(project_id), sql)).fetchall()[0][0]


def raw_copies(lake: Path, project_id: str) -> int:
    """Rows in the project's files, before the readers' deduplication."""
    files = list((lake / "events" / f"project={project_id}").glob("day=*/*.parquet"))
    if not files:
        return 0
    return int(duckdb.execute(f"SELECT count(*) FROM read_parquet({[str(file) for file in files]})").fetchall()[0][0])


class FailingOnce:
    """Writes the first partition of the first batch, then fails: a delivery interrupted halfway."""

    def __init__(self, sink: ParquetLakeSink) -> None:
        self._sink = sink
        self.failures = 0

    def write(self, rows: list[dict[str, Any]], batch_key: str) -> None:
        if self.failures == 0:
            self.failures += 1
            first_day = min(row["day"] for row in rows)
            self._sink.write([row for row in rows if row["day"] == first_day], batch_key)
            raise DependencyUnavailableError("injected: the sink failed halfway through the batch")
        self._sink.write(rows, batch_key)


class CrashingCheckpoints(Checkpoints):
    """The process dies after the files are written, before the checkpoint is saved."""

    def save(self, shard_id: str, sequence_number: str) -> None:
        raise KeyboardInterrupt("injected: killed before the checkpoint")


def test_the_events_table_that_make_run_creates_has_a_new_image_stream(dynamodb, template_env):
    # Given the tables the local stack created from template.yaml
    table = dynamodb.describe_table(TableName=template_env["EVENTS_TABLE"])["Table"]
    # Then the events table streams new images, which the lake consumer reads
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"]


def test_stored_events_reach_the_lake_with_their_fields(
    dynamodb, streams, template_env, events_store, lake, project_id
):
    # Given events stored by the events store, over two days
    events = [make_event(project_id, number) for number in range(6)]
    for event in events:
        events_store.put_event(event)
    # When the poller delivers the stream to the lake
    poller(dynamodb, streams, template_env, lake, ParquetLakeSink(lake)).poll_once(force=True)
    # Then each event is one row, in its day's partition, with its fields mapped to columns
    assert count(lake, project_id) == 6
    assert count(lake, project_id, "SELECT count(DISTINCT day) FROM events") == 2
    row = duckdb.execute(
        lake_query(
            lake,
            LakeScope(project_id),
            f"SELECT path, utm_source, country, city, os, browser, profile_id, identified, properties "
            f"FROM events WHERE id = '{events[1].id}'",
        )
    ).fetchall()
    assert row == [("/page/1", "newsletter", "DE", "Berlin", "Android", "Chrome", "device-1", False, '{"n":1}')]


def test_a_delivery_that_fails_halfway_is_retried_into_the_same_files(
    dynamodb, streams, template_env, events_store, lake, project_id
):
    # Given events over two days, and a sink that writes one partition of the first batch and then fails
    for number in range(6):
        events_store.put_event(make_event(project_id, number))
    sink = FailingOnce(ParquetLakeSink(lake))
    stream_poller = poller(dynamodb, streams, template_env, lake, sink)
    # When the poller delivers, fails, and delivers again
    assert stream_poller.poll_once(force=True) == 0
    assert sink.failures == 1
    stream_poller.poll_once(force=True)
    # Then every event is in the lake once: the retry replaced the half-written batch's file, nothing was added twice
    assert raw_copies(lake, project_id) == 6
    assert count(lake, project_id) == 6


def test_a_crash_before_the_checkpoint_replays_into_the_same_files(
    dynamodb, streams, template_env, events_store, lake, project_id
):
    # Given events delivered by a poller that dies before saving its checkpoint
    for number in range(5):
        events_store.put_event(make_event(project_id, number))
    path = lake / "_checkpoints" / "events.json"
    crashing = poller(
        dynamodb, streams, template_env, lake, ParquetLakeSink(lake), checkpoints=CrashingCheckpoints(path)
    )
    with pytest.raises(KeyboardInterrupt):
        crashing.poll_once(force=True)
    assert raw_copies(lake, project_id) == 5
    # When a new poller starts from the saved (older) checkpoint and delivers the same records again
    later = make_event(project_id, 7)
    events_store.put_event(later)
    poller(dynamodb, streams, template_env, lake, ParquetLakeSink(lake)).poll_once(force=True)
    # Then the replay rewrote the same files: every event once, the later one included
    assert raw_copies(lake, project_id) == 6
    assert count(lake, project_id) == 6


def test_lambda_redelivering_overlapping_batches_is_read_once(dynamodb, streams, template_env, events_store, lake):
    # Given a stream batch that Lambda delivers, then delivers again split differently (a retry after a timeout)
    project_id = f"test-{uuid.uuid4().hex[:12]}"
    module = load_lake_function()
    sink = ParquetLakeSink(lake)
    records = [
        {
            "eventName": "INSERT",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/EventsTable/stream/label",
            "dynamodb": {"SequenceNumber": str(100 + number), "NewImage": item},
        }
        for number, item in enumerate(event_to_item(make_event(project_id, n), 30) for n in range(4))
    ]
    assert module.process_stream({"Records": records}, sink) == {"batchItemFailures": []}
    assert module.process_stream({"Records": records[1:]}, sink) == {"batchItemFailures": []}
    # Then the files hold 3 events twice, and every query reads each event once
    assert raw_copies(lake, project_id) == 7
    assert count(lake, project_id) == 4
    assert count(lake, project_id, "SELECT sum(event_count) FROM sessions") == 4


def test_two_projects_never_see_each_others_rows(dynamodb, streams, template_env, events_store, lake):
    # Given events of two projects in one lake
    first, second = (f"test-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for number in range(3):
        events_store.put_event(make_event(first, number))
    events_store.put_event(make_event(second, 9))
    poller(dynamodb, streams, template_env, lake, ParquetLakeSink(lake)).poll_once(force=True)
    # Then each project's tables hold its own rows only
    assert count(lake, first) == 3
    assert count(lake, second) == 1
    assert count(lake, f"test-{uuid.uuid4().hex[:12]}") == 0


def test_events_wait_for_the_flush_interval_and_then_arrive(dynamodb, streams, template_env, events_store, lake):
    # Given a poller with a 10 s flush interval and a clock under the test's control
    project_id = f"test-{uuid.uuid4().hex[:12]}"
    now = [1000.0]
    stream_poller = poller(dynamodb, streams, template_env, lake, ParquetLakeSink(lake), clock=lambda: now[0])
    stream_poller.poll_once(force=True)  # what earlier tests stored
    events_store.put_event(make_event(project_id, 1))
    # When it polls before the interval has passed, and again after it
    stream_poller.poll_once()
    before = count(lake, project_id)
    now[0] += 10
    stream_poller.poll_once()
    # Then the event is held in the buffer first, and in the lake once the interval is over
    assert (before, count(lake, project_id)) == (0, 1)
