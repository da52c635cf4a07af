"""Response models: what every answer of the API looks like."""

from __future__ import annotations

from pydantic import BaseModel


class TrackResponse(BaseModel):
    deviceId: str
    sessionId: str


class FieldErrorDetail(BaseModel):
    field: str
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: str
    status: int
    details: list[FieldErrorDetail] | None = None
