"""The lake function: a stream batch to Firehose, and Lambda's partial-batch response when delivery fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.store.firehose import MAX_RECORDS, RECORD_BYTES, FirehoseLakeSink, record_groups
from tests.unit.support.handlers import load_function

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/EventsTable/stream/2026-12-01T00:00:00.000"


def image(event_id: str) -> dict[str, Any]:
    return {
        "id": {"S": event_id},
        "projectId": {"S": "shop"},
        "name": {"S": "screen_view"},
        "deviceId": {"S": "d1"},
        "sessionId": {"S": "s1"},
        "createdAt": {"S": "2026-12-01T10:00:00.000Z"},
        "receivedAt": {"S": "2026-12-01T10:00:00.000Z"},
        "properties": {"M": {"n": {"N": "1"}}},
    }


def stream_event(*ids: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventName": "INSERT",
                "eventSourceARN": STREAM,
                "dynamodb": {"SequenceNumber": str(100 + number), "NewImage": image(event_id)},
            }
            for number, event_id in enumerate(ids)
        ]
    }


class FakeFirehose:
    def __init__(self, refuse_first: int = 0) -> None:
        self.calls: list[list[bytes]] = []
        self._refuse = refuse_first

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.calls.append([record["Data"] for record in Records])
        refused, self._refuse = min(self._refuse, len(Records)), max(0, self._refuse - len(Records))
        answers = [{"ErrorCode": "ServiceUnavailableException"}] * refused + [{"RecordId": "r"}] * (
            len(Records) - refused
        )
        return {"FailedPutCount": refused, "RequestResponses": answers}


@pytest.fixture
def lake_app() -> Any:
    return load_function("lake", {"LAKE_DELIVERY_STREAM": "beacon-lake"})


def test_a_batch_becomes_json_lines_with_partition_keys_and_epoch_millisecond_times(lake_app):
    # Given a batch of two inserts
    firehose = FakeFirehose()
    # When the function processes it
    answer = lake_app.process_stream(stream_event("e1", "e2"), FirehoseLakeSink("beacon-lake", firehose))  # type: ignore[arg-type]
    # Then nothing failed, and Firehose got one line per event with what its partitioning and Parquet need
    assert answer == {"batchItemFailures": []}
    [[record]] = firehose.calls  # one record: rows are packed as JSON lines
    lines = record.splitlines(keepends=True)
    rows = [json.loads(line) for line in lines]
    assert [row["id"] for row in rows] == ["e1", "e2"]
    assert "path" not in rows[0]  # a null column is left out: the conversion reads it as null
    assert (rows[0]["project"], rows[0]["day"], rows[0]["created_at"]) == (
        "shop",
        "2026-12-01",
        int(datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp() * 1000),
    )
    assert all(line.endswith(b"\n") for line in lines)


def test_records_firehose_refuses_are_sent_again(lake_app, monkeypatch):
    monkeypatch.setattr("beacon.store.firehose.FAILED_RETRY_DELAYS", (0, 0))
    monkeypatch.setattr("beacon.store.firehose.RECORD_BYTES", 10)  # one row a record
    firehose = FakeFirehose(refuse_first=1)
    answer = lake_app.process_stream(stream_event("e1", "e2"), FirehoseLakeSink("s", firehose))  # type: ignore[arg-type]
    assert answer == {"batchItemFailures": []}
    assert [len(call) for call in firehose.calls] == [2, 1]
    assert b'"id":"e1"' in firehose.calls[1][0]  # the refused one, again


def test_an_undeliverable_batch_is_reported_failed_from_its_first_record(lake_app, monkeypatch):
    # Given Firehose refusing every record, every time
    monkeypatch.setattr("beacon.store.firehose.FAILED_RETRY_DELAYS", (0,))
    firehose = FakeFirehose(refuse_first=10**6)
    # When the function processes a batch
    answer = lake_app.process_stream(stream_event("e1", "e2"), FirehoseLakeSink("s", firehose))  # type: ignore[arg-type]
    # Then Lambda is told to deliver the whole batch again (never to skip it)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "100"}]}


def test_rows_are_packed_into_records_and_calls_within_firehose_limits():
    rows = [{"id": str(number), "pad": "x" * 10_000} for number in range(1_200)]
    groups = record_groups(rows)
    assert all(len(group) <= MAX_RECORDS for group in groups)
    assert all(sum(map(len, group)) <= 4 * 1024 * 1024 for group in groups)
    assert all(len(record) <= RECORD_BYTES for group in groups for record in group)
    lines = [line for group in groups for record in group for line in record.splitlines()]
    assert [json.loads(line)["id"] for line in lines] == [str(number) for number in range(1_200)]
    assert len(groups[0]) < 1_200  # many rows a record


def test_an_event_without_properties_reaches_the_lake_in_either_form_of_an_empty_map(lake_app):
    # Lambda's event carries {"M": {}}; GetRecords through botocore (the local mapping) hands on {}
    firehose = FakeFirehose()
    event = stream_event("e1", "e2")
    event["Records"][0]["dynamodb"]["NewImage"]["properties"] = {"M": {}}
    event["Records"][1]["dynamodb"]["NewImage"]["properties"] = {}
    lake_app.process_stream(event, FirehoseLakeSink("s", firehose))  # type: ignore[arg-type]
    [[record]] = firehose.calls
    assert [json.loads(line)["properties"] for line in record.splitlines()] == ["{}", "{}"]
