"""The committed OpenAPI document: generated from the models, valid, and describing exactly template.yaml's API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from admin.openapi import LAYER_COPY, build_openapi, render
from local.template import read_template
from tests.constants import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


def test_the_committed_document_is_the_generated_one():
    # When the models change, the document is regenerated: python -m admin.openapi docs/openapi.json
    assert DOCUMENT.read_text() == render(), "docs/openapi.json is stale: regenerate it"


def test_the_copy_the_api_serves_is_the_committed_document():
    # The layer ships beacon/ only, so GET /openapi.json serves a copy that `make openapi` writes beside docs/
    assert LAYER_COPY.read_text() == DOCUMENT.read_text(), "the layer's openapi.json is stale: run make openapi"


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_the_document_has_exactly_the_templates_routes():
    # Given the methods template.yaml deploys (CORS preflights aside, which API Gateway answers itself)
    routes = {(route.method.lower(), route.path) for route in read_template().routes() if route.function is not None}
    # Then the document describes each of them, and nothing else
    documented = {(method, path) for path, operations in build_openapi()["paths"].items() for method in operations}
    assert documented == routes


def test_every_operation_answers_errors_in_the_apis_error_shape(document):
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = {int(status) for status in operation["responses"]}
            # GET /healthcheck, /openapi.json and /docs take no credentials and call no dependency: throttled only
            expected = {401, 429, 503} if operation["security"] else {429}
            assert expected <= statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == error, (method, path, status)


def test_read_operations_need_the_secret_and_describe_their_refusals(document):
    for path in ("/export/events", "/profile/{profileId}", "/profile/{profileId}/events", "/group/{groupId}"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"clientId": [], "clientSecret": []}], path
        assert {"400", "401", "403"} <= set(operation["responses"]), path


def test_query_parameters_carry_their_bounds(document):
    parameters = {p["name"]: p for p in document["paths"]["/export/events"]["get"]["parameters"]}
    assert set(parameters) == {"projectId", "start", "end", "event", "profileId", "cursor", "limit", "page"}
    assert parameters["limit"]["schema"] == {"default": 100, "maximum": 1000, "minimum": 1, "type": "integer"}
    assert parameters["page"]["schema"] == {"default": 1, "minimum": 1, "type": "integer"}
    assert parameters["event"]["schema"]["maxItems"] == 20 and parameters["event"]["schema"]["type"] == "array"
    assert parameters["start"]["schema"] == {"format": "date-time", "type": "string"}
    assert not any(parameter["required"] for parameter in parameters.values())


def test_the_track_body_is_the_discriminated_union_of_request_types(document):
    body = document["components"]["schemas"]["TrackRequest"]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == {
        "track",
        "identify",
        "alias",
        "increment",
        "decrement",
        "group",
        "assign_group",
        "replay",
    }


def test_only_the_healthcheck_the_apis_description_and_the_dashboards_static_files_take_no_credentials(document):
    open_operations = [
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not operation["security"]
    ]
    assert open_operations == [
        ("get", "/dashboard"),
        ("get", "/dashboard/{asset}"),
        ("get", "/docs"),
        ("get", "/healthcheck"),
        ("get", "/openapi.json"),
    ]
    assert list(document["paths"]["/docs"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    # The dashboard's open routes answer files, never data (the page reads the insights with a read client)
    for path in ("/dashboard", "/dashboard/{asset}"):
        success = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert "application/json" not in success and set(success) <= {"text/html", "text/javascript", "text/css"}
    schema = document["components"]["schemas"]["HealthcheckResponse"]
    assert {"ok", "ready", "version"} <= set(schema["properties"])
