"""Hand-written fakes of the interfaces the domain depends on (EventStore, ClientLookup), and test data builders."""

from __future__ import annotations

import secrets

from beacon.domain.auth import ClientRecord, hash_secret
from beacon.domain.entities import ClientType, Event
from beacon.domain.errors import DependencyUnavailableError


class FakeEventStore:
    """An EventStore that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def put_event(self, event: Event) -> None:
        self.events.append(event)


class UnavailableEventStore:
    """An EventStore whose database is throttling: every write fails with the domain's 503 error."""

    def put_event(self, event: Event) -> None:
        raise DependencyUnavailableError("DynamoDB is unavailable (ThrottlingException); retry later")


class FakeClientLookup:
    """A ClientLookup over a fixed set of records; remembers which ids were looked up."""

    def __init__(self, *records: ClientRecord) -> None:
        self.records = {record.client_id: record for record in records}
        self.lookups: list[str] = []

    def get_client(self, client_id: str) -> ClientRecord | None:
        self.lookups.append(client_id)
        return self.records.get(client_id)


class UnavailableClientLookup:
    """A ClientLookup whose Secrets Manager cannot be reached."""

    def get_client(self, client_id: str) -> ClientRecord | None:
        raise DependencyUnavailableError("Secrets Manager is unavailable (ThrottlingException); retry later")


def client_record(client_id: str, secret: str, project_id: str = "project-a") -> ClientRecord:
    """A stored client whose secret is known to the test."""
    salt = secrets.token_hex(16)
    return ClientRecord(
        client_id=client_id,
        project_id=project_id,
        client_type=ClientType.WRITE,
        secret_salt=salt,
        secret_hash=hash_secret(secret, salt),
        created_at="2026-01-01T00:00:00+00:00",
    )
