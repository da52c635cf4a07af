"""REQUEST authorizer: credential headers (openpanel-client-*, or the legacy mixan-client-*) → domain.auth → IAM
policy and context for the track function.

Invalid credentials raise "Unauthorized", which API Gateway turns into its UNAUTHORIZED gateway
response (401). A dependency failure raises anything else: AUTHORIZER_FAILURE (503), so the
gateway fails closed and never answers 401 for a client it merely could not check.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.authorizer_config import AuthorizerSettings
from beacon.domain.auth import authenticate
from beacon.domain.distribution import ORIGIN_VERIFY_HEADER, came_through_distribution
from beacon.errors import InvalidCredentialsError
from beacon.gateway.authorizer_context import caller_to_context
from beacon.gateway.authorizer_event import (
    MethodArn,
    allow_all_policy,
    credential_headers,
    deny_policy,
    request_headers,
)
from beacon.observability import logger
from beacon.store.clients import IssuedClientLookup, SecretsManagerClientStore
from beacon.store.device_salt import SecretsManagerStackSecret

settings = AuthorizerSettings.from_env()


@cache
def client_store() -> IssuedClientLookup:
    """Client records cached per container, behind the gate that refuses ids Beacon never issued before any call."""
    records = SecretsManagerClientStore(settings.client_secret_prefix, settings.client_cache_seconds)
    return IssuedClientLookup(records, SecretsManagerStackSecret(settings.client_id_key_secret))


@cache
def distribution_secret() -> SecretsManagerStackSecret | None:
    """The origin-verify secret of the stack's CloudFront distribution, read once per container; None without one."""
    return SecretsManagerStackSecret(settings.origin_verify_secret) if settings.origin_verify_secret else None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = request_headers(event)
    distribution = distribution_secret()
    if distribution is not None and not came_through_distribution(headers.get(ORIGIN_VERIFY_HEADER), distribution()):
        # Checked before the credentials: a request around the distribution costs no client lookup.
        logger.info("request did not come through the distribution")
        return deny_policy("not-via-distribution", MethodArn.parse(event["methodArn"]))
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
    caller = authenticated.caller if distribution is None else replace(authenticated.caller, via_distribution=True)
    return allow_all_policy(
        caller.client_id,
        MethodArn.parse(event["methodArn"]),
        # The usage plan that rate-limits this client is found through its API key (ApiKeySourceType AUTHORIZER).
        usage_identifier_key=authenticated.api_key or None,
        context=caller_to_context(caller),
    )
