"""The local gateway's evaluation of authorizer policies, as API Gateway applies them."""

from __future__ import annotations

from typing import Any

import pytest

from local.gateway import policy_allows
from tests.constants import METHOD_ARN


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def statement(effect: str, resource: str | list[str]) -> dict[str, Any]:
    return {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}


def test_allow_on_the_exact_method_arn_allows() -> None:
    # Given a policy allowing exactly this method
    document = policy(statement("Allow", METHOD_ARN))

    # When the request is evaluated / Then it is allowed
    assert policy_allows(document, METHOD_ARN) is True


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/POST/*",
        "*",
    ],
)
def test_allow_on_a_wildcard_arn_covering_the_method_allows(resource: str) -> None:
    # Given a policy allowing a wildcard that covers the method
    document = policy(statement("Allow", resource))

    # When the request is evaluated / Then it is allowed
    assert policy_allows(document, METHOD_ARN) is True


def test_explicit_deny_wins_over_allow() -> None:
    # Given a policy that allows everything but denies this method, in either order
    allow_all = statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*")
    deny_track = statement("Deny", METHOD_ARN)

    # When the request is evaluated / Then the Deny wins
    assert policy_allows(policy(allow_all, deny_track), METHOD_ARN) is False
    assert policy_allows(policy(deny_track, allow_all), METHOD_ARN) is False


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param("arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/track", id="other method"),
        pytest.param("arn:aws:execute-api:us-east-1:123456789012:abc123/v2/*/*", id="other stage"),
        pytest.param("arn:aws:execute-api:us-east-1:123456789012:other/v1/*/*", id="other api"),
        pytest.param("arn:aws:execute-api:us-east-1:999999999999:abc123/v1/*/*", id="other account"),
        pytest.param("arn:aws:execute-api:us-east-1:123456789012:abc123/v1/POST/track/extra", id="longer path"),
    ],
)
def test_no_statement_matching_the_method_denies(resource: str) -> None:
    # Given a policy whose only Allow is for something else
    document = policy(statement("Allow", resource))

    # When the request is evaluated / Then it is not allowed
    assert policy_allows(document, METHOD_ARN) is False


def test_deny_on_another_resource_does_not_block_an_allowed_method() -> None:
    # Given a policy that allows this method and denies another one
    document = policy(
        statement("Allow", METHOD_ARN),
        statement("Deny", "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/*"),
    )

    # When the request is evaluated / Then it is allowed
    assert policy_allows(document, METHOD_ARN) is True


def test_empty_policy_denies() -> None:
    # Given a policy without statements
    # When the request is evaluated / Then it is not allowed
    assert policy_allows({"Version": "2012-10-17", "Statement": []}, METHOD_ARN) is False
    assert policy_allows({}, METHOD_ARN) is False


def test_a_single_statement_and_a_list_of_resources_are_understood() -> None:
    # Given IAM's shorthand forms: Statement as one object, Resource as a list
    document = {"Version": "2012-10-17", "Statement": statement("Allow", ["arn:other", METHOD_ARN])}

    # When the request is evaluated / Then it is allowed
    assert policy_allows(document, METHOD_ARN) is True
