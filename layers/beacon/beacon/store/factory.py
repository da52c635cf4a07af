"""The one place the functions' stores are built: by the Lambda functions (from their settings, on the container's
shared client), and by the local stack, the benchmarks and the tests (on a client of their own)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from beacon.config import PrivacySettings, ReadSettings, ReaperSettings, TrackSettings
from beacon.domain.ports import Readers, Stores
from beacon.store.events import DynamoDBEventStore
from beacon.store.idempotency import DynamoDBIdempotencyStore
from beacon.store.profiles import DynamoDBProfileStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from beacon.store.rejected import DynamoDBRejectedEventStore
from beacon.store.replays import S3ReplayStore
from beacon.store.sessions import DynamoDBSessionStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from beacon.store.erasure import ErasureTables


def track_stores(settings: TrackSettings, client: DynamoDBClient | None = None) -> Stores:
    """The track function's stores; `client` None: the container's shared DynamoDB client, created lazily."""
    events = DynamoDBEventStore(
        settings.events_table, settings.event_retention_days, client, idempotency_table=settings.idempotency_table
    )
    return Stores(
        events=events,
        profiles=DynamoDBProfileStore(settings.entities_table, client, idempotency_table=settings.idempotency_table),
        sessions=DynamoDBSessionStore(
            settings.sessions_table,
            events,
            client,
            timedelta(seconds=settings.session_timeout_seconds),
            settings.event_retention_days,
        ),
        projects=DynamoDBProjectSettingsStore(settings.entities_table, client),
        idempotency=DynamoDBIdempotencyStore(settings.idempotency_table, client),
    )


def reaper_store(settings: ReaperSettings, client: DynamoDBClient | None = None) -> DynamoDBSessionStore:
    """The session reaper's store: the sessions table, writing session_end into the events table."""
    events = DynamoDBEventStore(settings.events_table, settings.event_retention_days, client)
    return DynamoDBSessionStore(
        settings.sessions_table,
        events,
        client,
        timedelta(seconds=settings.session_timeout_seconds),
        settings.event_retention_days,
    )


def rejected_events_store(settings: TrackSettings, client: DynamoDBClient | None = None) -> DynamoDBRejectedEventStore:
    return DynamoDBRejectedEventStore(settings.rejected_events_table, client)


def replay_store(
    settings: TrackSettings | ReadSettings, client: DynamoDBClient | None = None, s3: Any | None = None
) -> S3ReplayStore:
    """Session replay's store: chunks in the replay bucket, indexed in ReplaysTable."""
    store = S3ReplayStore(settings.replays_table, settings.replay_bucket, client, s3)
    if isinstance(settings, TrackSettings):  # the writer: its index items expire with the bucket's objects
        store.retention_days = settings.replay_retention_days
    return store


def read_stores(settings: ReadSettings, client: DynamoDBClient | None = None) -> Readers:
    from beacon.store.reads import DynamoDBEntityReader, DynamoDBEventReader  # the track function never reads
    from beacon.store.sessions import DynamoDBSessionReader

    return Readers(
        events=DynamoDBEventReader(settings.events_table, client),
        entities=DynamoDBEntityReader(settings.entities_table, client),
        sessions=DynamoDBSessionReader(settings.sessions_table, client) if settings.sessions_table else None,
    )


def privacy_tables(settings: PrivacySettings) -> ErasureTables:
    """The stores a person's erasure and export reach, for the privacy function (the CLI names them from the stack)."""
    from beacon.store.erasure import ErasureTables  # only the privacy function pays for its import

    return ErasureTables(
        events=settings.events_table,
        entities=settings.entities_table,
        sessions=settings.sessions_table,
        rejected_events=settings.rejected_events_table,
        replays=settings.replays_table,
        replay_bucket=settings.replay_bucket,
    )
