"""The authorizer's context: how the authorizer tells the functions who is calling.

API Gateway hands a proxy integration every context value as a string, so both directions live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beacon.domain.entities import Caller, ClientType


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
    """Only the authorizer's context identifies the caller; request headers are never trusted for it."""
    return Caller(
        project_id=str(context["projectId"]),
        client_id=str(context["clientId"]),
        client_type=ClientType(str(context["clientType"])),
        secret_auth=str(context.get("secretAuth", "false")).lower() == "true",
        allowed_origin=str(context.get("allowedOrigin") or "") or None,
        via_distribution=str(context.get("viaDistribution", "false")).lower() == "true",
    )
