"""The REQUEST authorizer in-process, on the committed authorizer event, with a fake client lookup."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from beacon.domain.ports import ClientLookup
from beacon.errors import DependencyUnavailableError
from local.gateway import policy_allows
from tests.constants import CLIENT_ID
from tests.unit.support.fakes import FakeClientLookup, UnavailableClientLookup, client_record
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function

# The credentials in events/authorizer.json.
SECRET = "sec_example-not-a-real-secret"


@pytest.fixture(scope="module")
def authorizer_app() -> ModuleType:
    return load_function(
        "authorizer",
        {"CLIENT_SECRET_PREFIX": "beacon/unit/clients/", "CLIENT_ID_KEY_SECRET": "beacon/unit/client-id-key"},
    )


@pytest.fixture
def use_clients(authorizer_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(clients: ClientLookup) -> None:
        monkeypatch.setattr(authorizer_app, "client_store", lambda: clients)

    return install


def authorize(authorizer_app: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = authorizer_app.lambda_handler(event, FakeLambdaContext())
    return policy


def set_header(event: dict[str, Any], name: str, value: str | None) -> dict[str, Any]:
    """Change (or remove, with None) a header in both header maps, as API Gateway would send it."""
    for key in [k for k in event["headers"] if k.lower() == name.lower()]:
        del event["headers"][key]
        event["multiValueHeaders"].pop(key, None)
    if value is not None:
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def test_valid_credentials_get_an_allow_policy_with_the_callers_context(
    authorizer_app: ModuleType, use_clients: Any
) -> None:
    # Given the event's client stored for project-a
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="project-a")))
    event = load_event("authorizer")

    # When the authorizer handles the event
    policy = authorize(authorizer_app, event)

    # Then the client is the principal, the request is allowed, and the track function learns who called
    assert policy["principalId"] == CLIENT_ID
    statements = policy["policyDocument"]["Statement"]
    assert {statement["Effect"] for statement in statements} == {"Allow"}
    assert policy_allows(policy["policyDocument"], event["methodArn"])
    assert policy["context"] == {
        "projectId": "project-a",
        "clientId": CLIENT_ID,
        "clientType": "write",
        "secretAuth": True,
        "allowedOrigin": "",  # the sample event has no Origin header
        "viaDistribution": False,  # the stack has no CloudFront distribution
    }


def test_policy_is_scoped_to_the_api_and_stage_of_the_request(authorizer_app: ModuleType, use_clients: Any) -> None:
    # Given valid credentials
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET)))
    event = load_event("authorizer")

    # When the authorizer handles the event
    policy = authorize(authorizer_app, event)

    # Then the (cached) policy covers this API's stage, and not another API or stage
    document = policy["policyDocument"]
    assert policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/track/device-id")
    assert not policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:other/v1/POST/track")
    assert not policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:abc123/v2/POST/track")


def test_header_names_are_matched_case_insensitively(authorizer_app: ModuleType, use_clients: Any) -> None:
    # Given the credentials sent with capitalised header names
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET)))
    event = load_event("authorizer")
    set_header(event, "openpanel-client-id", None)
    set_header(event, "openpanel-client-secret", None)
    set_header(event, "Openpanel-Client-Id", CLIENT_ID)
    set_header(event, "OpenPanel-Client-Secret", SECRET)

    # When the authorizer handles the event
    policy = authorize(authorizer_app, event)

    # Then the client is recognised
    assert policy["principalId"] == CLIENT_ID


@pytest.mark.parametrize("case", ["mixan-client-id", "Mixan-Client-Id"])
def test_the_legacy_mixan_headers_authenticate_like_the_openpanel_ones(
    authorizer_app: ModuleType, use_clients: Any, case: str
) -> None:
    # Given the credentials sent as OpenPanel's SDKs sent them before the rename (mixan-client-id/-secret)
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="project-a")))
    event = load_event("authorizer")
    set_header(event, "openpanel-client-id", None)
    set_header(event, "openpanel-client-secret", None)
    set_header(event, case, CLIENT_ID)
    set_header(event, case.replace("Id", "Secret").replace("-id", "-secret"), SECRET)

    # When the authorizer handles the event
    policy = authorize(authorizer_app, event)

    # Then the client is recognised, with its secret, exactly as with the openpanel- headers
    assert policy["principalId"] == CLIENT_ID
    assert policy_allows(policy["policyDocument"], event["methodArn"])
    assert policy["context"]["secretAuth"] is True and policy["context"]["projectId"] == "project-a"


def test_a_wrong_legacy_secret_is_refused_like_any_other(authorizer_app: ModuleType, use_clients: Any) -> None:
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET)))
    event = set_header(load_event("authorizer"), "openpanel-client-secret", None)
    set_header(event, "mixan-client-secret", "sec_wrong")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_app, event)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("openpanel-client-secret", "sec_wrong", id="wrong secret"),
        pytest.param("openpanel-client-secret", SECRET + "\n", id="secret with trailing newline"),
        pytest.param("openpanel-client-secret", None, id="missing secret"),
        pytest.param("openpanel-client-id", None, id="missing client id"),
        pytest.param("openpanel-client-id", "../other", id="malformed client id"),
        pytest.param("openpanel-client-id", "0b8f7a4e-1f0e-4d7b-9b36-5a1f7c0f2d10", id="unknown client"),
    ],
)
def test_invalid_credentials_raise_exactly_unauthorized(
    authorizer_app: ModuleType, use_clients: Any, header: str, value: str | None
) -> None:
    # Given the event's client is stored, and the request's credentials are wrong in one way
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET)))
    event = set_header(load_event("authorizer"), header, value)

    # When the authorizer handles the event
    with pytest.raises(Exception, match=r"^Unauthorized$") as caught:
        authorize(authorizer_app, event)

    # Then it raises "Unauthorized", the exact message API Gateway turns into a 401
    assert str(caught.value) == "Unauthorized"
    assert type(caught.value) is Exception
    # And no detail of the failure leaks through the exception chain
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unavailable_client_store_fails_closed_with_an_error_that_is_not_unauthorized(
    authorizer_app: ModuleType, use_clients: Any
) -> None:
    # Given Secrets Manager cannot be reached
    use_clients(UnavailableClientLookup())

    # When the authorizer handles a request with well-formed credentials
    with pytest.raises(DependencyUnavailableError) as caught:
        authorize(authorizer_app, load_event("authorizer"))

    # Then it fails with an error other than "Unauthorized": API Gateway answers 503, never 401 or a pass
    assert str(caught.value) != "Unauthorized"


# -- EnableCloudFront: the distribution's origin-verify header ------------------------------------------------------
DISTRIBUTION_SECRET = "origin-verify-example-not-a-real-secret"


@pytest.fixture
def behind_distribution(authorizer_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack has a CloudFront distribution whose origin-verify secret is DISTRIBUTION_SECRET."""
    monkeypatch.setattr(authorizer_app, "distribution_secret", lambda: lambda: DISTRIBUTION_SECRET.encode())


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(DISTRIBUTION_SECRET + "x", id="wrong"),
        pytest.param(DISTRIBUTION_SECRET[:-1], id="prefix"),
        pytest.param(DISTRIBUTION_SECRET.upper(), id="other-case"),
    ],
)
def test_behind_the_distribution_a_request_without_its_header_is_denied_before_any_client_lookup(
    authorizer_app: ModuleType, use_clients: Any, behind_distribution: None, sent: str | None
) -> None:
    # Given a stack behind CloudFront, and valid credentials sent straight to the execute-api endpoint
    lookups = FakeClientLookup(client_record(CLIENT_ID, SECRET))
    use_clients(lookups)
    event = set_header(load_event("authorizer"), "X-Beacon-Origin-Verify", sent)

    # When the authorizer handles it
    policy = authorize(authorizer_app, event)

    # Then API Gateway denies it (403), and the client's record was never looked up
    assert not policy_allows(policy["policyDocument"], event["methodArn"])
    assert {statement["Effect"] for statement in policy["policyDocument"]["Statement"]} == {"Deny"}
    assert "context" not in policy and "usageIdentifierKey" not in policy
    assert lookups.lookups == []


def test_behind_the_distribution_its_header_lets_the_request_through_and_says_so_in_the_context(
    authorizer_app: ModuleType, use_clients: Any, behind_distribution: None
) -> None:
    # Given a request that came through the distribution (the header name in any case, as HTTP allows)
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET, project_id="project-a")))
    event = set_header(load_event("authorizer"), "x-beacon-origin-verify", DISTRIBUTION_SECRET)

    # When the authorizer handles it
    policy = authorize(authorizer_app, event)

    # Then it is allowed, and the functions learn it came through the distribution (and may read CloudFront's headers)
    assert policy_allows(policy["policyDocument"], event["methodArn"])
    assert policy["context"]["viaDistribution"] is True
    assert policy["context"]["projectId"] == "project-a"


def test_behind_the_distribution_bad_credentials_are_still_refused(
    authorizer_app: ModuleType, use_clients: Any, behind_distribution: None
) -> None:
    # Given the distribution's header but a wrong secret
    use_clients(FakeClientLookup(client_record(CLIENT_ID, SECRET)))
    event = set_header(load_event("authorizer"), "X-Beacon-Origin-Verify", DISTRIBUTION_SECRET)
    event = set_header(event, "openpanel-client-secret", "sec_wrong")

    # When the authorizer handles it, then it answers Unauthorized (401), as without a distribution
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_app, event)
