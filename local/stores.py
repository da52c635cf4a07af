"""The track function's stores on a given DynamoDB client and the template's table names, for in-process work
(benchmarks, integration tests) against DynamoDB Local: what functions/track/app.py builds from its settings."""

from __future__ import annotations

from typing import Any

from beacon.domain.ingest import Stores
from beacon.store.events import DynamoDBEventStore
from beacon.store.idempotency import DynamoDBIdempotencyStore
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.sessions import DynamoDBSessionStore


def dynamodb_stores(client: Any, env: dict[str, str], retention_days: int = 30) -> Stores:
    events = DynamoDBEventStore(
        env["EVENTS_TABLE"], retention_days, client=client, idempotency_table=env["IDEMPOTENCY_TABLE"]
    )
    return Stores(
        events=events,
        profiles=DynamoDBProfileStore(env["ENTITIES_TABLE"], client=client, idempotency_table=env["IDEMPOTENCY_TABLE"]),
        sessions=DynamoDBSessionStore(env["SESSIONS_TABLE"], events),
        projects=DynamoDBProjectSettingsStore(env["ENTITIES_TABLE"], client=client),
        idempotency=DynamoDBIdempotencyStore(env["IDEMPOTENCY_TABLE"], client=client),
    )
