"""Beacon's errors: the bottom layer, imported by every other and importing none of them.

Each error carries the HTTP status the API answers with, so one handler maps them all; `Rejection` is what a
refused request (or batch item) is answered with, made from an error in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


class BeaconError(Exception):
    status: int = 400
    public_message: str = "Bad request"

    def __init__(self, message: str | None = None, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message or self.public_message)
        self.message = message or self.public_message
        self.details = details

    def rejection(self) -> Rejection:
        details = None if self.details is None else [FieldError(**detail) for detail in self.details]
        return Rejection(error=self.message, status=self.status, details=details)


class InvalidRequestError(BeaconError):
    status = 400
    public_message = "Invalid request body"


class InvalidCredentialsError(BeaconError):
    status = 401
    public_message = "Invalid client credentials"


class RevenueRequiresSecretError(InvalidCredentialsError):
    public_message = "Revenue tracking requires a client secret"


class SecretRequiredError(InvalidCredentialsError):
    """A request type only a server (a caller with the client secret) may send."""

    public_message = "This request needs the client secret"


class BlockedByFilterError(InvalidCredentialsError):
    """A project filter (blocked IP network or profile id) refused the request."""

    public_message = "Blocked by a project filter"


class ForbiddenError(BeaconError):
    status = 403
    public_message = "Forbidden"


class NotFoundError(BeaconError):
    status = 404
    public_message = "Not found"


class ConflictError(BeaconError):
    status = 409
    public_message = "Conflict"


class PayloadTooLargeError(BeaconError):
    status = 413
    public_message = "Request body too large"


class DependencyUnavailableError(BeaconError):
    """A dependency (DynamoDB, Secrets Manager) is down or throttling: retry later, nothing was written."""

    status = 503
    public_message = "Service temporarily unavailable"
    retry_after_seconds = 5


class DuplicateEventError(Exception):
    """Control flow, not an API error: the event's idempotency key was already used; answer as the first."""

    def __init__(self, session_id: str | None = None, device_id: str | None = None) -> None:
        super().__init__("duplicate event")
        # Known for a double send caught on the session item; an idempotency key's answer is stored with it.
        self.session_id = session_id
        self.device_id = device_id


@dataclass(frozen=True)
class FieldError:
    """One field at fault in a refused request: where (a dot path), what, and pydantic's error type."""

    field: str
    message: str
    type: str


@dataclass(frozen=True)
class Rejection:
    """A refusal as the API answers it (`{"error", "status", "details"}`), before it becomes a response."""

    error: str
    status: int
    details: list[FieldError] | None = None
