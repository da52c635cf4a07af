"""Turn pydantic validation errors into the API's refusal shape, from their structured fields only."""

from __future__ import annotations

from pydantic import ValidationError

from beacon.errors import FieldError, Rejection
from beacon.models.requests import REQUEST_TYPES


def _field_path(loc: tuple[int | str, ...]) -> str:
    # A discriminated union puts the tag first (("track", "payload", "name")): the client never sent it as a field.
    parts = list(loc)
    if parts and parts[0] in REQUEST_TYPES:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


def validation_rejection(exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False, include_input=False)
    details = []
    for error in errors:
        path = _field_path(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = "type"
        details.append(FieldError(field=path, message=error["msg"], type=error["type"]))
    if any(error["type"] == "json_invalid" for error in errors):
        message = "Invalid JSON body"
    else:
        message = "Invalid request body"
    return Rejection(error=message, status=400, details=details)
