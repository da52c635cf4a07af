"""Session replay's store against DynamoDB Local and moto's S3 (the local stack's): what is written where, in order."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.replays import ReplayChunk
from beacon.store.factory import replay_store
from beacon.store.replays import S3ReplayStore, object_key, replay_pk
from local.stack import LocalStack

pytestmark = pytest.mark.integration
START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def s3(local_stack: LocalStack) -> Any:
    return local_stack.boto3_client("s3")


@pytest.fixture
def store(dynamodb: Any, s3: Any, template_env: dict[str, str]) -> S3ReplayStore:
    return replay_store(TrackSettings.from_env(template_env), dynamodb, s3)


def chunk(project_id: str, index: int, seconds: int, payload: str = "[]", session: str = "s1") -> ReplayChunk:
    started = START + timedelta(seconds=seconds)
    return ReplayChunk(
        project_id, session, index, 3, index == 0, started, started + timedelta(seconds=1), payload, datetime.now(UTC)
    )


def test_a_chunk_is_an_s3_object_under_its_project_and_session_and_one_index_item(
    store, project_id, dynamodb, s3, template_env
):
    # Given one chunk with a payload outside ASCII
    store.put_chunk(chunk(project_id, 4, 5, payload='[{"t":"é✓"}]'))
    # Then its payload is an object keyed by project, session and position, as UTF-8
    key = f"replays/{project_id}/s1/2026-12-02T10:00:05.000Z_00004.json"
    assert object_key(project_id, "s1", "2026-12-02T10:00:05.000Z_00004") == key
    body = s3.get_object(Bucket=template_env["REPLAY_BUCKET"], Key=key)["Body"].read()
    assert body.decode() == '[{"t":"é✓"}]'
    # And it has one index item under the session, with its metadata and an expiry ReplayRetentionDays ahead
    items = dynamodb.query(
        TableName=template_env["REPLAYS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": replay_pk(project_id, "s1")}},
    )["Items"]
    assert len(items) == 1
    item = items[0]
    assert item["chunkIndex"] == {"N": "4"} and item["eventsCount"] == {"N": "3"}
    # its size as the read's JSON answer carries it (escaped), which a page's budget counts
    assert item["bytes"] == {"N": str(len(json.dumps(body.decode(), ensure_ascii=False).encode()))}
    days = int(template_env["REPLAY_RETENTION_DAYS"])
    assert abs(int(item["expiresAt"]["N"]) - (time.time() + days * 86400)) < 60


def test_chunks_written_out_of_order_are_read_in_order(store, project_id):
    for index, seconds in [(2, 20), (0, 0), (1, 10), (0, 60)]:
        store.put_chunk(chunk(project_id, index, seconds, payload=f"[{seconds}]"))
    page = store.session_chunks(project_id, "s1", None, 50, 4_000_000)
    assert [(c.chunk_index, c.payload) for c in page.chunks] == [(0, "[0]"), (1, "[10]"), (2, "[20]"), (0, "[60]")]
    assert page.next_after is None
    assert page.chunks[0].is_full_snapshot and page.chunks[0].started_at == START


def test_the_same_chunk_twice_is_stored_once(store, project_id):
    store.put_chunk(chunk(project_id, 0, 0, payload="[1]"))
    store.put_chunk(chunk(project_id, 0, 0, payload="[1]"))
    assert len(store.session_chunks(project_id, "s1", None, 50, 4_000_000).chunks) == 1


def test_pages_follow_next_after_within_the_budgets(store, project_id):
    for index in range(7):
        store.put_chunk(chunk(project_id, index, index, payload="x" * 1000))
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = store.session_chunks(project_id, "s1", after, 3, 2500)  # 2 chunks per page by bytes
        seen += [c.chunk_index for c in page.chunks]
        pages += 1
        after = page.next_after
        if after is None:
            break
    assert seen == list(range(7)) and pages == 4


def test_sessions_and_projects_do_not_mix(store, project_id):
    store.put_chunk(chunk(project_id, 0, 0, session="s1"))
    store.put_chunk(chunk(f"{project_id}-other", 0, 0, session="s1"))
    store.put_chunk(chunk(project_id, 0, 0, session="s2"))
    assert len(store.session_chunks(project_id, "s1", None, 50, 4_000_000).chunks) == 1
    assert store.session_chunks(project_id, "s3", None, 50, 4_000_000).chunks == []


def test_an_expired_index_item_is_skipped_before_ttl_deletes_it(store, project_id, dynamodb, template_env):
    store.put_chunk(chunk(project_id, 0, 0))
    store.put_chunk(chunk(project_id, 1, 1))
    dynamodb.update_item(
        TableName=template_env["REPLAYS_TABLE"],
        Key={"pk": {"S": replay_pk(project_id, "s1")}, "sk": {"S": "2026-12-02T10:00:00.000Z_00000"}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert [c.chunk_index for c in store.session_chunks(project_id, "s1", None, 50, 4_000_000).chunks] == [1]


def test_an_index_item_whose_object_is_gone_is_skipped(store, project_id, s3, template_env):
    store.put_chunk(chunk(project_id, 0, 0))
    store.put_chunk(chunk(project_id, 1, 1))
    s3.delete_object(
        Bucket=template_env["REPLAY_BUCKET"], Key=object_key(project_id, "s1", chunk(project_id, 0, 0).position)
    )
    assert [c.chunk_index for c in store.session_chunks(project_id, "s1", None, 50, 4_000_000).chunks] == [1]


def test_an_index_item_is_one_write_unit_and_holds_no_payload(store, project_id, dynamodb, template_env):
    # Given a chunk with a 1 MiB payload (the SDK's default cut)
    store.put_chunk(chunk(project_id, 0, 0, payload="x" * 1024 * 1024))
    [item] = dynamodb.query(
        TableName=template_env["REPLAYS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": replay_pk(project_id, "s1")}},
        ReturnConsumedCapacity="TOTAL",
    )["Items"]
    # Then its index item is well under 1 KB (one write unit per chunk), the payload being in S3 only
    from beacon.store.dynamodb import attribute_size

    size = sum(len(name) + attribute_size(value) for name, value in item.items())
    assert size < 1024 and "payload" not in item
