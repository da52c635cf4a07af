"""Response models: what every answer of the API looks like."""

from __future__ import annotations

from pydantic import BaseModel, Field

from beacon import __version__


class TrackResponse(BaseModel):
    deviceId: str
    sessionId: str


class HealthcheckResponse(BaseModel):
    """GET /healthcheck: the API is up. Shallow on purpose (no credentials, no dependency is called), so it says
    nothing about DynamoDB or Secrets Manager. `ready` is the field OpenPanel's healthcheck answers (monitors written
    for OpenPanel check it); further fields, such as a version, may be added, never removed."""

    ok: bool = True
    ready: bool = True
    version: str = Field(default=__version__, description="Beacon's release (CHANGELOG.md), as ./beacon --version")


class BotInfo(BaseModel):
    name: str
    type: str


class BotResponse(BaseModel):
    """202: a likely bot on a request without a client secret; nothing was stored."""

    bot: BotInfo


class FieldErrorDetail(BaseModel):
    field: str
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: str
    status: int
    details: list[FieldErrorDetail] | None = None
    notStored: list[int] | None = Field(
        default=None,
        description=(
            "POST /track/batch's 503 only: the indexes of the items that could not be stored (the others were). "
            "Send the same batch again after Retry-After: stored items are not stored twice."
        ),
    )


class BatchRejection(BaseModel):
    index: int
    error: str
    status: int
    details: list[FieldErrorDetail] | None = None


class BatchResult(BaseModel):
    index: int
    deviceId: str
    sessionId: str


class BatchResponse(BaseModel):
    accepted: int
    rejected: list[BatchRejection]
    results: list[BatchResult]
