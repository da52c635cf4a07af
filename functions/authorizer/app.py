"""REQUEST authorizer: credential headers (openpanel-client-*, or the legacy mixan-client-*) → domain.auth → IAM
policy and context for the track function. With BodyCredentials, a POST /track with no credential header at all is
let through to that one method, unauthenticated, under the shared API key: the track function authenticates the
credentials in its body (docs/DESIGN.md §50).

Invalid credentials raise "Unauthorized", which API Gateway turns into its UNAUTHORIZED gateway
response (401). A dependency failure raises anything else: AUTHORIZER_FAILURE (503), so the
gateway fails closed and never answers 401 for a client it merely could not check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.authorizer_config import AuthorizerSettings
from beacon.domain.auth import authenticate
from beacon.domain.distribution import ORIGIN_VERIFY_HEADER, came_through_distribution
from beacon.errors import InvalidCredentialsError
from beacon.gateway.authorizer_context import BODY_CREDENTIALS_PRINCIPAL, caller_to_context, unauthenticated_context
from beacon.gateway.authorizer_event import (
    MethodArn,
    accepts_body_credentials,
    allow_all_policy,
    allow_body_credentials_policy,
    credential_headers,
    deny_policy,
    request_headers,
    sends_credential_headers,
)
from beacon.observability import logger
from beacon.store.clients import IssuedClientLookup, issued_client_lookup
from beacon.store.device_salt import SecretsManagerStackSecret

settings = AuthorizerSettings.from_env()


@cache
def client_store() -> IssuedClientLookup:
    """Client records cached per container, behind the gate that refuses ids Beacon never issued before any call."""
    return issued_client_lookup(
        settings.client_secret_prefix, settings.client_cache_seconds, settings.client_id_key_secret
    )


@cache
def distribution_secret() -> SecretsManagerStackSecret | None:
    """The origin-verify secret of the stack's CloudFront distribution, read once per container; None without one."""
    return SecretsManagerStackSecret(settings.origin_verify_secret) if settings.origin_verify_secret else None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = request_headers(event)
    method_arn = MethodArn.parse(event["methodArn"])
    distribution = distribution_secret()
    if distribution is not None and not came_through_distribution(headers.get(ORIGIN_VERIFY_HEADER), distribution()):
        # Checked before the credentials: a request around the distribution costs no client lookup.
        logger.info("request did not come through the distribution")
        return deny_policy("not-via-distribution", method_arn)
    body_credentials = settings.body_credentials_api_key and accepts_body_credentials(method_arn)
    if body_credentials and not sends_credential_headers(headers):
        # No lookup here: the track function reads the body's credentials, with the same authenticate() and lookup.
        return allow_body_credentials_policy(
            BODY_CREDENTIALS_PRINCIPAL,
            method_arn,
            usage_identifier_key=settings.body_credentials_api_key,
            context=unauthenticated_context(via_distribution=distribution is not None),
        )
    credentials = credential_headers(headers)  # openpanel-client-*, else the legacy mixan-client-*
    try:
        authenticated = authenticate(
            credentials.client_id,
            credentials.client_secret,
            headers.get("origin"),
            client_store(),
            datetime.now(UTC),
        )
    except InvalidCredentialsError:
        logger.info("invalid client credentials")
        raise Exception("Unauthorized") from None  # the exact message API Gateway maps to 401
    caller = authenticated.through(via_distribution=distribution is not None)
    return allow_all_policy(
        caller.client_id,
        method_arn,
        # The usage plan that rate-limits this client is found through its API key (ApiKeySourceType AUTHORIZER).
        usage_identifier_key=authenticated.api_key or None,
        context=caller_to_context(caller),
    )
