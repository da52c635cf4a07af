"""The authorizer's typed settings, read from the environment once per container (at cold start).

Kept apart from beacon.config on purpose: importing pydantic is a large part of a cold start, which the authorizer
would pay for three values (docs/DESIGN.md §23). A frozen dataclass does the same checks, and bad values still fail at
init.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_CLIENT_CACHE_SECONDS = 60


@dataclass(frozen=True)
class AuthorizerSettings:
    client_secret_prefix: str
    client_id_key_secret: str  # id or ARN of the per-stack secret that client ids are signed with (docs/DESIGN.md §4)
    client_cache_seconds: int = DEFAULT_CLIENT_CACHE_SECONDS
    # With EnableCloudFront: id or ARN of the secret the distribution sends as its origin-verify header; every request
    # must carry it (domain/distribution.py). Empty: no distribution, no such check.
    origin_verify_secret: str = ""
    # With BodyCredentials: the shared API key (its value) named for a POST /track without any credential header,
    # which the track function then authenticates from its body (docs/DESIGN.md §50). Empty: such a request is a 401.
    body_credentials_api_key: str = ""

    def __post_init__(self) -> None:
        if not self.client_secret_prefix:
            raise ValueError("CLIENT_SECRET_PREFIX must not be empty")
        if not self.client_id_key_secret:
            raise ValueError("CLIENT_ID_KEY_SECRET must not be empty")
        seconds = self.client_cache_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError(f"CLIENT_CACHE_SECONDS must be a whole number of seconds >= 0, not {seconds!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthorizerSettings:
        return cls(
            client_secret_prefix=env.get("CLIENT_SECRET_PREFIX", ""),
            client_id_key_secret=env.get("CLIENT_ID_KEY_SECRET", ""),
            client_cache_seconds=parse_whole_number(
                "CLIENT_CACHE_SECONDS", env.get("CLIENT_CACHE_SECONDS"), DEFAULT_CLIENT_CACHE_SECONDS
            ),
            origin_verify_secret=env.get("ORIGIN_VERIFY_SECRET", "").strip(),
            body_credentials_api_key=env.get("BODY_CREDENTIALS_API_KEY", "").strip(),
        )


def parse_whole_number(name: str, value: str | None, default: int) -> int:
    """An integer environment value: ASCII digits with an optional sign, whitespace around (int()'s syntax)."""
    if value is None:
        return default
    text = value.strip()
    try:
        if not text.isascii():  # int() would take other scripts' digits too
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
