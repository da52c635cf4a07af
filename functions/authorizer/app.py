"""REQUEST authorizer: credentials headers → domain.auth → IAM policy and context for the track function.

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
from beacon.errors import InvalidCredentialsError
from beacon.gateway.authorizer_context import caller_to_context
from beacon.gateway.authorizer_event import MethodArn, allow_all_policy, request_headers
from beacon.observability import logger
from beacon.store.clients import IssuedClientLookup, SecretsManagerClientStore
from beacon.store.device_salt import SecretsManagerStackSecret

settings = AuthorizerSettings.from_env()


@cache
def client_store() -> IssuedClientLookup:
    """Client records cached per container, behind the gate that refuses ids Beacon never issued before any call."""
    records = SecretsManagerClientStore(settings.client_secret_prefix, settings.client_cache_seconds)
    return IssuedClientLookup(records, SecretsManagerStackSecret(settings.client_id_key_secret))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = request_headers(event)
    try:
        authenticated = authenticate(
            headers.get("openpanel-client-id"),
            headers.get("openpanel-client-secret"),
            headers.get("origin"),
            client_store(),
            datetime.now(UTC),
        )
    except InvalidCredentialsError:
        logger.info("invalid client credentials")
        raise Exception("Unauthorized") from None  # the exact message API Gateway maps to 401
    caller = authenticated.caller
    return allow_all_policy(
        caller.client_id,
        MethodArn.parse(event["methodArn"]),
        # The usage plan that rate-limits this client is found through its API key (ApiKeySourceType AUTHORIZER).
        usage_identifier_key=authenticated.api_key or None,
        context=caller_to_context(caller),
    )
