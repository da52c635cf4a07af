"""Identifiers: event ids, and the device/session ids the API hands back.

Device and session ids here are deterministic placeholders (hash of project, user-agent and IP;
a session is a fixed 30-minute window of that device). The enrichment issue replaces them with a
daily-salted device id and an inactivity-based session kept in DynamoDB.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime

SESSION_WINDOW_SECONDS = 30 * 60


def new_event_id(now: datetime) -> str:
    """A time-ordered id: 12 hex digits of epoch milliseconds, then 16 random hex digits."""
    millis = int(now.timestamp() * 1000)
    return f"{millis:012x}{os.urandom(8).hex()}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def derive_device_id(project_id: str, user_agent: str, ip: str) -> str:
    return _digest("device", project_id, user_agent, ip)


def derive_session_id(device_id: str, now: datetime) -> str:
    window = int(now.timestamp()) // SESSION_WINDOW_SECONDS
    return _digest("session", device_id, str(window))
