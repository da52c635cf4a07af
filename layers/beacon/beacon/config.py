"""Typed settings, read from the environment once per container (at cold start).

The authorizer's are in beacon.authorizer_config, without pydantic, whose import that function need not pay.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field, model_validator


class TrackSettings(BaseModel):
    events_table: str = Field(min_length=1)
    entities_table: str = Field(min_length=1)
    sessions_table: str = Field(min_length=1)
    idempotency_table: str = Field(min_length=1)
    rejected_events_table: str = Field(min_length=1)
    replays_table: str = Field(min_length=1)  # session replay's index (beacon/store/replays.py)
    replay_bucket: str = Field(min_length=1)  # session replay's chunks
    replay_retention_days: int = Field(default=30, ge=1)
    device_salt_secret: str = Field(min_length=1)  # id or ARN of the per-stack secret behind the daily salt
    event_retention_days: int = Field(default=400, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # 4 MiB: every body reaches the function base64 (the API's binary media type is */*), 5.6 MB of a Lambda
    # invocation's 6 MB, leaving room for the rest of the proxy event (docs/DESIGN.md §32).
    max_batch_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    geoip_database_path: str | None = None  # optional .mmdb (GeoLite2 / DB-IP City), e.g. from a layer under /opt
    store_ip_projects: frozenset[str] = frozenset()  # projects that opted in to storing raw client IPs
    session_timeout_seconds: int = Field(default=1800, ge=1)  # idle time that ends a session (OpenPanel: 30 min)
    # BodyCredentials (docs/DESIGN.md §50): POST /track may authenticate from `clientId` / `clientSecret` in its
    # body, from the authorizer's client records (the prefix) behind its id gate (the id key secret).
    body_credentials: bool = False
    client_secret_prefix: str = ""
    client_id_key_secret: str = ""
    client_cache_seconds: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _body_credentials_need_the_client_records(self) -> TrackSettings:
        if self.body_credentials and not (self.client_secret_prefix and self.client_id_key_secret):
            raise ValueError("BODY_CREDENTIALS needs CLIENT_SECRET_PREFIX and CLIENT_ID_KEY_SECRET")
        return self

    def stores_ip(self, project_id: str) -> bool:
        return project_id in self.store_ip_projects

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TrackSettings:
        return cls.model_validate(
            {
                "events_table": env.get("EVENTS_TABLE", ""),
                "entities_table": env.get("ENTITIES_TABLE", ""),
                "sessions_table": env.get("SESSIONS_TABLE", ""),
                "idempotency_table": env.get("IDEMPOTENCY_TABLE", ""),
                "rejected_events_table": env.get("REJECTED_EVENTS_TABLE", ""),
                "replays_table": env.get("REPLAYS_TABLE", ""),
                "replay_bucket": env.get("REPLAY_BUCKET", ""),
                "replay_retention_days": env.get("REPLAY_RETENTION_DAYS", 30),
                "device_salt_secret": env.get("DEVICE_SALT_SECRET", ""),
                "event_retention_days": env.get("EVENT_RETENTION_DAYS", 400),
                "max_body_bytes": env.get("MAX_BODY_BYTES", 64 * 1024),
                "max_batch_bytes": env.get("MAX_BATCH_BYTES", 4 * 1024 * 1024),
                "geoip_database_path": env.get("GEOIP_DATABASE_PATH") or None,
                "store_ip_projects": frozenset(
                    project for project in env.get("STORE_IP_PROJECTS", "").split(",") if project.strip()
                ),
                "session_timeout_seconds": session_timeout_seconds(env),
                "body_credentials": env.get("BODY_CREDENTIALS", "false").strip().lower() == "true",
                "client_secret_prefix": env.get("CLIENT_SECRET_PREFIX", ""),
                "client_id_key_secret": env.get("CLIENT_ID_KEY_SECRET", ""),
                "client_cache_seconds": env.get("CLIENT_CACHE_SECONDS", 60),
            }
        )


def session_timeout_seconds(env: Mapping[str, str]) -> int | str:
    """SESSION_TIMEOUT_SECONDS (make run, tests) wins over SESSION_TIMEOUT_MINUTES (the template's parameter)."""
    if env.get("SESSION_TIMEOUT_SECONDS"):
        return env["SESSION_TIMEOUT_SECONDS"]
    minutes = env.get("SESSION_TIMEOUT_MINUTES", "")
    return int(minutes) * 60 if minutes.isdigit() else minutes or 1800


class ReaperSettings(BaseModel):
    """Typed settings of the session reaper (functions/reaper), read once per container."""

    sessions_table: str = Field(min_length=1)
    events_table: str = Field(min_length=1)
    event_retention_days: int = Field(default=400, ge=1)
    session_timeout_seconds: int = Field(default=1800, ge=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReaperSettings:
        return cls.model_validate(
            {
                "sessions_table": env.get("SESSIONS_TABLE", ""),
                "events_table": env.get("EVENTS_TABLE", ""),
                "event_retention_days": env.get("EVENT_RETENTION_DAYS", 400),
                "session_timeout_seconds": session_timeout_seconds(env),
            }
        )


class ReadSettings(BaseModel):
    """Typed settings of the read function, read once per container (at cold start)."""

    events_table: str = Field(min_length=1)
    entities_table: str = Field(min_length=1)
    cursor_secret: str = Field(min_length=1)  # id or ARN of the per-stack secret that signs page cursors
    replays_table: str = Field(min_length=1)  # session replay's index and chunks (GET /session/{id}/replay)
    replay_bucket: str = Field(min_length=1)
    # Ended sessions' records (GET /session/{id}, /export/sessions) and /insights/live's count over byIdleBucket.
    sessions_table: str = ""
    # The lake's Athena workgroup and Glue database (docs/LAKE.md); empty when the stack has no lake.
    lake_workgroup: str = ""
    lake_database: str = ""

    @property
    def has_lake(self) -> bool:
        return bool(self.lake_workgroup and self.lake_database)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReadSettings:
        return cls.model_validate(
            {
                "events_table": env.get("EVENTS_TABLE", ""),
                "entities_table": env.get("ENTITIES_TABLE", ""),
                "cursor_secret": env.get("CURSOR_SECRET", ""),
                "replays_table": env.get("REPLAYS_TABLE", ""),
                "replay_bucket": env.get("REPLAY_BUCKET", ""),
                "sessions_table": env.get("SESSIONS_TABLE", ""),
                "lake_workgroup": env.get("LAKE_WORKGROUP", ""),
                "lake_database": env.get("LAKE_DATABASE", ""),
            }
        )


class PrivacySettings(BaseModel):
    """Typed settings of the privacy function (functions/privacy: a person's erasure and export), read once."""

    events_table: str = Field(min_length=1)
    entities_table: str = Field(min_length=1)
    sessions_table: str = Field(min_length=1)
    rejected_events_table: str = Field(min_length=1)
    replays_table: str = Field(min_length=1)
    replay_bucket: str = Field(min_length=1)
    cursor_secret: str = Field(min_length=1)  # the export's cursors are signed with a key derived from it
    # With a lake, its Parquet rewrite is left to the operator's CLI (no Parquet library in the layer): an
    # erasure's receipt then waits for it (docs/PRIVACY.md).
    has_lake: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PrivacySettings:
        return cls.model_validate(
            {
                "events_table": env.get("EVENTS_TABLE", ""),
                "entities_table": env.get("ENTITIES_TABLE", ""),
                "sessions_table": env.get("SESSIONS_TABLE", ""),
                "rejected_events_table": env.get("REJECTED_EVENTS_TABLE", ""),
                "replays_table": env.get("REPLAYS_TABLE", ""),
                "replay_bucket": env.get("REPLAY_BUCKET", ""),
                "cursor_secret": env.get("CURSOR_SECRET", ""),
                "has_lake": env.get("LAKE_ENABLED", "false").lower() == "true",
            }
        )


class LakeSettings(BaseModel):
    """Typed settings of the lake consumer (the events table's stream → Firehose), read once per container."""

    delivery_stream: str = Field(min_length=1)  # the Firehose stream that writes the lake's Parquet files

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LakeSettings:
        return cls.model_validate({"delivery_stream": env.get("LAKE_DELIVERY_STREAM", "")})
