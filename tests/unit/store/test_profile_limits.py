"""A full profile or group is a 409 naming the limit, in the shapes real DynamoDB answers (DynamoDB Local's own
messages are covered in tests/integration/test_profile_store.py): never a 5xx, which means a dependency is down."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from beacon.domain.entities import GroupUpdate, ProfileUpdate, TrackResult
from beacon.errors import ConflictError, DependencyUnavailableError
from beacon.store.profiles import MAX_PROFILE_KB, DynamoDBProfileStore, item_too_large

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PUT_TOO_LARGE = "Item size has exceeded the maximum allowed size"
UPDATE_TOO_LARGE = "Item size to update has exceeded the maximum allowed size"


def validation(message: str, operation: str = "UpdateItem") -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


def cancelled(*reasons: dict[str, str]) -> ClientError:
    codes = ", ".join(reason["Code"] for reason in reasons)
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": f"Transaction cancelled [{codes}]"},
        "CancellationReasons": list(reasons),
    }
    return ClientError(response, "TransactWriteItems")


NONE = {"Code": "None"}


class FakeDynamoDB:
    """Answers each write with the next of `answers` (an error is raised); remembers the requests."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        return answer

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._answer(request)

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        return self._answer(request)


def store_over(client: FakeDynamoDB) -> DynamoDBProfileStore:
    return DynamoDBProfileStore("Entities", client=cast("Any", client), idempotency_table="Idempotency")


@pytest.mark.parametrize(
    ("error", "too_large"),
    [
        (validation(PUT_TOO_LARGE, "PutItem"), True),
        (validation(UPDATE_TOO_LARGE), True),
        (cancelled(NONE, {"Code": "ValidationError", "Message": UPDATE_TOO_LARGE}), True),
        (cancelled({"Code": "ValidationError", "Message": PUT_TOO_LARGE}, NONE), True),
        (validation("The document path provided in the update expression is invalid for update"), False),
        (validation("Number overflow. Attempting to store a number with magnitude larger than supported range"), False),
        (cancelled(NONE, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}), False),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem"), False),
    ],
)
def test_item_too_large_recognises_dynamodbs_item_size_refusals_only(error: ClientError, too_large: bool) -> None:
    assert item_too_large(error) is too_large


WRITES = {
    "identify": lambda store: store.identify("p", ProfileUpdate("u", properties={"a": 1}), NOW),
    "increment": lambda store: store.add_to_property("p", "u", ["a"], Decimal(1), NOW),
    "alias": lambda store: store.add_alias("p", "u", "a-1", NOW),
    "assign_group": lambda store: store.add_groups("p", "u", ["g"], NOW),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_dynamodb_refuses_for_item_size_is_a_409_saying_the_profile_is_full(write: str) -> None:
    # Given DynamoDB answers that the item would pass its size limit (as a transaction's reason for the alias)
    refusal = (
        cancelled(NONE, {"Code": "ValidationError", "Message": UPDATE_TOO_LARGE}, NONE, NONE)
        if write == "alias"
        else validation(UPDATE_TOO_LARGE)
    )
    # When the write is made
    with pytest.raises(ConflictError) as error:
        WRITES[write](store_over(FakeDynamoDB(refusal)))
    # Then it is a 409 that says so and names the limit
    assert error.value.status == 409
    assert error.value.message == "The profile is full: it has reached DynamoDB's 400 KB item limit"
    assert [detail["type"] for detail in error.value.details or []] == ["profile_full"]


def test_a_claimed_increment_whose_update_is_too_large_is_a_409_not_a_not_numeric_400() -> None:
    client = FakeDynamoDB(cancelled(NONE, {"Code": "ValidationError", "Message": UPDATE_TOO_LARGE}))
    with pytest.raises(ConflictError) as error:
        store_over(client).add_to_property("p", "u", ["a"], Decimal(1), NOW, "req#k", TrackResult("d", "s"))
    assert [detail["type"] for detail in error.value.details or []] == ["profile_full"]


def test_a_group_dynamodb_refuses_for_item_size_is_a_409_saying_the_group_is_full() -> None:
    with pytest.raises(ConflictError) as error:
        store_over(FakeDynamoDB(validation(UPDATE_TOO_LARGE))).upsert_group("p", GroupUpdate("g", "t", "n"), NOW)
    assert error.value.message.startswith("The group is full")
    assert [detail["type"] for detail in error.value.details or []] == ["group_full"]


def test_identify_asks_for_the_items_size_and_marks_a_profile_past_the_bound() -> None:
    # Given DynamoDB reports the identify's write as one of a profile past the bound
    client = FakeDynamoDB({"ConsumedCapacity": {"CapacityUnits": float(MAX_PROFILE_KB + 1)}}, {})
    # When the profile is identified
    store_over(client).identify("p", ProfileUpdate("u", properties={"a": 1}), NOW)
    # Then the identify was conditional on the profile not being full, asked for its capacity, and a second write
    # marked the profile full
    identify, mark = client.requests
    assert identify["ReturnConsumedCapacity"] == "TOTAL"
    assert "attribute_not_exists" in identify["ConditionExpression"]
    assert "fullAt" in mark["ExpressionAttributeNames"].values()


def test_identify_of_a_profile_within_the_bound_is_one_write() -> None:
    client = FakeDynamoDB({"ConsumedCapacity": {"CapacityUnits": float(MAX_PROFILE_KB)}})
    store_over(client).identify("p", ProfileUpdate("u", properties={"a": 1}), NOW)
    assert len(client.requests) == 1


def test_a_failure_to_mark_the_profile_full_does_not_fail_the_stored_identify() -> None:
    # Given the identify is stored but the write that marks the profile is throttled
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")
    client = FakeDynamoDB({"ConsumedCapacity": {"CapacityUnits": float(MAX_PROFILE_KB + 10)}}, throttled)
    # When the profile is identified, Then it succeeds (the next identify marks it again)
    store_over(client).identify("p", ProfileUpdate("u", properties={"a": 1}), NOW)
    assert len(client.requests) == 2


def test_identify_refused_by_the_full_mark_is_a_409_naming_the_bound() -> None:
    refused = ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}},
        "UpdateItem",
    )
    with pytest.raises(ConflictError) as error:
        store_over(FakeDynamoDB(refused)).identify("p", ProfileUpdate("u", first_name="Joe"), NOW)
    assert f"{MAX_PROFILE_KB} KB" in error.value.message
    assert [detail["type"] for detail in error.value.details or []] == ["profile_full"]


def test_a_throttled_write_is_still_a_503() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")
    with pytest.raises(DependencyUnavailableError):
        store_over(FakeDynamoDB(throttled)).add_to_property("p", "u", ["a"], Decimal(1), NOW)
