"""The authorizer's context: how the authorizer tells the functions who is calling.

API Gateway hands a proxy integration every context value as a string, so both directions live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beacon.domain.entities import Caller, ClientType
from beacon.errors import InvalidCredentialsError

# The context of a POST /track that sent no credential header, with BodyCredentials on (docs/DESIGN.md §50): it names
# no caller; the track function authenticates the body's credentials and puts the caller's context in its place.
UNAUTHENTICATED = "unauthenticated"
# Its principal, as the access logs show it: every such request shares one API key and usage plan.
BODY_CREDENTIALS_PRINCIPAL = "body-credentials"


def unauthenticated_context(via_distribution: bool) -> dict[str, str | bool]:
    return {UNAUTHENTICATED: True, "viaDistribution": via_distribution}


def is_unauthenticated(context: Mapping[str, Any]) -> bool:
    return str(context.get(UNAUTHENTICATED, "false")).lower() == "true"


def caller_to_context(caller: Caller) -> dict[str, str | bool]:
    return {
        "projectId": caller.project_id,
        "clientId": caller.client_id,
        "clientType": caller.client_type.value,
        "secretAuth": caller.secret_auth,
        "allowedOrigin": caller.allowed_origin or "",
        "viaDistribution": caller.via_distribution,
    }


def caller_from_context(context: Mapping[str, Any]) -> Caller:
    """Only the authorizer's context identifies the caller; request headers are never trusted for it. An
    unauthenticated context (one that is left so: any route but POST /track, or a function that did not authenticate
    the body) is a 401."""
    if is_unauthenticated(context):
        raise InvalidCredentialsError()
    return Caller(
        project_id=str(context["projectId"]),
        client_id=str(context["clientId"]),
        client_type=ClientType(str(context["clientType"])),
        secret_auth=str(context.get("secretAuth", "false")).lower() == "true",
        allowed_origin=str(context.get("allowedOrigin") or "") or None,
        via_distribution=str(context.get("viaDistribution", "false")).lower() == "true",
    )
