"""The authorizer's exchange with API Gateway: reading the REQUEST event and building the IAM policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from beacon.gateway.authorizer_event import (
    CredentialHeaders,
    MethodArn,
    allow_all_policy,
    credential_headers,
    request_headers,
)
from local.gateway import policy_allows
from tests.constants import METHOD_ARN
from tests.unit.support.handlers import load_event

CONTEXT: dict[str, str | bool] = {"projectId": "project-a", "clientId": "c", "secretAuth": True}


def test_method_arn_is_parsed_into_its_parts() -> None:
    # Given / When a REST API method ARN with a nested resource path is parsed
    arn = MethodArn.parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/track/device-id")

    # Then every part is read
    assert arn == MethodArn("aws", "eu-west-1", "123456789012", "abc123", "v1", "GET", "track/device-id")


def test_method_arn_agrees_with_powertools_parser() -> None:
    # Given the committed authorizer event
    event = load_event("authorizer")

    # When both parsers read its method ARN
    ours = MethodArn.parse(event["methodArn"])
    theirs = APIGatewayAuthorizerRequestEvent(event).parsed_arn

    # Then they agree on what the policy is built from
    assert (ours.region, ours.account_id, ours.api_id, ours.stage, ours.http_method, ours.resource) == (
        theirs.region,
        theirs.aws_account_id,
        theirs.api_id,
        theirs.stage,
        theirs.http_method,
        theirs.resource,
    )


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "abc123/v1/POST/track",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/v1",
        "arn:aws:lambda:us-east-1:123456789012:function/v1/POST",
    ],
)
def test_anything_but_a_method_arn_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="method ARN"):
        MethodArn.parse(arn)


def test_headers_are_read_by_lower_cased_name_and_the_last_duplicate_wins() -> None:
    # Given headers sent under differently cased names, one of them twice
    event: dict[str, Any] = {
        "headers": {"OpenPanel-Client-Id": "first", "openpanel-client-id": "second", "Origin": "o"}
    }

    # When they are read
    headers = request_headers(event)

    # Then names are lower-cased, as Powertools' case-insensitive view reads them
    assert headers == {"openpanel-client-id": "second", "origin": "o"}
    view = APIGatewayAuthorizerRequestEvent(event).headers
    assert all(view.get(name) == value for name, value in headers.items())


def test_an_event_without_headers_has_none() -> None:
    assert request_headers({"headers": None}) == {}


def test_policy_allows_every_method_of_the_requests_api_stage_only() -> None:
    # Given / When a policy is built for a request to one API stage
    policy = allow_all_policy("client-1", MethodArn.parse(METHOD_ARN))

    # Then it allows any method and path of that stage, and nothing else
    document = policy["policyDocument"]
    assert document["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*"],
        }
    ]
    assert policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/track/device-id")
    assert not policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:abc123/v2/POST/track")
    assert not policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:other/v1/POST/track")


@pytest.mark.parametrize(
    ("usage_identifier_key", "context"),
    [("api-key-value", CONTEXT), (None, CONTEXT), ("api-key-value", None), ("", {}), (None, None)],
)
def test_policy_is_the_one_powertools_builds(usage_identifier_key: str | None, context: dict[str, Any] | None) -> None:
    # Given Powertools' builder, as the authorizer used it before
    arn = APIGatewayAuthorizerRequestEvent({"methodArn": METHOD_ARN}).parsed_arn
    theirs = APIGatewayAuthorizerResponse(
        principal_id="client-1",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
    )
    theirs.usage_identifier_key = usage_identifier_key
    theirs.context = context
    theirs.allow_all_routes()

    # When ours builds the same answer
    ours = allow_all_policy("client-1", MethodArn.parse(METHOD_ARN), usage_identifier_key, context)

    # Then they are equal, empty key and context left out alike
    assert ours == theirs.asdict()


def test_policy_keeps_the_partition_of_the_request() -> None:
    # Given a request in another partition
    arn = MethodArn.parse("arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/POST/track")

    # When its policy is built / Then the policy's resource is in that partition, so it can match the request
    resource = allow_all_policy("client-1", arn)["policyDocument"]["Statement"][0]["Resource"]
    assert resource == ["arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/*/*"]


# -- credential headers: OpenPanel's, then the legacy mixan- ones ------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"openpanel-client-id": "new-id", "openpanel-client-secret": "new-secret"},
            CredentialHeaders("new-id", "new-secret"),
            id="openpanel",
        ),
        pytest.param(
            {"mixan-client-id": "old-id", "mixan-client-secret": "old-secret"},
            CredentialHeaders("old-id", "old-secret"),
            id="legacy-mixan",
        ),
        pytest.param({"mixan-client-id": "old-id"}, CredentialHeaders("old-id", None), id="legacy-id-alone"),
        pytest.param(
            {
                "openpanel-client-id": "new-id",
                "openpanel-client-secret": "new-secret",
                "mixan-client-id": "old-id",
                "mixan-client-secret": "old-secret",
            },
            CredentialHeaders("new-id", "new-secret"),
            id="openpanel-wins-over-mixan",
        ),
        pytest.param(
            {"openpanel-client-id": "new-id", "mixan-client-secret": "old-secret"},
            CredentialHeaders("new-id", "old-secret"),
            id="each-credential-on-its-own",
        ),
        pytest.param(
            {"openpanel-client-id": "", "mixan-client-id": "old-id"},
            CredentialHeaders("", None),
            id="an-empty-openpanel-header-is-not-replaced",
        ),
        pytest.param({}, CredentialHeaders(None, None), id="none"),
    ],
)
def test_credentials_come_from_the_openpanel_headers_else_the_legacy_mixan_ones(
    headers: dict[str, str], expected: CredentialHeaders
) -> None:
    assert credential_headers(headers) == expected
