"""DynamoDB attribute values: Beacon's own conversion does exactly what boto3's TypeSerializer and
TypeDeserializer do (the track function no longer imports boto3 for them), except that numbers are read
exactly, whatever their number of digits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal, Inexact, Rounded
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from beacon.store.dynamodb import deserialize_item, serialize, serialize_item
from tests.constants import ROOT

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    10**37,
    Decimal("9.99"),
    Decimal("-0.000001"),
    Decimal("1E+125"),
    Decimal("1E-130"),
    Decimal("1E-131"),  # boto3's context writes it (DynamoDB itself refuses it)
    "",
    "text",
    "ünïcødé ✓",
    b"\x00\xffbytes",
    bytearray(b"array"),
    Binary(b"wrapped"),
    {"nested": {"list": [1, "two", None, True, {"deep": Decimal("3.5")}]}},
    [],
    {},
    (1, "tuple"),
    {"a", "b", "c"},
    {1, 2, Decimal("3.25")},
    frozenset({b"x", b"y"}),
    {Binary(b"z")},
    [{"m": [[], {}]}],
]


def outcome(convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        return ("value", convert(value))
    except Exception as exc:  # noqa: BLE001 - the failure itself is what is compared
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_serialize_writes_what_boto3_writes(value: Any) -> None:
    # Given a Python value Beacon might store
    # When Beacon and boto3 both serialize it
    ours = serialize(value)
    theirs = TypeSerializer().serialize(value)

    # Then the attribute values are the same (set members compared regardless of order)
    assert normalised(ours) == normalised(theirs)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1E+127"),  # past DynamoDB's range
        Decimal("1.2345678901234567890123456789012345678901"),  # 41 digits
        10**40 + 1,
        Decimal("NaN"),
        Decimal("Infinity"),
        object(),
        {1, "mixed"},
        {"list": [object()]},
    ],
)
def test_serialize_refuses_what_boto3_refuses(value: Any) -> None:
    # Given a value boto3 will not write
    # When Beacon serializes it
    # Then it fails the same way (same exception type and message)
    assert outcome(serialize, value) == outcome(TypeSerializer().serialize, value)
    assert outcome(serialize, value)[0] == "error"


def test_serialize_turns_floats_into_exact_decimals_as_before() -> None:
    # Given floats, which boto3 refuses
    # When Beacon serializes them (after its float → Decimal step)
    item = serialize_item({"price": 9.99, "nested": [0.1, {"x": 1e-3}]})

    # Then they are written with their repr's digits
    assert item == {
        "price": {"N": "9.99"},
        "nested": {"L": [{"N": "0.1"}, {"M": {"x": {"N": "0.001"}}}]},
    }


def test_a_float_inside_a_set_is_refused_as_boto3_refuses_it() -> None:
    # Given a set of floats (to_dynamodb_json converts floats in dicts and lists only)
    # When it is serialized
    # Then it is boto3's TypeError
    assert outcome(serialize, {1.5}) == outcome(TypeSerializer().serialize, {1.5})


ATTRIBUTES: list[dict[str, Any]] = [
    {"NULL": True},
    {"BOOL": True},
    {"BOOL": False},
    {"S": "text"},
    {"N": "42"},
    {"N": "-0.5"},
    {"N": "1E+125"},
    {"B": b"bytes"},
    {"SS": ["a", "b"]},
    {"NS": ["1", "2.5"]},
    {"BS": [b"x", b"y"]},
    {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"NULL": True}}}]},
    {"M": {"a": {"L": []}, "b": {"M": {}}}},
]


@pytest.mark.parametrize("attribute", ATTRIBUTES, ids=repr)
def test_deserialize_reads_what_boto3_reads(attribute: dict[str, Any]) -> None:
    # Given an attribute value as DynamoDB answers it
    # When Beacon and boto3 both read it
    ours = deserialize_item({"attribute": attribute})["attribute"]
    theirs = TypeDeserializer().deserialize(attribute)  # type: ignore[arg-type]

    # Then the Python values are the same, of the same types
    assert ours == theirs
    assert type(ours) is type(theirs)


@pytest.mark.parametrize("attribute", [{}, {"X": "unknown"}], ids=repr)
def test_deserialize_refuses_what_boto3_refuses(attribute: dict[str, Any]) -> None:
    # Given an attribute value that is empty or of an unknown type
    # When it is read
    # Then it fails the same way
    ours = outcome(lambda value: deserialize_item({"a": value})["a"], attribute)
    assert ours == outcome(TypeDeserializer().deserialize, attribute)
    assert ours[0] == "error"


@pytest.mark.parametrize("digits", ["9" + "0" * 125, "-1" + "0" * 60, "1.00000000000000000000000000000000000000001"])
def test_numbers_with_more_than_38_digits_are_read_exactly(digits: str) -> None:
    # Given a number DynamoDB answers with more than 38 digits (9e125 comes back as 126 digits)
    attribute = {"N": digits}

    # When Beacon reads it, also inside a map, a list and a number set
    item = deserialize_item(
        {"n": attribute, "m": {"M": {"n": attribute}}, "l": {"L": [attribute]}, "s": {"NS": [digits]}}
    )

    # Then it is the exact number, where boto3's 38-digit context refuses it
    assert item == {"n": Decimal(digits), "m": {"n": Decimal(digits)}, "l": [Decimal(digits)], "s": {Decimal(digits)}}
    with pytest.raises((Inexact, Rounded)):
        TypeDeserializer().deserialize(attribute)  # type: ignore[arg-type]


def test_round_trip_keeps_every_kind_of_value() -> None:
    # Given an item with every kind of value Beacon stores
    item: dict[str, Any] = {
        "s": "x",
        "n": Decimal("12.5"),
        "i": 7,
        "b": True,
        "none": None,
        "m": {"a": [1, "b", {"c": None}]},
        "ss": {"alias-1", "alias-2"},
    }

    # When it is written and read back
    back = deserialize_item(serialize_item(item))

    # Then it is the same (ints come back as Decimals, as with boto3)
    assert back == {**item, "i": Decimal(7)}


def test_importing_the_store_does_not_import_boto3() -> None:
    # Given a fresh interpreter
    code = (
        "import sys; import beacon.store.events, beacon.store.profiles, beacon.store.rejected; "
        "print(sorted(m for m in ('boto3', 's3transfer') if m in sys.modules))"
    )

    # When it imports the DynamoDB repositories
    layer = ROOT / "layers" / "beacon"
    env = {**os.environ, "PYTHONPATH": str(layer)}
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    # Then boto3 is not loaded (botocore alone makes the clients)
    assert answer.stdout.strip() == "[]"


def normalised(attribute: Any) -> Any:
    """Set members in a fixed order: sets have no order, boto3 and Beacon may list them differently."""
    if isinstance(attribute, dict):
        return {
            kind: sorted(data, key=repr) if kind in ("SS", "NS", "BS") else normalised(data)
            for kind, data in attribute.items()
        }
    if isinstance(attribute, list):
        return [normalised(item) for item in attribute]
    return attribute
