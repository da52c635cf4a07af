"""DynamoDB plumbing shared by the repositories: value conversion and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from beacon.domain.errors import DuplicateEventError
from beacon.store.aws import TRANSPORT_ERRORS, UNAVAILABLE_CODES, dynamodb_client, error_code, unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Cancellation reasons of a transaction that mean "retry later" (they differ from the operations' error codes).
TRANSACTION_UNAVAILABLE_REASONS = frozenset(
    {
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "TransactionConflict",
        "InternalServerError",
    }
)


class _ExactDeserializer(TypeDeserializer):
    """boto3's deserializer with numbers read exactly. DynamoDB answers a number such as 9e125 with all its
    digits ("9000…0", 126 of them), which boto3's 38-digit decimal context refuses (decimal.Rounded): a
    large counter would make its profile unreadable."""

    def _deserialize_n(self, value: str) -> Decimal:
        return Decimal(value)


_serializer = TypeSerializer()
_deserializer = _ExactDeserializer()


def to_dynamodb_json(value: Any) -> Any:
    """Floats become exact Decimals (DynamoDB numbers, via repr: 9.99 stays 9.99); the rest is kept."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: to_dynamodb_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_dynamodb_json(item) for item in value]
    return value


def serialize(value: Any) -> Any:
    return _serializer.serialize(to_dynamodb_json(value))


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in to_dynamodb_json(item).items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def cancellation_codes(exc: ClientError) -> list[str | None]:
    """Per action of a cancelled transaction, why it failed ("ConditionalCheckFailed", "None", …)."""
    return [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]


@contextmanager
def translate_errors() -> Iterator[None]:
    """Throttling, server errors and unreachable endpoints become DependencyUnavailableError (503)."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in UNAVAILABLE_CODES:
            raise unavailable("DynamoDB", exc) from exc
        if error_code(exc) == "TransactionCanceledException":
            reasons = set(cancellation_codes(exc))
            if reasons & TRANSACTION_UNAVAILABLE_REASONS:
                raise unavailable("DynamoDB", exc) from exc
            if reasons & UNAVAILABLE_CODES or "TransactionConflict" in reasons:
                raise unavailable("DynamoDB", exc) from exc
        raise
    except TRANSPORT_ERRORS as exc:
        raise unavailable("DynamoDB", exc) from exc


def transact(client: Any, actions: list[dict[str, Any]], claims: int = 0) -> None:
    """TransactWriteItems; when one of the first `claims` actions (idempotency claims) fails its condition,
    DuplicateEventError: the request was already stored."""
    try:
        with translate_errors():
            client.transact_write_items(TransactItems=actions)
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            codes = cancellation_codes(exc)
            if any(code == "ConditionalCheckFailed" for code in codes[:claims]):
                raise DuplicateEventError() from exc
        raise


class DynamoDBRepository:
    """A repository over one table; its client is injected (tests) or the container's shared one."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client


def attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value, in bytes (AWS: "Item sizes and formats")."""
    ((kind, data),) = value.items()
    if kind in ("S", "B"):
        return len(data.encode() if isinstance(data, str) else data)
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").lstrip("0")
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(key.encode()) + 1 + attribute_size(item) for key, item in data.items())
    if kind == "L":
        return 3 + sum(1 + attribute_size(item) for item in data)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in data)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (1 write unit per started KB)."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())
