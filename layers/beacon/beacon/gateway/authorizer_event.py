"""The REST API's REQUEST authorizer and API Gateway: the event it reads and the IAM policy it answers with.

Plain Python on purpose: Powertools' data_classes module (which has the same helpers) would cost the
authorizer a large part of its cold start, mostly for the other event types it imports (docs/DESIGN.md §23).
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True)
class MethodArn:
    """arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{resource path}"""

    partition: str
    region: str
    account_id: str
    api_id: str
    stage: str
    http_method: str
    resource: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        parts = arn.split(":", 5)
        route = parts[5].split("/", 3) if len(parts) == 6 and parts[2] == "execute-api" else []
        if len(route) < 3:
            raise ValueError(f"not an API Gateway method ARN: {arn!r}")
        return cls(parts[1], parts[3], parts[4], route[0], route[1], route[2], route[3] if len(route) > 3 else "")

    def stage_arn(self, http_method: str = "*", resource: str = "*") -> str:
        """The ARN of a method of this request's API and stage (by default: every method and path)."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.stage}/{http_method}/{resource}"
        )


def request_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers by lower-cased name (HTTP names are case-insensitive); of duplicates, the last."""
    headers: Mapping[str, str] = event.get("headers") or {}
    return {name.lower(): value for name, value in headers.items()}


# OpenPanel's credential headers, then the ones its SDKs sent before the rename (OpenPanel still accepts both).
CLIENT_ID_HEADERS = ("openpanel-client-id", "mixan-client-id")
CLIENT_SECRET_HEADERS = ("openpanel-client-secret", "mixan-client-secret")


@dataclass(frozen=True)
class CredentialHeaders:
    client_id: str | None
    client_secret: str | None


def credential_headers(headers: Mapping[str, str]) -> CredentialHeaders:
    """The client id and secret a request sends (`headers` by lower-cased name): each from its `openpanel-` header
    when that is present, even empty (a wrong value is never quietly replaced by another), else from its legacy
    `mixan-` header."""

    def first_present(names: tuple[str, ...]) -> str | None:
        return next((headers[name] for name in names if name in headers), None)

    return CredentialHeaders(first_present(CLIENT_ID_HEADERS), first_present(CLIENT_SECRET_HEADERS))


def sends_credential_headers(headers: Mapping[str, str]) -> bool:
    """Whether the request (`headers` by lower-cased name) names a client id or secret in any header form, even
    empty: such a request is authenticated from its headers, never from its body."""
    return any(name in headers for name in (*CLIENT_ID_HEADERS, *CLIENT_SECRET_HEADERS))


# The one method that may carry its credentials in the body (OpenPanel's POST /track, as Zaraz calls it), as API
# Gateway names it in a method ARN: with and without the trailing slash it routes to the same resource.
BODY_CREDENTIAL_METHODS = (("POST", "track"), ("POST", "track/"))


def accepts_body_credentials(method_arn: MethodArn) -> bool:
    return (method_arn.http_method, method_arn.resource) in BODY_CREDENTIAL_METHODS


def allow_all_policy(
    principal_id: str,
    method_arn: MethodArn,
    usage_identifier_key: str | None = None,
    context: Mapping[str, str | bool] | None = None,
) -> dict[str, Any]:
    """The authorizer's answer allowing every method of the request's API stage (API Gateway caches it per client).

    `usage_identifier_key` is the API key of the usage plan that rate-limits the caller (ApiKeySourceType
    AUTHORIZER); `context` reaches the integration as requestContext.authorizer. Empty ones are left out.
    """
    return _allow_policy(principal_id, [method_arn.stage_arn()], usage_identifier_key, context)


def allow_body_credentials_policy(
    principal_id: str, method_arn: MethodArn, usage_identifier_key: str, context: Mapping[str, str | bool]
) -> dict[str, Any]:
    """The answer allowing only the methods of BODY_CREDENTIAL_METHODS of the request's API stage, not the stage:
    whatever a cache did with it, it opens no other route to a request that proved nothing yet."""
    resources = [method_arn.stage_arn(method, resource) for method, resource in BODY_CREDENTIAL_METHODS]
    return _allow_policy(principal_id, resources, usage_identifier_key, context)


def _allow_policy(
    principal_id: str,
    resources: list[str],
    usage_identifier_key: str | None,
    context: Mapping[str, str | bool] | None,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": POLICY_VERSION,
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}],
        },
    }
    if usage_identifier_key:
        response["usageIdentifierKey"] = usage_identifier_key
    if context:
        response["context"] = dict(context)
    return response


def deny_policy(principal_id: str, method_arn: MethodArn) -> dict[str, Any]:
    """The authorizer's answer refusing the request (API Gateway's ACCESS_DENIED response, 403)."""
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": POLICY_VERSION,
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [method_arn.stage_arn()]}],
        },
    }
