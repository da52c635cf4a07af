"""The API's OpenAPI 3.1 document, generated from the pydantic models (the wire contract's single source).

`python -m admin.openapi docs/openapi.json` (`make openapi`) rewrites the committed document; a test fails when it
is stale or when its operations differ from template.yaml's routes.

Why not Powertools' generator: it describes the routes of one resolver (one function), it flattens a
query model into parameters without their bounds or formats (`limit` would lose 1-1000), and it adds a
422 response the API never sends. OpenAPI 3.1 schemas are JSON Schema, which pydantic writes directly.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from beacon.models.insights import (
    FunnelQuery,
    FunnelResponse,
    LiveQuery,
    LiveResponse,
    OverviewQuery,
    OverviewResponse,
    RetentionQuery,
    RetentionResponse,
    TopQuery,
    TopResponse,
)
from beacon.models.privacy import (
    EraseProfileQuery,
    ErasurePath,
    ErasureQuery,
    ErasureResponse,
    ExportProfileQuery,
    ExportResponse,
)
from beacon.models.reads import (
    EntityQuery,
    EventsPageResponse,
    ExportEventsQuery,
    ExportSessionsQuery,
    GroupPath,
    GroupResponse,
    ProfileEventsQuery,
    ProfilePath,
    ProfileResponse,
    ReplayQuery,
    ReplayResponse,
    SessionPath,
    SessionResponse,
    SessionsPageResponse,
)
from beacon.models.requests import BatchRequest, TrackRouteRequest
from beacon.models.responses import BatchResponse, BotResponse, ErrorResponse, HealthcheckResponse, TrackResponse

TITLE = "Beacon"
VERSION = "1"
WRITE_SECURITY: list[dict[str, list[str]]] = [{"clientId": [], "clientSecret": []}, {"clientId": []}]
READ_SECURITY: list[dict[str, list[str]]] = [{"clientId": [], "clientSecret": []}]
ERRORS = {
    400: "Invalid request (`details` lists the fields)",
    401: "Invalid client credentials (or a secret is required)",
    403: "Not allowed for this client",
    404: "Not found",
    409: "Conflicts with stored data (an alias that already names another profile, or a profile with aliases)",
    413: "Request body too large",
    429: "Rate limited (see Retry-After)",
    503: "A dependency is unavailable; retry later (see Retry-After)",
}


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


# The track function refuses any other length with 400 (functions/track/app.py, MAX_IDEMPOTENCY_KEY_LENGTH).
IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 128}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    tag: str
    summary: str
    description: str
    responses: dict[int, tuple[str, Any]]  # status → (description, model or type; None: error shape)
    security: list[dict[str, list[str]]] = field(default_factory=lambda: READ_SECURITY)
    body: Any = None
    query: type[BaseModel] | None = None
    path_model: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()
    content_type: str = "application/json"  # of the answers below 400 (errors are always the JSON error shape)


@dataclass(frozen=True)
class Media:
    """A response that is not JSON: the dashboard's files (text, by media type)."""

    types: tuple[str, ...]


class DashboardAssetPath(BaseModel):
    asset: str = Field(description="A file's content-hashed name, as the page references it (`app.<hash>.js`).")


def errors(*statuses: int) -> dict[int, tuple[str, Any]]:
    return {status: (ERRORS[status], None) for status in statuses}


OPERATIONS = [
    Operation(
        "post",
        "/track",
        "track",
        "Track an event or update a profile or group",
        "OpenPanel's tracking endpoint: `track`, `identify`, `alias`, `increment`, `decrement`, `group`, "
        "`assign_group`, and the web SDK's session-replay chunks (`replay`, filed under the device's active session; "
        "a replay body may be up to 3 MiB, every other body 64 KiB). Without a secret, a request is accepted only "
        "from one of the client's allowed origins. On a stack deployed with `BodyCredentials=true`, a request with "
        "no credential header may send `clientId` / `clientSecret` as top-level fields of its body instead "
        "(docs/API.md, Authentication).",
        {
            200: ("Stored; the ids the API assigned", TrackResponse),
            202: ("A likely bot, on a request without a secret: nothing stored", BotResponse),
            **errors(400, 401, 409, 413, 429, 503),
        },
        security=WRITE_SECURITY,
        body=TrackRouteRequest,
        headers=(
            Header(
                "Idempotency-Key",
                "The whole request is stored once per key and project within 7 days.",
                IDEMPOTENCY_KEY_SCHEMA,
            ),
            Header("openpanel-sent-at", "The client's send time; corrects the event time for the client's clock skew."),
        ),
    ),
    Operation(
        "post",
        "/track/batch",
        "track",
        "Track up to 1,000 events at once",
        "Each item of `batch` is a body `POST /track` accepts, validated on its own: valid items are stored "
        "even when others are rejected.",
        {
            200: ("Accepted and rejected items, by index", BatchResponse),
            **errors(400, 401, 413, 429),
            503: (
                "A dependency is unavailable. When some items could not be stored, `notStored` names them by index "
                "(the others were): send the same batch again after `Retry-After`; stored items are not stored twice.",
                ErrorResponse,
            ),
        },
        security=WRITE_SECURITY,
        body=BatchRequest,
        headers=(
            Header(
                "Idempotency-Key",
                "Each item is stored once per key, index and project within 7 days (default key: the body's hash).",
                IDEMPOTENCY_KEY_SCHEMA,
            ),
        ),
    ),
    Operation(
        "get",
        "/track/device-id",
        "track",
        "The device and session id the API would assign to this caller now",
        "",
        {200: ("The caller's ids", TrackResponse), **errors(401, 429, 503)},
        security=WRITE_SECURITY,
    ),
    Operation(
        "get",
        "/healthcheck",
        "health",
        "Whether the API is up, for uptime monitors",
        "No credentials and no API key. A shallow check: the track function answers without calling any "
        "dependency, so a 200 says nothing of DynamoDB or Secrets Manager. More fields may be added later.",
        {200: ("The API is up", HealthcheckResponse), **errors(429)},
        security=[],
    ),
    Operation(
        "get",
        "/openapi.json",
        "health",
        "This document",
        "No credentials and no API key: the API's OpenAPI 3.1 description, as committed in docs/openapi.json.",
        {200: ("The OpenAPI document", {"type": "object"}), **errors(429)},
        security=[],
    ),
    Operation(
        "get",
        "/docs",
        "health",
        "A human-readable list of the operations",
        "No credentials and no API key: an HTML page made from this document, linking to it.",
        {200: ("An HTML page", {"type": "string"}), **errors(429)},
        security=[],
        content_type="text/html",
    ),
    Operation(
        "get",
        "/export/events",
        "read",
        "A project's events, newest first, a page at a time",
        "Read and root clients with their secret only. The range is at most 31 days; page with `meta.next`.",
        {200: ("A page of events", EventsPageResponse), **errors(400, 401, 403, 429, 503)},
        query=ExportEventsQuery,
    ),
    Operation(
        "get",
        "/profile/{profileId}",
        "read",
        "A profile, resolved through its aliases",
        "Fields, properties, groups, aliases, and when the profile was first and last seen.",
        {200: ("The profile", ProfileResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=EntityQuery,
        path_model=ProfilePath,
    ),
    Operation(
        "get",
        "/profile/{profileId}/events",
        "read",
        "A profile's events, newest first, a page at a time",
        "As `GET /export/events?profileId=...`, from the profile index.",
        {200: ("A page of the profile's events", EventsPageResponse), **errors(400, 401, 403, 429, 503)},
        query=ProfileEventsQuery,
        path_model=ProfilePath,
    ),
    Operation(
        "get",
        "/group/{groupId}",
        "read",
        "A group",
        "",
        {200: ("The group", GroupResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=EntityQuery,
        path_model=GroupPath,
    ),
    Operation(
        "get",
        "/session/{sessionId}",
        "read",
        "An ended session's record",
        "Entry and exit page, source, counts, revenue, duration and bounce, device, geo. A live session is 404 "
        "until it ends (its record is written with its session_end).",
        {200: ("The session", SessionResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=EntityQuery,
        path_model=SessionPath,
    ),
    Operation(
        "get",
        "/session/{sessionId}/replay",
        "read",
        "A session's replay chunks, in order, a page at a time",
        "The web SDK's recording of the session (`sessionReplay: {enabled: true}`): chunks in (`startedAt`, "
        "`chunkIndex`) order with their payloads inline; page with `meta.next` as `after`. 404 when the project has "
        "no chunk of the session.",
        {200: ("A page of the session's chunks", ReplayResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=ReplayQuery,
        path_model=SessionPath,
    ),
    Operation(
        "get",
        "/export/sessions",
        "read",
        "A project's ended sessions, newest start first, a page at a time",
        "Read and root clients with their secret only. The range (of start times) is at most 31 days; page with "
        "`meta.next`.",
        {200: ("A page of sessions", SessionsPageResponse), **errors(400, 401, 403, 429, 503)},
        query=ExportSessionsQuery,
    ),
    Operation(
        "get",
        "/insights/overview",
        "read",
        "Visitors, sessions, screen views, bounce rate and session length, with a series",
        "From the lake (Athena in AWS, DuckDB locally; docs/LAKE.md). Default range: the last 7 days; 400 at most.",
        {200: ("The overview", OverviewResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=OverviewQuery,
    ),
    Operation(
        "get",
        "/insights/top",
        "read",
        "The most frequent values of a dimension, with their visitors",
        "From the lake. `dimension`: a page, a traffic source, a UTM parameter, a place, a device, an event name.",
        {200: ("The values, most frequent first", TopResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=TopQuery,
    ),
    Operation(
        "get",
        "/insights/funnel",
        "read",
        "Visitors who did the steps in order within a window",
        "From the lake. Each step after the one before it, all within `windowMinutes` of the first.",
        {200: ("Each step's visitors and conversion", FunnelResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=FunnelQuery,
    ),
    Operation(
        "get",
        "/insights/retention",
        "read",
        "Cohorts of first-seen visitors and the share returning each period",
        "From the lake. A visitor's cohort is the period of its first event in the lake's history.",
        {200: ("The cohorts", RetentionResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=RetentionQuery,
    ),
    Operation(
        "get",
        "/insights/live",
        "read",
        "Visitors active in the last 5 minutes",
        "From DynamoDB's sessions table, not the lake, so it is live: devices whose last event was received in the "
        "last 5 minutes.",
        {200: ("The live count", LiveResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=LiveQuery,
    ),
    Operation(
        "get",
        "/dashboard",
        "dashboard",
        "The dashboard: a static page over the insights (docs/DASHBOARD.md)",
        "No credentials and no API key: the page asks for a read client and calls the insights with it. `/dashboard` "
        "redirects to `/dashboard/` (the page's URLs are relative to it). HTML revalidated on every load (no-cache), "
        "strict Content-Security-Policy.",
        {
            200: ("The page", Media(("text/html",))),
            301: ("To `dashboard/`", Media(("text/plain",))),
            **errors(429),
        },
        security=[],
    ),
    Operation(
        "get",
        "/dashboard/{asset}",
        "dashboard",
        "One of the dashboard's scripts or style sheets",
        "Named by content hash, so cached for a year (`immutable`). Any other name is a 404.",
        {200: ("The file", Media(("text/javascript", "text/css"))), **errors(404, 429)},
        security=[],
        path_model=DashboardAssetPath,
    ),
    Operation(
        "delete",
        "/profile/{profileId}",
        "privacy",
        "Erase a person: the profile, its aliases, events, sessions, replays and refused events",
        "Root clients with their secret only (docs/PRIVACY.md). Answers 202 with the erasure's receipt at once; the "
        "erasure runs after it (`GET /erasures/{erasureId}`). The same profile asked again answers the same receipt "
        "and erases nothing more. With a lake, the receipt ends `waiting` until the operator's "
        "`./beacon profiles erase` rewrites the lake's files (`pending`).",
        {202: ("The erasure's receipt", ErasureResponse), **errors(400, 401, 403, 429, 503)},
        query=EraseProfileQuery,
        path_model=ProfilePath,
    ),
    Operation(
        "get",
        "/erasures/{erasureId}",
        "privacy",
        "An erasure's progress and receipt",
        "Root clients with their secret only. Items removed per store, the stores done, when it was asked for and "
        "finished. It names no person.",
        {200: ("The receipt", ErasureResponse), **errors(400, 401, 403, 404, 429, 503)},
        query=ErasureQuery,
        path_model=ErasurePath,
    ),
    Operation(
        "get",
        "/profile/{profileId}/export",
        "privacy",
        "Everything stored about a person, a page of events at a time",
        "Root clients with their secret only (GDPR article 15). The first page holds the profile, its aliases, "
        "groups and sessions, and the first events; page through the rest with `meta.next` as `cursor`.",
        {200: ("A page of the person's data", ExportResponse), **errors(400, 401, 403, 429, 503)},
        query=ExportProfileQuery,
        path_model=ProfilePath,
    ),
]


def build_openapi() -> dict[str, Any]:
    """The whole document, deterministic (the committed file is compared with it byte for byte)."""
    shapes: dict[str, Any] = {"ErrorResponse": ErrorResponse}
    for operation in OPERATIONS:
        if operation.body is not None:
            shapes[_name(operation.body)] = operation.body
        for _, model in operation.responses.values():
            if model is not None and not isinstance(model, (dict, Media)):  # a dict: a schema written out
                shapes[_name(model)] = model
    mode: JsonSchemaMode = "validation"
    inputs = [(name, mode, TypeAdapter(shape)) for name, shape in shapes.items()]
    refs, definitions = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    ref_of: dict[str, Any] = {}
    for name in shapes:
        schema = refs[(name, "validation")]
        if "$ref" not in schema:  # a union (TrackRequest): named here, so operations can refer to it
            schemas[name] = schema
            schema = {"$ref": f"#/components/schemas/{name}"}
        ref_of[name] = schema
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, ref_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "OpenPanel-compatible event tracking, and reading the data back (docs/READ_API.md).",
        },
        "servers": [
            {
                "url": "{apiUrl}",
                "variables": {"apiUrl": {"default": "http://127.0.0.1:3000", "description": "The stack's ApiUrl"}},
            }
        ],
        "tags": [
            {"name": "track", "description": "Sending data (write and root clients)"},
            {"name": "read", "description": "Reading data back (read and root clients, with their secret)"},
            {"name": "privacy", "description": "A person's erasure and export (root clients, with their secret)"},
            {"name": "health", "description": "Uptime checks (no credentials)"},
            {"name": "dashboard", "description": "The dashboard's static files (no credentials; docs/DASHBOARD.md)"},
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "clientId": {"type": "apiKey", "in": "header", "name": "openpanel-client-id"},
                "clientSecret": {"type": "apiKey", "in": "header", "name": "openpanel-client-secret"},
            },
        },
    }


def _operation(operation: Operation, ref_of: dict[str, Any]) -> dict[str, Any]:
    parameters = _parameters(operation.path_model, "path") + _parameters(operation.query, "query")
    parameters += [
        {
            "name": header.name,
            "in": "header",
            "required": False,
            "description": header.description,
            "schema": header.schema,
        }
        for header in operation.headers
    ]
    document: dict[str, Any] = {
        "tags": [operation.tag],
        "summary": operation.summary,
        "operationId": operation.method + "".join(part.strip("{}").title() for part in operation.path.split("/")),
        "security": operation.security,
    }
    if operation.description:
        document["description"] = operation.description
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref_of[_name(operation.body)]}},
        }
    document["responses"] = {
        str(status): {
            "description": description,
            "content": (
                {media: {"schema": {"type": "string"}} for media in model.types}
                if isinstance(model, Media)
                else {
                    (operation.content_type if status < 400 else "application/json"): {
                        "schema": model
                        if isinstance(model, dict)
                        else ref_of[_name(model if model is not None else ErrorResponse)]
                    }
                }
            ),
        }
        for status, (description, model) in sorted(operation.responses.items())
    }
    return document


def _parameters(model: type[BaseModel] | None, location: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = dict(field_schema)
        description = field_schema.pop("description", None)
        field_schema.pop("title", None)
        if field_schema.get("default", 0) is None:
            field_schema.pop("default")
        # An optional parameter is simply left out; `null` is not a value a query string can carry.
        branches = [branch for branch in field_schema.pop("anyOf", []) if branch != {"type": "null"}]
        if len(branches) == 1:
            field_schema.update(branches[0])
        parameter: dict[str, Any] = {"name": name, "in": location, "required": name in required or location == "path"}
        if description:
            parameter["description"] = description
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters


def _name(shape: Any) -> str:
    if shape is TrackRouteRequest:  # an annotated union has no __name__ of its own
        return "TrackRequest"
    if isinstance(shape, type):
        return shape.__name__
    raise TypeError(f"name the schema of {shape!r} in openapi._name")


def render() -> str:
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


# The copy the API serves at GET /openapi.json (beacon/gateway/api_docs.py): the layer ships beacon/ and nothing above.
LAYER_COPY = Path(__file__).resolve().parent.parent / "layers" / "beacon" / "beacon" / "data" / "openapi.json"


def main(argv: list[str]) -> None:
    """Write the document to each path given (`make openapi`: docs/openapi.json and the layer's copy), or print it."""
    for path in argv:
        Path(path).write_text(render())
    if not argv:
        sys.stdout.write(render())


if __name__ == "__main__":
    main(sys.argv[1:])
