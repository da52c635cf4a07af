"""Response models: what every answer of the API looks like."""

from __future__ import annotations

from pydantic import BaseModel


class TrackResponse(BaseModel):
    deviceId: str
    sessionId: str


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


class NotStoredResponse(BaseModel):
    """503 for a batch: the items named could not be stored (a dependency failed); the same batch sent again stores
    them, and never stores an item twice."""

    error: str
    status: int
    notStored: list[int]
