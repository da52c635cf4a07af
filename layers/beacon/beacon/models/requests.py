"""Request models of `POST /track`: a discriminated union on `type`, the single source of the wire contract.

Bounds on properties keep every accepted event inside one DynamoDB item (400 KB) and inside
DynamoDB's number range; they are documented in the README.
"""

from __future__ import annotations

import json
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
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from beacon.errors import InvalidRequestError, PayloadTooLargeError
from beacon.models import bounds
from beacon.models.blocklist import is_blocked_event_name
from beacon.models.bounds import bound_properties

# The property bounds live with the code that cuts properties to them (models/bounds.py); named here too, as the
# wire contract's limits.
MAX_PROPERTY_DEPTH = bounds.MAX_PROPERTY_DEPTH
MAX_PROPERTY_KEYS = bounds.MAX_PROPERTY_KEYS
MAX_KEY_LENGTH = bounds.MAX_KEY_LENGTH
MAX_STRING_LENGTH = bounds.MAX_STRING_LENGTH
MAX_LIST_LENGTH = bounds.MAX_LIST_LENGTH
MAX_NUMBER_MAGNITUDE = bounds.MAX_NUMBER_MAGNITUDE
MIN_NUMBER_MAGNITUDE = bounds.MIN_NUMBER_MAGNITUDE
MAX_NUMBER_DIGITS = bounds.MAX_NUMBER_DIGITS

RESERVED_EVENT_NAMES = frozenset({"session_start", "session_end"})
# The times an event may have (docs/API.md, Event time): a `__timestamp` outside [EARLIEST, receipt + 1 minute] is
# replaced by the receipt time. Read queries take times in [EARLIEST, LATEST_QUERY_TIME).
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_QUERY_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def within_query_times(value: datetime) -> datetime:
    """`value` in UTC (naive means UTC) when it is in [EARLIEST_EVENT_TIME, LATEST_QUERY_TIME); else ValueError.
    Beyond year 1 or 9999 a time cannot even be converted to UTC: that is refused the same way."""
    try:
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST_EVENT_TIME <= moment < LATEST_QUERY_TIME:
        raise ValueError(f"must be from {EARLIEST_EVENT_TIME.date()} to before {LATEST_QUERY_TIME.date()} (UTC)")
    return moment


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


def check_properties(value: Properties) -> Properties:
    """The properties cut to the bounds (models/bounds.py): what is over them is cut and listed in `__truncated`."""
    return bound_properties(value)


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


MAX_OVERRIDE_LENGTH = 256
OverrideValue = Annotated[str, Field(max_length=MAX_OVERRIDE_LENGTH)]
OVERRIDE_BOUNDS = {
    f"__{name}": MAX_OVERRIDE_LENGTH
    for name in ("os", "osVersion", "browser", "browserVersion", "device", "brand", "model")
}


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
        # Cut to the bounds rather than refused; an override longer than its bound is cut too, as OpenPanel bounds it.
        return bound_properties(data, OVERRIDE_BOUNDS) if isinstance(data, dict) else data

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
        if is_blocked_event_name(value):
            raise PydanticCustomError(
                "event_name_blocked", "Event name is blocked: it is a scanner's probe or an injection attempt"
            )
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

# A session-replay chunk (rrweb events as the SDK serialised them) may be this long: OpenPanel's bound. Its body may be
# longer than POST /track's other bodies (MAX_REPLAY_BODY_BYTES); everything else keeps its limit (docs/DESIGN.md).
MAX_REPLAY_PAYLOAD_CHARS = 2 * 1024 * 1024
# The body of a chunk at the bound: JSON escaping of the SDK's serialised events (quotes, backslashes) makes the body
# longer than the payload; 3 MiB is 4.2 MB in base64, inside Lambda's 6 MB invocation with the rest of the event.
MAX_REPLAY_BODY_BYTES = 3 * 1024 * 1024


class ReplayPayload(BaseModel):
    """One chunk of the web SDK's session recording (`sessionReplay: {enabled: true}`), as @openpanel/web sends it."""

    chunk_index: int = Field(ge=0, le=65_535)
    events_count: int = Field(ge=1, le=1_000_000)
    is_full_snapshot: bool
    started_at: datetime
    ended_at: datetime
    payload: str = Field(max_length=MAX_REPLAY_PAYLOAD_CHARS)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (the SDK sends ISO-8601 UTC)")
        return within_query_times(value)

    @model_validator(mode="after")
    def _ordered(self) -> ReplayPayload:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class ReplayRequest(BaseModel):
    """`POST /track` with `type: "replay"`: filed under the caller's active session (not part of a batch)."""

    type: Literal["replay"]
    payload: ReplayPayload


# What POST /track accepts: every event type, and replay chunks.
TrackRouteRequest = Annotated[
    Union[
        TrackEventRequest,
        IdentifyRequest,
        AliasRequest,
        IncrementRequest,
        DecrementRequest,
        GroupRequest,
        AssignGroupRequest,
        ReplayRequest,
    ],
    Field(discriminator="type"),
]
TRACK_ROUTE_ADAPTER: TypeAdapter[TrackRouteRequest] = TypeAdapter(TrackRouteRequest)

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


def truncated_paths(request: TrackRequest) -> list[str]:
    """The property paths cut to the bounds while parsing this request (models/bounds.py); empty for most."""
    properties = getattr(request.payload, "properties", None)
    if isinstance(properties, TrackProperties):
        properties = properties.model_extra
    return bounds.truncated_paths(properties)
