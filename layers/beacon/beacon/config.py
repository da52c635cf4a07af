"""Typed settings, read from the environment once per container (at cold start)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field


class TrackSettings(BaseModel):
    events_table: str = Field(min_length=1)
    entities_table: str = Field(min_length=1)
    event_retention_days: int = Field(default=400, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TrackSettings:
        return cls.model_validate(
            {
                "events_table": env.get("EVENTS_TABLE", ""),
                "entities_table": env.get("ENTITIES_TABLE", ""),
                "event_retention_days": env.get("EVENT_RETENTION_DAYS", 400),
                "max_body_bytes": env.get("MAX_BODY_BYTES", 64 * 1024),
            }
        )


class AuthorizerSettings(BaseModel):
    client_secret_prefix: str = Field(min_length=1)
    client_cache_seconds: int = Field(default=60, ge=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthorizerSettings:
        return cls.model_validate(
            {
                "client_secret_prefix": env.get("CLIENT_SECRET_PREFIX", ""),
                "client_cache_seconds": env.get("CLIENT_CACHE_SECONDS", 60),
            }
        )
