"""The API's error answers, and the one mapping of errors to them, shared by the track and read functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from beacon.errors import (
    BeaconError,
    BlockedByFilterError,
    DependencyUnavailableError,
    InvalidRequestError,
    Rejection,
)
from beacon.gateway.validation import validation_rejection
from beacon.models.responses import ErrorResponse, FieldErrorDetail
from beacon.observability import logger, metrics

Respond = Callable[[int, BaseModel, "dict[str, str] | None"], Response[str]]  # status, body model, headers


def error_response(rejection: Rejection) -> ErrorResponse:
    details = rejection.details
    return ErrorResponse(
        error=rejection.error,
        status=rejection.status,
        details=None if details is None else [FieldErrorDetail(**vars(detail)) for detail in details],
    )


@dataclass(frozen=True)
class ErrorPolicy:
    """How one function answers errors: its JSON response, the metric its refusals count in, and its hooks."""

    respond: Respond
    refused_metric: str  # every refusal but a dependency failure or a project filter counts here
    invalid_message: str | None = None  # replaces the message of a body or parameters that failed validation
    keep: Callable[[Rejection], None] | None = None  # sees every invalid request (the track function keeps them)
    count_not_found: bool = False


def register_error_handlers(app: APIGatewayRestResolver, policy: ErrorPolicy) -> None:
    def answer(rejection: Rejection) -> Response[str]:
        headers = None
        if rejection.status == DependencyUnavailableError.status:
            headers = {"Retry-After": str(DependencyUnavailableError.retry_after_seconds)}
        return policy.respond(rejection.status, error_response(rejection), headers)

    def count(name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    @app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def handle_validation_error(exc: ValidationError) -> Response[str]:
        count(policy.refused_metric)
        rejection = validation_rejection(exc)
        if policy.invalid_message is not None:
            rejection = replace(rejection, error=policy.invalid_message)
        if policy.keep is not None:
            policy.keep(rejection)
        return answer(rejection)

    @app.exception_handler(BeaconError)  # type: ignore[untyped-decorator]
    def handle_beacon_error(exc: BeaconError) -> Response[str]:
        rejection = exc.rejection()
        if isinstance(exc, DependencyUnavailableError):
            logger.warning("dependency unavailable", extra={"reason": exc.message})
            count("DependencyUnavailable")
        elif isinstance(exc, BlockedByFilterError):
            count("RequestsFiltered")
        else:
            count(policy.refused_metric)
            if isinstance(exc, InvalidRequestError) and policy.keep is not None:
                policy.keep(rejection)
        return answer(rejection)

    @app.not_found
    def handle_not_found(_: Exception) -> Response[str]:
        if policy.count_not_found:
            count(policy.refused_metric)
        return answer(Rejection(error="Not found", status=404))
