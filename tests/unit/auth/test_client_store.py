"""Client records in Secrets Manager: cached lookups, and failing closed when Secrets Manager cannot answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from beacon.domain.auth import ClientRecord, create_client
from beacon.domain.entities import ClientType
from beacon.errors import DependencyUnavailableError
from beacon.store.clients import (
    MAX_CACHED_CLIENTS,
    NEGATIVE_CACHE_SECONDS,
    SecretsManagerClientStore,
    client_record_from_secret,
    client_record_to_secret,
)
from tests.constants import CLIENT_ID_KEY
from tests.unit.support.fakes import FakeClock

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

PREFIX = "beacon/test/clients/"
CACHE_SECONDS = 60.0
ENDPOINT = "https://secretsmanager.us-east-1.amazonaws.com"


def client_error(code: str, operation: str = "GetSecretValue") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"simulated {code}"}}, operation)


class FakeSecretsManager:
    """The two Secrets Manager calls the store makes, over an in-memory dict of secrets."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.get_calls: list[str] = []
        self.failure: Exception | None = None

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.get_calls.append(SecretId)
        if self.failure is not None:
            raise self.failure
        if SecretId not in self.secrets:
            raise client_error("ResourceNotFoundException")
        return {"Name": SecretId, "SecretString": self.secrets[SecretId]}

    def create_secret(self, *, Name: str, SecretString: str, Description: str = "") -> dict[str, Any]:
        if Name in self.secrets:
            raise client_error("ResourceExistsException", "CreateSecret")
        self.secrets[Name] = SecretString
        return {"Name": Name}


def new_record(**options: Any) -> ClientRecord:
    record, _ = create_client(
        "project-a", ClientType.WRITE, datetime(2026, 3, 1, tzinfo=UTC), **options, id_key=CLIENT_ID_KEY
    )
    return record


@pytest.fixture
def secretsmanager() -> FakeSecretsManager:
    return FakeSecretsManager()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(secretsmanager: FakeSecretsManager, clock: FakeClock) -> SecretsManagerClientStore:
    return SecretsManagerClientStore(
        PREFIX, CACHE_SECONDS, client=cast("SecretsManagerClient", secretsmanager), clock=clock
    )


def test_put_client_then_get_client_round_trips_the_record(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager
) -> None:
    # Given a client with origins and rate limits
    record = new_record(origins=("https://example.com", "*.example.org"), rate=10.0, burst=20)

    # When it is stored and looked up
    store.put_client(record)
    found = store.get_client(record.client_id)

    # Then the record read back is the record stored, under "<prefix><client id>"
    assert found == record
    assert list(secretsmanager.secrets) == [PREFIX + record.client_id]


def test_secret_string_round_trips_a_record_without_optional_fields() -> None:
    # Given a client without origins or limits
    record = new_record()

    # When it is serialised and parsed back
    # Then it is the same record
    assert client_record_from_secret(client_record_to_secret(record)) == record


def test_a_found_client_is_cached_until_cache_seconds_pass(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager, clock: FakeClock
) -> None:
    # Given a stored client, looked up once
    record = new_record()
    store.put_client(record)
    store.get_client(record.client_id)

    # When it is looked up again just before the cache expires
    clock.advance(CACHE_SECONDS - 0.1)
    cached = store.get_client(record.client_id)

    # Then Secrets Manager is not asked again
    assert cached == record
    assert len(secretsmanager.get_calls) == 1

    # And once cache_seconds have passed, it is fetched afresh
    clock.advance(0.1)
    assert store.get_client(record.client_id) == record
    assert len(secretsmanager.get_calls) == 2


def test_an_unknown_client_is_none_and_cached_only_briefly(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager, clock: FakeClock
) -> None:
    # Given an id Secrets Manager does not know
    unknown = "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11"

    # When it is looked up twice within the negative cache time
    first = store.get_client(unknown)
    clock.advance(NEGATIVE_CACHE_SECONDS - 0.1)
    second = store.get_client(unknown)

    # Then it is unknown, at the cost of one call (a flood of bad ids cannot become a flood of calls)
    assert first is None and second is None
    assert len(secretsmanager.get_calls) == 1

    # And after NEGATIVE_CACHE_SECONDS (much less than cache_seconds) it is asked again
    clock.advance(0.1)
    store.get_client(unknown)
    assert len(secretsmanager.get_calls) == 2
    assert NEGATIVE_CACHE_SECONDS < CACHE_SECONDS


def test_a_client_created_after_an_unknown_lookup_is_found_once_the_negative_cache_expires(
    store: SecretsManagerClientStore, clock: FakeClock
) -> None:
    # Given an id looked up before its client existed
    record = new_record()
    assert store.get_client(record.client_id) is None

    # When the client is created and the negative cache expires
    store.put_client(record)
    clock.advance(NEGATIVE_CACHE_SECONDS)

    # Then it authenticates without waiting for the full cache time
    assert store.get_client(record.client_id) == record


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(client_error("ThrottlingException"), id="throttling"),
        pytest.param(client_error("AccessDeniedException"), id="access denied"),
        pytest.param(client_error("DecryptionFailure"), id="kms decryption failure"),
        pytest.param(client_error("InternalServiceError"), id="internal error"),
        pytest.param(EndpointConnectionError(endpoint_url=ENDPOINT), id="endpoint unreachable"),
        pytest.param(ConnectTimeoutError(endpoint_url=ENDPOINT), id="connect timeout"),
        pytest.param(ReadTimeoutError(endpoint_url=ENDPOINT), id="read timeout"),
    ],
)
def test_a_secrets_manager_failure_fails_closed_as_dependency_unavailable(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager, failure: Exception
) -> None:
    # Given a stored client and a Secrets Manager that cannot answer
    record = new_record()
    store.put_client(record)
    secretsmanager.failure = failure

    # When the client is looked up
    with pytest.raises(DependencyUnavailableError) as caught:
        store.get_client(record.client_id)

    # Then it is a 503 (never "unknown client", which would be a 401, and never a pass)
    assert caught.value.status == 503
    assert caught.value.__cause__ is failure


def test_a_failed_lookup_is_not_cached(store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager) -> None:
    # Given a stored client and a Secrets Manager that throttles once
    record = new_record()
    store.put_client(record)
    secretsmanager.failure = client_error("ThrottlingException")
    with pytest.raises(DependencyUnavailableError):
        store.get_client(record.client_id)

    # When Secrets Manager recovers and the client retries at once
    secretsmanager.failure = None
    found = store.get_client(record.client_id)

    # Then the client is found: the failure was not remembered as "unknown"
    assert found == record


def test_cache_seconds_zero_asks_secrets_manager_every_time(
    secretsmanager: FakeSecretsManager, clock: FakeClock
) -> None:
    # Given a store configured without caching
    store = SecretsManagerClientStore(PREFIX, 0, client=cast("SecretsManagerClient", secretsmanager), clock=clock)
    record = new_record()
    store.put_client(record)

    # When a client and an unknown id are each looked up twice
    store.get_client(record.client_id)
    store.get_client(record.client_id)
    store.get_client("3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11")
    store.get_client("3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11")

    # Then every lookup is a call (a revoked client stops working at once)
    assert len(secretsmanager.get_calls) == 4


def test_the_stored_secret_holds_the_hash_and_never_a_plain_secret() -> None:
    # Given a new client and its plain secret
    record, secret = create_client(
        "project-a", ClientType.WRITE, datetime(2026, 3, 1, tzinfo=UTC), id_key=CLIENT_ID_KEY
    )

    # When it is serialised for Secrets Manager
    secret_string = client_record_to_secret(record)

    # Then only the salted hash is in it
    assert record.secret_hash in secret_string
    assert secret not in secret_string


# -- bounded caches: least recently used first, never a clear-all -----------------------------------------------------


def test_a_flood_of_unknown_ids_never_evicts_a_cached_client(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager
) -> None:
    # Given a client whose record is cached
    record = new_record()
    store.put_client(record)
    store.get_client(record.client_id)
    # When more unknown ids than the client cache holds are looked up
    for index in range(MAX_CACHED_CLIENTS + 1):
        store.get_client(f"00000000-0000-4000-8000-{index:012d}")
    # Then the client is still answered from the cache
    calls = len(secretsmanager.get_calls)
    assert store.get_client(record.client_id) == record
    assert len(secretsmanager.get_calls) == calls


def test_past_the_bound_only_the_least_recently_used_client_is_dropped(
    store: SecretsManagerClientStore, secretsmanager: FakeSecretsManager
) -> None:
    # Given a full client cache, the first client used again just now
    records = [new_record() for _ in range(MAX_CACHED_CLIENTS)]
    for record in records:
        secretsmanager.secrets[PREFIX + record.client_id] = client_record_to_secret(record)
        store.get_client(record.client_id)
    store.get_client(records[0].client_id)
    # When one more client is looked up
    newcomer = new_record()
    store.put_client(newcomer)
    store.get_client(newcomer.client_id)
    # Then only the least recently used one (the second) was dropped: the others are answered without a call
    calls = len(secretsmanager.get_calls)
    for record in (records[0], records[2], records[-1], newcomer):
        assert store.get_client(record.client_id) == record
    assert len(secretsmanager.get_calls) == calls
    store.get_client(records[1].client_id)
    assert len(secretsmanager.get_calls) == calls + 1
