"""DynamoDB plumbing shared by the repositories: value conversion and error translation."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.errors import DuplicateEventError
from beacon.store.aws import TRANSPORT_ERRORS, UNAVAILABLE_CODES, dynamodb_client, error_code, unavailable
from beacon.text import well_formed

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


# boto3's DYNAMODB_CONTEXT: numbers are written only if DynamoDB can hold them exactly (38 digits, its range).
DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _boto3_binary() -> type | None:
    """boto3's Binary wrapper if boto3 is loaded (only then can a value be one); Beacon writes no binary values."""
    types = sys.modules.get("boto3.dynamodb.types")
    binary: type | None = None if types is None else types.Binary
    return binary


def _is_number(value: Any) -> bool:
    if isinstance(value, (int, Decimal)):
        return True
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return False


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_binary(value: Any) -> bool:
    binary = _boto3_binary()
    return isinstance(value, (bytearray, bytes)) or (binary is not None and isinstance(value, binary))


def _is_set_of(value: Any, is_member: Callable[[Any], bool]) -> bool:
    return isinstance(value, AbstractSet) and False not in map(is_member, value)


def _number(value: Any) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _binary(value: Any) -> Any:
    """A value _is_binary accepted: bytes as they are, boto3's Binary unwrapped."""
    return value if isinstance(value, (bytes, bytearray)) else value.value


def _serialize(value: Any) -> dict[str, Any]:
    """boto3's TypeSerializer.serialize, check for check in its order, without importing boto3 (a cold start's
    cost, docs/DESIGN.md §23): None, bool, int/Decimal (float refused), str, bytes, number/string/binary sets, mappings,
    lists and tuples; anything else is a TypeError."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if _is_binary(value):
        return {"B": _binary(value)}
    if _is_set_of(value, _is_number):
        return {"NS": [_number(member) for member in value]}
    if _is_set_of(value, _is_string):
        return {"SS": list(value)}
    if _is_set_of(value, _is_binary):
        return {"BS": [_binary(member) for member in value]}
    if isinstance(value, Mapping):
        return {"M": {key: _serialize(item) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [_serialize(item) for item in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _deserialize_binary(value: Any) -> Any:
    from boto3.dynamodb.types import Binary  # as boto3 answers binary values; Beacon writes none

    return Binary(value)


def _deserialize(value: dict[str, Any]) -> Any:
    """boto3's TypeDeserializer.deserialize, except that numbers are read exactly: DynamoDB answers a number
    such as 9e125 with all its digits ("9000…0", 126 of them), which boto3's 38-digit context refuses
    (decimal.Rounded): a large counter would make its profile unreadable."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind = next(iter(value))
    data = value[kind]
    match f"{kind}".lower():
        case "null":
            return None
        case "bool":
            return data
        case "s":
            return well_formed(data)  # whatever was stored before, a read never meets a lone surrogate
        case "n":
            return Decimal(data)
        case "b":
            return _deserialize_binary(data)
        case "ns":
            return set(map(Decimal, data))
        case "ss":
            return {well_formed(member) for member in data}
        case "bs":
            return set(map(_deserialize_binary, data))
        case "l":
            return [_deserialize(item) for item in data]
        case "m":
            return {well_formed(key): _deserialize(item) for key, item in data.items()}
    raise TypeError(f"Dynamodb type {kind} is not supported")


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
    return _serialize(to_dynamodb_json(value))


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serialize(value) for key, value in to_dynamodb_json(item).items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {well_formed(key): _deserialize(value) for key, value in item.items()}


def cancellation_codes(exc: ClientError) -> list[str | None]:
    """Per action of a cancelled transaction, why it failed ("ConditionalCheckFailed", "None", …)."""
    return [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]


@contextmanager
def translate_errors() -> Iterator[None]:
    """Throttling, server errors and unreachable endpoints become DependencyUnavailableError (503)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in UNAVAILABLE_CODES or (
            code == "TransactionCanceledException"
            and set(cancellation_codes(exc)) & (TRANSACTION_UNAVAILABLE_REASONS | UNAVAILABLE_CODES)
        ):
            raise unavailable("DynamoDB", exc) from exc
        raise
    except TRANSPORT_ERRORS as exc:
        raise unavailable("DynamoDB", exc) from exc


def pages(operation: Callable[..., Any], arguments: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of a Query or Scan (`operation`: `client.query` or `client.scan`), following LastEvaluatedKey;
    each call's errors translated (translate_errors), what the caller does with a page not."""
    request = dict(arguments)
    while True:
        with translate_errors():
            page = operation(**request)
        yield dict(page)
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
    if kind in ("S", "B"):  # a lone surrogate counts as the 3 bytes DynamoDB would store
        return len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").lstrip("0")
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(
            len(key.encode("utf-8", "surrogatepass")) + 1 + attribute_size(item) for key, item in data.items()
        )
    if kind == "L":
        return 3 + sum(1 + attribute_size(item) for item in data)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in data)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (1 write unit per started KB)."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + attribute_size(value) for name, value in item.items())
