"""Schemathesis sends what docs/openapi.json describes, valid and not, through the local gateway (authorizer included).

Whatever the request: the answer is never a 5xx; it has a status, content type and JSON body the document gives
for the operation; a 4xx body is `{"error": str, "status": <the HTTP status>}` (plus the documented `details`);
and a request the API rejected stored no event. The track routes are called by a write client, the privacy routes
(erasure and export) by a root client, the read routes by a read client, each test with a project of its own.

`make test` runs a short, derandomized form: every operation's coverage cases (only the valid ones for
POST /track, whose union of seven request types has hundreds of invalid ones) and a bounded number of fuzzed
ones. HYPOTHESIS_PROFILE=beacon-soak (as `make soak` sets it) runs every coverage case and many more fuzzed ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.constants import ROOT

pytestmark = pytest.mark.e2e

DOCUMENT = ROOT / "docs" / "openapi.json"
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "beacon-soak"
FUZZED_EXAMPLES = 600 if SOAK else 30  # per operation, after its coverage cases

# The schemathesis configuration is this, not a schemathesis.toml it might find.
CI_LIMITS: list[dict[str, Any]] = [
    {
        "include-path": "/track",
        "include-method": "POST",
        "phases": {"coverage": {"generation": {"mode": "positive"}}},
    }
]
schema = schemathesis.openapi.from_path(
    DOCUMENT, config=schemathesis.Config.from_dict({"operations": [] if SOAK else CI_LIMITS})
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ERROR_FIELDS = {"error", "status", "details"}
# Root clients only (functions/privacy): called by one, so that the fuzzed requests reach the erasure and export.
PRIVACY_OPERATIONS = {("DELETE", "/profile/{profileId}"), ("GET", "/erasures/{erasureId}")}
PRIVACY_OPERATIONS |= {("GET", "/profile/{profileId}/export")}


def credentials(client: dict[str, str]) -> dict[str, str]:
    return {"openpanel-client-id": client["clientId"], "openpanel-client-secret": client["clientSecret"]}


@dataclass
class ProjectUnderTest:
    """One test's project: its clients, created once, and its stored events as last read."""

    project_id: str
    create_client: Callable[..., dict[str, str]]
    read_events: Callable[..., list[dict[str, Any]]]
    clients: dict[str, dict[str, str]] = field(default_factory=dict)
    known_events: list[dict[str, Any]] | None = None

    def client(self, client_type: str) -> dict[str, str]:
        if client_type not in self.clients:
            self.clients[client_type] = self.create_client(self.project_id, client_type)
        return self.clients[client_type]

    def stored(self) -> list[dict[str, Any]]:
        return self.read_events(self.project_id, with_session_starts=True)

    def events_before_a_call(self) -> list[dict[str, Any]]:
        # Re-read only when the previous call may have stored something: each read is one query per shard.
        if self.known_events is None:
            self.known_events = self.stored()
        return self.known_events


@pytest.fixture
def project(
    project_id: str,
    create_client: Callable[..., dict[str, str]],
    stored_events: Callable[..., list[dict[str, Any]]],
) -> ProjectUnderTest:
    # Function-scoped: one per operation; hypothesis runs the test body many times under it.
    return ProjectUnderTest(project_id, create_client, stored_events)


@pytest.fixture
def session(gateway_url: str) -> Iterator[requests.Session]:
    assert gateway_url.startswith("http://127.0.0.1:")  # the local gateway, never anything else
    with requests.Session() as http:
        http.trust_env = False  # no proxy from the environment
        yield http


def assert_error_shape(response: schemathesis.Response) -> None:
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert type(body.get("status")) is int and body["status"] == response.status_code, body
    assert set(body) <= ERROR_FIELDS, body


@schema.parametrize()
@settings(
    max_examples=FUZZED_EXAMPLES,
    deadline=None,
    derandomize=not SOAK,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_answer_is_documented_json_and_a_rejected_request_stores_nothing(
    case: schemathesis.Case[Any], gateway_url: str, project: ProjectUnderTest, session: requests.Session
) -> None:
    # Given the project's write client for the track routes, its root client for the privacy ones, its read client
    # for the others
    writes = case.operation.path.startswith("/track")
    privacy = (case.method.upper(), case.operation.path) in PRIVACY_OPERATIONS
    client = project.client("write" if writes else "root" if privacy else "read")
    before = project.events_before_a_call() if writes else None
    # When the generated request is sent (a case that tests a missing credential drops that header)
    response = case.call(base_url=gateway_url, session=session, headers=credentials(client), timeout=30)
    # Then it is no server error; a 4xx is the API's JSON error and stored nothing
    assert response.status_code < 500, f"{response.text}\n{case.as_curl_command(headers=credentials(client))}"
    if 400 <= response.status_code < 500:
        assert_error_shape(response)
        if writes:
            assert project.stored() == before, f"a rejected request stored events: {response.text}"
    else:
        project.known_events = None
    # And status, content type and body are the ones the document gives for the operation
    case.validate_response(response, checks=CHECKS)
