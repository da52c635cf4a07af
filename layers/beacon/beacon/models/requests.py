"""Request models of `POST /track`: a discriminated union on `type`, the single source of the wire contract.

Bounds on properties keep every accepted event inside one DynamoDB item (400 KB) and inside
DynamoDB's number range; they are documented in the README.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    IPvAnyAddress,
    NonNegativeInt,
    PrivateAttr,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic.networks import validate_email
from pydantic_core import CoreSchema, core_schema

from beacon.errors import InvalidRequestError, PayloadTooLargeError

MAX_PROPERTY_DEPTH = 5
MAX_PROPERTY_KEYS = 200
MAX_KEY_LENGTH = 200
MAX_STRING_LENGTH = 4_000
MAX_LIST_LENGTH = 200
# DynamoDB numbers: up to 38 significant digits, magnitude within 1e-130 .. 1e126.
MAX_NUMBER_MAGNITUDE = 1e125
MIN_NUMBER_MAGNITUDE = 1e-130
MAX_NUMBER_DIGITS = 38
RESERVED_EVENT_NAMES = frozenset({"session_start", "session_end"})
# The times an event may have (docs/API.md, Event time): a `__timestamp` outside [EARLIEST, receipt + 1 minute] is
# replaced by the receipt time. Read queries take times in [EARLIEST, LATEST_QUERY_TIME).
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_QUERY_TIME = datetime(2100, 1, 1, tzinfo=UTC)

MAX_ID_LENGTH = 256


class _LazyEmail:
    """pydantic's EmailStr, validated by the same function (same normalisation, same errors, same schema), but
    email-validator is imported at the first address rather than when the models are built: its import compiles
    its RFC regexes, which most events (they carry no email) need not pay for at cold start."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: type[Any], _handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(cls._validate, core_schema.str_schema())

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        field_schema = handler(schema)
        field_schema.update(type="string", format="email")
        return field_schema

    @staticmethod
    def _validate(value: str) -> str:
        return validate_email(value)[1]  # imports email-validator on first use


if TYPE_CHECKING:
    EmailAddress = str
else:
    EmailAddress = Annotated[str, _LazyEmail]


def _profile_id(value: Any) -> Any:
    """OpenPanel accepts string or number ids; a number is kept as its decimal string, so 1 and "1" are one profile."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a string or an integer")
    return str(value)


ProfileId = Annotated[str, BeforeValidator(_profile_id), Field(min_length=1, max_length=MAX_ID_LENGTH)]
EntityId = Annotated[str, Field(min_length=1, max_length=128)]  # group ids
Properties = dict[str, Any]


def _check_value(value: Any, depth: int, counter: list[int]) -> None:
    """depth counts containers: the properties object itself is level 1, leaf values add none."""
    if isinstance(value, (dict, list)) and depth > MAX_PROPERTY_DEPTH:
        raise ValueError(f"properties nest deeper than {MAX_PROPERTY_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            counter[0] += 1
            if counter[0] > MAX_PROPERTY_KEYS:
                raise ValueError(f"properties hold more than {MAX_PROPERTY_KEYS} keys")
            if not key or len(key) > MAX_KEY_LENGTH:
                raise ValueError(f"property keys must be 1-{MAX_KEY_LENGTH} characters")
            _check_value(item, depth + 1, counter)
    elif isinstance(value, list):
        if len(value) > MAX_LIST_LENGTH:
            raise ValueError(f"property lists hold at most {MAX_LIST_LENGTH} items")
        for item in value:
            _check_value(item, depth + 1, counter)
    elif isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise ValueError(f"property strings are at most {MAX_STRING_LENGTH} characters")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if len(str(abs(value)).rstrip("0")) > MAX_NUMBER_DIGITS:
            raise ValueError(f"property numbers have at most {MAX_NUMBER_DIGITS} significant digits")
        if abs(value) > MAX_NUMBER_MAGNITUDE:
            raise ValueError("property numbers must be within ±1e125")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("property numbers must be finite")
        if abs(value) > MAX_NUMBER_MAGNITUDE or (value != 0 and abs(value) < MIN_NUMBER_MAGNITUDE):
            raise ValueError("property numbers must be 0 or within 1e-130..1e125 in magnitude")


def check_properties(value: Properties) -> Properties:
    _check_value(value, 1, [0])
    return value


class _Payload(BaseModel):
    # Unknown payload fields are ignored, as OpenPanel does, so newer SDKs keep working.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class _WithProperties(_Payload):
    properties: Properties = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _bounded(cls, value: Properties) -> Properties:
        return check_properties(value)


class _ProfileFields(_WithProperties):
    firstName: str | None = Field(default=None, max_length=256)
    lastName: str | None = Field(default=None, max_length=256)
    email: EmailAddress | None = None
    avatar: str | None = Field(default=None, max_length=2048)


class IdentifyPayload(_ProfileFields):
    profileId: ProfileId


class EventIdentify(_ProfileFields):
    """`properties.__identify` on a track event: an identify whose profileId defaults to the event's."""

    profileId: ProfileId | None = None


OverrideValue = Annotated[str, Field(max_length=256)]


def _none_when_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """OpenPanel's leniency for a reserved property it cannot use: ignored, not a refusal of the event."""
    try:
        return handler(value)
    except ValidationError:
        return None


LenientIp = Annotated[IPvAnyAddress | None, WrapValidator(_none_when_invalid)]
LenientDeviceId = Annotated[
    str | None, StringConstraints(min_length=1, max_length=64), WrapValidator(_none_when_invalid)
]
# Bot verdicts are Beacon's to make: a client's own are dropped, never stored.
CLIENT_BOT_PROPERTIES = ("__bot", "__bot_reasons")


class TrackProperties(BaseModel):
    """A track event's properties: OpenPanel's reserved `__` properties are typed and consumed here;
    every other key is an ordinary property (kept in `model_extra`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=False)

    timestamp: Any = Field(default=None, alias="__timestamp")
    id: str | None = Field(default=None, alias="__id", min_length=1, max_length=64)  # idempotency key
    ip: LenientIp = Field(default=None, alias="__ip")  # an invalid one is ignored
    deviceId: LenientDeviceId = Field(default=None, alias="__deviceId")  # an invalid one is ignored
    identify: EventIdentify | None = Field(default=None, alias="__identify")
    revenue: Annotated[NonNegativeInt, Strict()] | None = Field(default=None, alias="__revenue")
    os: OverrideValue | None = Field(default=None, alias="__os")
    osVersion: OverrideValue | None = Field(default=None, alias="__osVersion")
    browser: OverrideValue | None = Field(default=None, alias="__browser")
    browserVersion: OverrideValue | None = Field(default=None, alias="__browserVersion")
    device: OverrideValue | None = Field(default=None, alias="__device")
    brand: OverrideValue | None = Field(default=None, alias="__brand")
    model: OverrideValue | None = Field(default=None, alias="__model")

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_properties(data)
        return data

    @property
    def ordinary(self) -> Properties:
        extra = self.model_extra or {}
        if "__bot" in extra or "__bot_reasons" in extra:
            return {name: value for name, value in extra.items() if name not in CLIENT_BOT_PROPERTIES}
        return dict(extra)

    @property
    def device_overrides(self) -> dict[str, str]:
        names = ("os", "osVersion", "browser", "browserVersion", "device", "brand", "model")
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class TrackPayload(_Payload):
    name: str = Field(min_length=1, max_length=80)
    properties: TrackProperties = Field(default_factory=TrackProperties)
    profileId: ProfileId | None = None
    groups: list[EntityId] | None = Field(default=None, max_length=100)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_EVENT_NAMES:
            raise ValueError(f"'{value}' is reserved for events Beacon creates itself")
        return value


class AliasPayload(_Payload):
    profileId: ProfileId
    alias: ProfileId


def _property_path(value: str) -> str:
    parts = value.split(".")
    if any(not part for part in parts):
        raise ValueError("a property path is dot-separated names, none of them empty")
    if len(parts) > MAX_PROPERTY_DEPTH:
        raise ValueError(f"a property path has at most {MAX_PROPERTY_DEPTH} levels")
    return value


class _CounterPayload(_Payload):
    profileId: ProfileId
    property: Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH), AfterValidator(_property_path)]
    # `"value": null` means 1, as the Python SDK sends a counter without a value
    value: Annotated[
        float,
        Field(ge=MIN_NUMBER_MAGNITUDE, le=MAX_NUMBER_MAGNITUDE, allow_inf_nan=False),
        BeforeValidator(lambda value: 1 if value is None else value),
    ] = 1


class IncrementPayload(_CounterPayload):
    pass


class DecrementPayload(_CounterPayload):
    pass


class GroupPayload(_WithProperties):
    id: EntityId
    type: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)


class AssignGroupPayload(_Payload):
    groupIds: list[EntityId] = Field(min_length=1, max_length=100)
    profileId: ProfileId | None = None


class TrackEventRequest(BaseModel):
    type: Literal["track"]
    payload: TrackPayload


class IdentifyRequest(BaseModel):
    type: Literal["identify"]
    payload: IdentifyPayload


class AliasRequest(BaseModel):
    type: Literal["alias"]
    payload: AliasPayload


class IncrementRequest(BaseModel):
    type: Literal["increment"]
    payload: IncrementPayload


class DecrementRequest(BaseModel):
    type: Literal["decrement"]
    payload: DecrementPayload


class GroupRequest(BaseModel):
    type: Literal["group"]
    payload: GroupPayload


class AssignGroupRequest(BaseModel):
    type: Literal["assign_group"]
    payload: AssignGroupPayload


TrackRequest = Annotated[
    Union[
        TrackEventRequest,
        IdentifyRequest,
        AliasRequest,
        IncrementRequest,
        DecrementRequest,
        GroupRequest,
        AssignGroupRequest,
    ],
    Field(discriminator="type"),
]

TRACK_REQUEST_ADAPTER: TypeAdapter[TrackRequest] = TypeAdapter(TrackRequest)
TRACK_REQUEST_MODELS: tuple[type[BaseModel], ...] = get_args(get_args(TrackRequest)[0])
# The discriminator's values, read off the union: a new request type is one model added to it.
REQUEST_TYPES: frozenset[str] = frozenset(
    get_args(model.model_fields["type"].annotation)[0] for model in TRACK_REQUEST_MODELS
)


def parse_track_request(body: str | bytes) -> TrackRequest:
    """Parse and validate a raw JSON body in one pass; raises pydantic.ValidationError."""
    return TRACK_REQUEST_ADAPTER.validate_json(body)


MAX_BATCH_EVENTS = 1000


class BatchRequest(BaseModel):
    """`POST /track/batch`: the items are validated one by one, so one bad event rejects only itself."""

    batch: list[Any] = Field(max_length=MAX_BATCH_EVENTS)
    sentAt: str | None = Field(default=None, max_length=64)
    _body: bytes = PrivateAttr(default=b"")  # the request's bytes: they identify the batch (not part of the wire)

    @property
    def body(self) -> bytes:
        return self._body

    @classmethod
    def parse_body(cls, body: bytes) -> BatchRequest:
        return parse_batch_request(body)


BATCH_REQUEST_ADAPTER: TypeAdapter[BatchRequest] = TypeAdapter(BatchRequest)


def parse_batch_request(body: str | bytes) -> BatchRequest:
    """Parse once, count before validating (over MAX_BATCH_EVENTS is a 413, not a 400), then validate."""
    try:
        # Strict UTF-8, as POST /track's parser reads it: json.loads would let the bytes of a lone surrogate through.
        raw = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidRequestError(
            "Invalid JSON body", details=[{"field": "body", "message": str(exc)[:200], "type": "json_invalid"}]
        ) from exc
    if isinstance(raw, dict) and isinstance(raw.get("batch"), list) and len(raw["batch"]) > MAX_BATCH_EVENTS:
        raise PayloadTooLargeError(f"A batch holds at most {MAX_BATCH_EVENTS} events")
    batch = BATCH_REQUEST_ADAPTER.validate_python(raw)
    batch._body = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return batch
