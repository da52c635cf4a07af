"""A back-dated batch against DynamoDB Local (issue 17 item 5, DESIGN.md §49): a day of offline events becomes the
sessions that happened, each with its session_start, session_end and record item; no device item is written, and a
retry of the batch writes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.batch import BatchOutcome, ingest_batch
from beacon.domain.entities import Caller, ClientType, RequestContext
from beacon.domain.ports import Stores
from beacon.store.factory import track_stores
from beacon.store.sessions import DynamoDBSessionReader
from tests.constants import CLIENT_ID, META
from tests.unit.support.batches import batch_of
from tests.unit.support.fakes import UNIT_TEST_ENRICHER

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
MORNING = NOW - timedelta(hours=9)


@pytest.fixture
def stores(dynamodb: Any, template_env: dict[str, str]) -> Stores:
    return track_stores(TrackSettings.from_env(template_env), dynamodb)


def offline(name: str, minutes: int, path: str = "") -> dict[str, Any]:
    moment = (MORNING + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    properties: dict[str, Any] = {"__timestamp": moment}
    if path:
        properties["__path"] = f"https://app.example{path}"
    return {"type": "track", "payload": {"name": name, "properties": properties}}


# A day offline: a morning visit of three events, a lunchtime one of two (2 hours later), an evening bounce
DAY = [
    offline("screen_view", 0, "/inbox"),
    offline("compose", 5),
    offline("screen_view", 25, "/sent"),
    offline("screen_view", 150, "/inbox"),
    offline("archive", 170),
    offline("screen_view", 500, "/inbox"),
]


def upload(stores: Stores, project_id: str, items: list[Any]) -> BatchOutcome:
    caller = Caller(project_id, CLIENT_ID, ClientType.WRITE, True)
    return ingest_batch(
        batch_of(items, "batch#offline-day"), RequestContext(caller, META, NOW), stores, UNIT_TEST_ENRICHER
    )


def test_a_day_of_offline_events_is_stored_as_the_sessions_that_happened(
    stores, project_id, stored_events, dynamodb, template_env
):
    # When the app uploads its day in one batch
    outcome = upload(stores, project_id, DAY)
    # Then the six events are answered in three sessions, by their own times
    answers = dict(outcome.results)
    assert outcome.not_stored == [] and sorted(answers) == list(range(6))
    sessions = [answers[i].session_id for i in range(6)]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3] == sessions[4] != sessions[5] != sessions[0]
    # And each stored session is framed by its session_start and session_end at the right times
    events = stored_events(project_id, with_session_starts=True, with_session_ends=True)
    names = [(e["sessionId"], e["name"]) for e in events]
    morning = [name for session, name in names if session == sessions[0]]
    assert morning == ["session_start", "screen_view", "compose", "screen_view", "session_end"]
    ends = {e["sessionId"]: e for e in events if e["name"] == "session_end"}
    assert ends[sessions[0]]["properties"] == {"__duration": 25 * 60 * 1000, "__bounce": False}
    assert ends[sessions[0]]["createdAt"].startswith(
        (MORNING + timedelta(minutes=25, seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert ends[sessions[5]]["properties"] == {"__duration": 0, "__bounce": True}
    assert len(ends) == 3
    # And the read API's store returns each session's record
    reader = DynamoDBSessionReader(template_env["SESSIONS_TABLE"], dynamodb)
    record = reader.get_session(project_id, sessions[3])
    assert record is not None
    assert (record["entryPath"], record["exitPath"], record["eventCount"], record["duration"]) == (
        "/inbox",
        "/inbox",
        2,
        20 * 60 * 1000,
    )
    # And no live session was opened for the device: its session item does not exist
    key = {"pk": {"S": f"{project_id}#{answers[0].device_id}"}}
    assert "Item" not in dynamodb.get_item(TableName=template_env["SESSIONS_TABLE"], Key=key, ConsistentRead=True)


def test_a_retried_offline_batch_stores_the_same_sessions_once(stores, project_id, stored_events):
    first = upload(stores, project_id, DAY)
    before = stored_events(project_id, with_session_starts=True, with_session_ends=True)
    again = upload(stores, project_id, DAY)
    assert again.results == first.results
    assert stored_events(project_id, with_session_starts=True, with_session_ends=True) == before
    assert len(before) == 6 + 2 * 3


def test_an_offline_batch_costs_about_one_write_unit_per_event_and_four_per_session(
    local_stack, template_env, project_id
):
    from local.capacity import CapacityRecorder

    # Given stores on a client that asks DynamoDB Local for the capacity every call consumes
    client = local_stack.boto3_client("dynamodb")
    recorder = CapacityRecorder(client)
    stores = track_stores(TrackSettings.from_env(template_env), client)
    # When 50 offline events in 5 sessions (10 events a minute apart, then an hour's gap) are uploaded
    items = [
        offline("screen_view", session * 70 + minute, f"/p{minute}") for session in range(5) for minute in range(10)
    ]
    outcome = upload(stores, project_id, items)
    read, write = recorder.take()
    # Then it read the project's settings (0.5) and the claim (1), and wrote 50 + 2 x 5 event items, 5 records with
    # their byProjectStart entries and the claim: 1.42 units per event, no session item, no reaper index entry
    assert len({result.session_id for _, result in outcome.results}) == 5
    assert (read, write) == (1.5, 50 + 5 * 2 + 5 * 2 + 1), (read, write)
