"""Write and read units per request type, measured with ReturnConsumedCapacity against DynamoDB Local.

The figures are Beacon's cost per request (README and DATA_MODEL.md quote them); a change that makes
a request type cost more fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.config import TrackSettings
from beacon.domain.entities import Caller, ClientType, RequestContext, RequestMeta
from beacon.domain.ingest import ingest
from beacon.domain.ports import Stores
from beacon.models.requests import parse_track_request
from beacon.store.factory import track_stores
from local.capacity import CapacityRecorder
from local.stack import LocalStack
from tests.constants import FIREFOX
from tests.unit.support.fakes import UNIT_TEST_ENRICHER

pytestmark = pytest.mark.integration


@pytest.fixture
def measured(local_stack: LocalStack, template_env: dict[str, str]) -> Iterator[tuple[Stores, CapacityRecorder]]:
    client = local_stack.boto3_client("dynamodb")  # its own client: the hooks touch no other test
    recorder = CapacityRecorder(client)
    stores = track_stores(TrackSettings.from_env(template_env), client)
    yield stores, recorder


def send(stores: Stores, project_id: str, type_: str, user_agent: str = FIREFOX, **payload: Any) -> None:
    """A browser's request by default (a server agent's events take no session: DESIGN.md §49)."""
    request = parse_track_request(json.dumps({"type": type_, "payload": payload}))
    caller = Caller(project_id, "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", ClientType.WRITE, True)
    ingest(
        request,
        RequestContext(caller, RequestMeta("r", "203.0.113.7", user_agent), datetime.now(UTC)),
        stores,
        UNIT_TEST_ENRICHER,
    )


# (type, payload, read units, write units), each measured once, then pinned. Steady state: the device has
# an active session and profile u1 exists. A new session's transaction is measured separately below.
COSTS = [
    ("track", {"name": "screen_view", "properties": {"path": "/pricing", "plan": "pro"}}, 0.0, 2.0),
    ("track", {"name": "screen_view", "profileId": "u1", "properties": {"path": "/pricing"}}, 1.0, 3.0),
    ("track", {"name": "signup", "profileId": "u1", "properties": {"__identify": {"firstName": "Ada"}}}, 2.0, 4.0),
    ("identify", {"profileId": "u1", "firstName": "Ada", "email": "ada@example.com"}, 2.0, 1.0),
    ("increment", {"profileId": "u1", "property": "visits"}, 2.0, 1.0),
    ("decrement", {"profileId": "u1", "property": "visits"}, 2.0, 1.0),
    ("group", {"id": "org", "type": "company", "name": "Acme"}, 1.0, 1.0),
    ("assign_group", {"profileId": "u1", "groupIds": ["org"]}, 2.0, 1.0),
    # DynamoDB Local reports this 4-action transaction as 2.0; AWS bills transactions at 2 WCU per item-KB.
    ("alias", {"profileId": "u1", "alias": "a1"}, 2.0, 2.0),
]


@pytest.mark.parametrize(
    ("type_", "payload", "reads", "writes"), COSTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(COSTS)]
)
def test_capacity_units_per_request_type(measured, project_id, type_, payload, reads, writes):
    stores, recorder = measured
    # Given a profile that exists and a device with an active session (the steady state)
    send(stores, project_id, "identify", profileId="u1", firstName="Ada")
    send(stores, project_id, "track", name="warm_up", **({"profileId": "u1"} if "profileId" in payload else {}))
    recorder.take()
    # When one request of the type is ingested
    send(stores, project_id, type_, **payload)
    # Then it consumed the documented units
    assert recorder.take() == (reads, writes)


def test_capacity_units_of_the_first_event_of_a_session(measured, project_id):
    # Given a device with no active session, in a warm container (project settings cached)
    stores, recorder = measured
    stores.projects.get_filters(project_id)
    assert recorder.take() == (0.5, 0.0)  # the settings read: once a minute per project and container
    # When its first event arrives
    send(stores, project_id, "track", name="screen_view", properties={"path": "/pricing"})
    # Then a failed continue (conditional update) is followed by one transaction of session + session_start + event
    # (DynamoDB Local's report; AWS bills the transaction's 3 items at 2 WCU each), and, since issue 17, the session's
    # entry in the reaper's byIdleBucket index (2 more as Local reports it): once per session, not per event
    assert recorder.take() == (0.0, 6.0)


def test_capacity_units_of_a_sessions_first_event_with_a_profile(measured, project_id):
    # Given a device's session begun anonymously, and the profile
    stores, recorder = measured
    send(stores, project_id, "identify", profileId="u1", firstName="Ada")
    send(stores, project_id, "track", name="warm_up")
    recorder.take()
    # When the session's first event with a profile id arrives, and then a second one
    send(stores, project_id, "track", name="screen_view", profileId="u1")
    first = recorder.take()
    send(stores, project_id, "track", name="click", profileId="u1")
    # Then the first writes the session's byLiveProfile entry once (1 more unit), the next ones no more than before
    assert (first, recorder.take()) == ((1.0, 4.0), (1.0, 3.0))


@pytest.mark.parametrize(("joined", "reads", "writes"), [(True, 2.5, 2.0), (False, 1.0, 2.0)])
def test_capacity_units_of_a_server_event(measured, project_id, joined, reads, writes):
    # Given profile u1 with (or without) a live browser session
    stores, recorder = measured
    send(stores, project_id, "identify", profileId="u1", firstName="Ada")
    if joined:
        send(stores, project_id, "track", name="visit", profileId="u1")
    recorder.take()
    # When the backend sends an event of u1
    send(stores, project_id, "track", user_agent="node-fetch/1.0", name="invoice_paid", profileId="u1")
    # Then it writes only itself and its byProfile entry (a browser's event: 3), and reads the alias (1), the
    # byLiveProfile index (0.5 as Local reports a hit) and the session's device item (1, consistent)
    assert recorder.take() == (reads, writes)
