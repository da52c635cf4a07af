"""The authorizer's decision with BodyCredentials (docs/DESIGN.md §50): a POST /track with no credential header in any
form is let through to that one method, unauthenticated, under the shared API key; everything else as before."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from local.gateway import policy_allows
from tests.constants import CLIENT_ID
from tests.unit.auth.test_handler import SECRET, authorize, set_header
from tests.unit.support.fakes import FakeClientLookup, client_record
from tests.unit.support.handlers import load_event, load_function

SHARED_KEY = "beacon-body-credentials-00000000-0000-4000-8000-000000000000"
ENV = {"CLIENT_SECRET_PREFIX": "beacon/unit/clients/", "CLIENT_ID_KEY_SECRET": "beacon/unit/client-id-key"}
STAGE = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1"
CREDENTIAL_HEADERS = ("openpanel-client-id", "openpanel-client-secret", "mixan-client-id", "mixan-client-secret")


@pytest.fixture(scope="module")
def body_authorizer() -> ModuleType:
    return load_function("authorizer", {**ENV, "BODY_CREDENTIALS_API_KEY": SHARED_KEY})


@pytest.fixture(scope="module")
def plain_authorizer() -> ModuleType:
    return load_function("authorizer", ENV)


@pytest.fixture
def clients(body_authorizer: ModuleType, plain_authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    lookup = FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="project-a"))
    for app in (body_authorizer, plain_authorizer):
        monkeypatch.setattr(app, "client_store", lambda: lookup)
    return lookup


def without_credential_headers(method: str = "POST", resource: str = "track") -> dict[str, Any]:
    event = load_event("authorizer")
    for name in CREDENTIAL_HEADERS:
        set_header(event, name, None)
    event["methodArn"] = f"{STAGE}/{method}/{resource}"
    event["httpMethod"] = method
    event["path"] = event["resource"] = f"/{resource}"
    return event


@pytest.mark.parametrize("resource", ["track", "track/"])
def test_a_post_track_without_any_credential_header_is_let_through_to_that_method_only(
    body_authorizer: ModuleType, clients: FakeClientLookup, resource: str
) -> None:
    # Given BodyCredentials on, and a POST /track (or /track/) that sends no credential header
    event = without_credential_headers(resource=resource)

    # When the authorizer handles it
    policy = authorize(body_authorizer, event)

    # Then it is allowed, unauthenticated, under the shared key, with no client looked up
    assert policy["principalId"] == "body-credentials"
    assert policy["usageIdentifierKey"] == SHARED_KEY
    assert policy["context"] == {"unauthenticated": True, "viaDistribution": False}
    assert clients.lookups == []
    document = policy["policyDocument"]
    assert policy_allows(document, event["methodArn"])
    # And the policy names POST /track and nothing else of the stage (never the stage's wildcard)
    assert document["Statement"][0]["Resource"] == [f"{STAGE}/POST/track", f"{STAGE}/POST/track/"]
    for other in ("POST/track/batch", "GET/track/device-id", "GET/export/events", "GET/profile/1"):
        assert not policy_allows(document, f"{STAGE}/{other}"), other


@pytest.mark.parametrize(
    ("method", "resource"), [("POST", "track/batch"), ("GET", "track/device-id"), ("GET", "export/events")]
)
def test_any_other_route_without_credential_headers_is_a_401_as_before(
    body_authorizer: ModuleType, clients: FakeClientLookup, method: str, resource: str
) -> None:
    # Given BodyCredentials on, and another route without credentials
    event = without_credential_headers(method, resource)
    # When the authorizer handles it, then it is refused as API Gateway's 401
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(body_authorizer, event)


@pytest.mark.parametrize("header", CREDENTIAL_HEADERS)
def test_a_credential_header_in_any_form_even_empty_means_the_headers_are_checked(
    body_authorizer: ModuleType, clients: FakeClientLookup, header: str
) -> None:
    # Given a POST /track that sends one credential header, empty (a broken integration, not a body client)
    event = set_header(without_credential_headers(), header, "")
    # When the authorizer handles it, then the headers are checked, and fail: never the body's turn
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(body_authorizer, event)


def test_header_credentials_still_get_the_callers_policy_with_body_credentials_on(
    body_authorizer: ModuleType, clients: FakeClientLookup
) -> None:
    # Given BodyCredentials on and a request with valid header credentials
    event = load_event("authorizer")
    # When the authorizer handles it
    policy = authorize(body_authorizer, event)
    # Then it is the client's own answer: its principal, its own key (no shared key), its context
    assert policy["principalId"] == CLIENT_ID
    assert "usageIdentifierKey" not in policy  # the record has no API key of its own
    assert policy["context"]["projectId"] == "project-a"
    assert "unauthenticated" not in policy["context"]


def test_with_body_credentials_off_a_post_track_without_headers_is_a_401_as_today(
    plain_authorizer: ModuleType, clients: FakeClientLookup
) -> None:
    # Given the default stack (BodyCredentials off) and a POST /track without credential headers
    event = without_credential_headers()
    # When the authorizer handles it, then it is refused
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(plain_authorizer, event)


def test_behind_the_distribution_the_unauthenticated_context_says_it_came_through_it(
    body_authorizer: ModuleType, clients: FakeClientLookup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack with a distribution, and a body-credential request that came through it
    monkeypatch.setattr(body_authorizer, "distribution_secret", lambda: lambda: b"origin-verify-unit")
    event = set_header(without_credential_headers(), "X-Beacon-Origin-Verify", "origin-verify-unit")
    # When the authorizer handles it, then the context carries the flag for the track function's caller
    assert authorize(body_authorizer, event)["context"] == {"unauthenticated": True, "viaDistribution": True}
    # And one that went around the distribution is denied before anything else
    around = without_credential_headers()
    assert not policy_allows(authorize(body_authorizer, around)["policyDocument"], around["methodArn"])
