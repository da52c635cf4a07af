"""The events table against DynamoDB Local, created from template.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from beacon.domain.entities import Event
from beacon.errors import ConflictError, DependencyUnavailableError
from beacon.store.dynamodb import deserialize_item as item_to_dict
from beacon.store.events import PROFILE_INDEX, DynamoDBEventStore

pytestmark = pytest.mark.integration


def make_event(
    project_id: str, event_id: str = "0190aa00000011112222333344445555", profile_id: str | None = "u-1"
) -> Event:
    now = datetime(2026, 11, 22, 12, 0, 0, 123000, tzinfo=UTC)
    return Event(
        id=event_id,
        project_id=project_id,
        client_id="client-1",
        name="checkout",
        properties={"price": 9.99, "items": [{"sku": "a", "qty": 2}], "coupon": None},
        profile_id=profile_id,
        groups=["org-1"],
        device_id="d" * 32,
        session_id="s" * 32,
        created_at=now,
        received_at=now,
    )


@pytest.fixture
def store(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBEventStore:
    return DynamoDBEventStore(template_env["EVENTS_TABLE"], retention_days=30, client=dynamodb)


def test_put_event_stores_every_field_with_exact_numbers(store, project_id, stored_events):
    # Given an event with nested properties and a float
    event = make_event(project_id)
    # When it is stored
    store.put_event(event)
    # Then it reads back from DynamoDB Local unchanged, with the receipt time beside the event time
    [item] = stored_events(project_id)
    assert item["name"] == "checkout"
    assert item["properties"] == {"price": Decimal("9.99"), "items": [{"sku": "a", "qty": 2}], "coupon": None}
    assert item["groups"] == ["org-1"]
    assert item["createdAt"] == "2026-11-22T12:00:00.123Z"
    assert item["receivedAt"] == "2026-11-22T12:00:00.123Z"
    assert item["projectId"] == project_id


def test_profile_events_are_queryable_through_the_profile_index(store, project_id, dynamodb, template_env):
    # Given two events of one profile and one anonymous event
    store.put_event(make_event(project_id, "0190aa00000011112222333344440001"))
    store.put_event(make_event(project_id, "0190aa00000011112222333344440002"))
    store.put_event(make_event(project_id, "0190aa00000011112222333344440003", profile_id=None))
    # When the profile index is queried
    response = dynamodb.query(
        TableName=template_env["EVENTS_TABLE"],
        IndexName=PROFILE_INDEX,
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": f"{project_id}#u-1"}},
    )
    # Then exactly the profile's events come back
    assert sorted(item_to_dict(item)["id"] for item in response["Items"]) == [
        "0190aa00000011112222333344440001",
        "0190aa00000011112222333344440002",
    ]


def test_storing_the_same_event_id_twice_never_overwrites(store, project_id, stored_events):
    # Given a stored event
    store.put_event(make_event(project_id))
    # When an event with the same id is stored again
    with pytest.raises(ConflictError):
        store.put_event(make_event(project_id))
    # Then the first one is still the only one
    assert len(stored_events(project_id)) == 1


def test_unreachable_dynamodb_is_a_dependency_error(project_id, template_env, unreachable_dynamodb):
    # Given a DynamoDB endpoint where nothing listens
    store = DynamoDBEventStore(template_env["EVENTS_TABLE"], retention_days=30, client=unreachable_dynamodb)
    # When an event is stored, Then the caller gets the 503-class error, not a crash
    with pytest.raises(DependencyUnavailableError):
        store.put_event(make_event(project_id))


def test_tables_are_created_from_the_template(dynamodb, template_env):
    # Given the stack started by the tests, When the events table is described
    table = dynamodb.describe_table(TableName=template_env["EVENTS_TABLE"])["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=template_env["EVENTS_TABLE"])["TimeToLiveDescription"]
    # Then it has the template's keys, index, stream and TTL
    assert {key["AttributeName"]: key["KeyType"] for key in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == [PROFILE_INDEX]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    assert ttl["AttributeName"] == "expiresAt"
