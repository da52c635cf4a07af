"""A flood of client ids Beacon never issued costs no Secrets Manager call and evicts no legitimate client, through the
authorizer itself (functions/authorizer/app.py, its real client store) over a fake Secrets Manager (docs/DESIGN.md §2).
Clients made before signed ids (UUID4 ids) keep working, from the legacy list or, before it is recorded, within a
bounded number of lookups."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, cast

import pytest

import beacon.store.clients as clients_module
import beacon.store.device_salt as device_salt_module
from beacon.domain.auth import ClientRecord, client_id_key, create_client
from beacon.domain.entities import ClientType
from beacon.errors import DependencyUnavailableError
from beacon.store.clients import IssuedClientLookup, SecretsManagerClientStore, client_record_to_secret
from beacon.store.device_salt import SecretsManagerStackSecret
from tests.unit.auth.test_client_store import FakeSecretsManager
from tests.unit.support.fakes import FakeClock, client_record
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function

PREFIX = "beacon/unit/clients/"
KEY_SECRET = "beacon/unit/client-id-key"
STACK_SECRET = "unit-stack-secret"
LEGACY_LIST = PREFIX + "legacy-client-ids"
SECRET = "sec_a-secret-of-the-legacy-client"
FLOOD = 200


def random_id(version: int) -> str:
    raw = bytearray(secrets.token_bytes(16))
    raw[6] = (raw[6] & 0x0F) | (version << 4)
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager()
    fake.secrets[KEY_SECRET] = STACK_SECRET
    monkeypatch.setattr(clients_module, "secretsmanager_client", lambda: fake)
    monkeypatch.setattr(device_salt_module, "secretsmanager_client", lambda: fake)
    return fake


@pytest.fixture
def authorizer(secretsmanager: FakeSecretsManager) -> Iterator[ModuleType]:
    """A fresh authorizer container: its own client store and caches."""
    yield load_function(
        "authorizer",
        {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": "30"},
    )


def store(secretsmanager: FakeSecretsManager, record: ClientRecord) -> None:
    secretsmanager.secrets[PREFIX + record.client_id] = client_record_to_secret(record)


def signed_client(secretsmanager: FakeSecretsManager) -> tuple[ClientRecord, str]:
    record, secret = create_client(
        "project-a", ClientType.WRITE, datetime.now(UTC), id_key=client_id_key(STACK_SECRET.encode())
    )
    store(secretsmanager, record)
    return record, secret


def legacy_client(secretsmanager: FakeSecretsManager) -> ClientRecord:
    """A client created before signed ids: a UUID4 id."""
    record = client_record(str(uuid.uuid4()), SECRET)
    store(secretsmanager, record)
    return record


def record_legacy_list(secretsmanager: FakeSecretsManager, *client_ids: str) -> None:
    secretsmanager.secrets[LEGACY_LIST] = json.dumps({"clientIds": sorted(client_ids)})


def authorize(app: ModuleType, client_id: str, secret: str) -> str:
    """'allow', 'unauthorized' or 'unavailable' (any other failure: the gateway's 503)."""
    event = load_event("authorizer")
    for name, value in (("openpanel-client-id", client_id), ("openpanel-client-secret", secret)):
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    try:
        policy: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    except Exception as exc:  # noqa: BLE001 - how API Gateway tells them apart
        return "unauthorized" if str(exc) == "Unauthorized" else "unavailable"
    assert policy["principalId"] == client_id
    return "allow"


def calls_for(secretsmanager: FakeSecretsManager, action: Any) -> list[str]:
    before = len(secretsmanager.get_calls)
    action()
    return secretsmanager.get_calls[before:]


@pytest.mark.parametrize("version", [4, 8], ids=["uuid4-shaped", "forged signed-shaped"])
def test_random_client_ids_cost_no_client_lookup(authorizer, secretsmanager, version) -> None:
    # Given a stack whose clients created before signed ids are recorded (here: none) and a warm authorizer
    record_legacy_list(secretsmanager)
    record, secret = signed_client(secretsmanager)
    assert authorize(authorizer, record.client_id, secret) == "allow"
    # When 200 requests arrive with random client ids
    outcomes: list[str] = []
    calls = calls_for(
        secretsmanager,
        lambda: outcomes.extend(authorize(authorizer, random_id(version), "sec_x") for _ in range(FLOOD)),
    )
    # Then every one is a 401, and Secrets Manager was asked at most once (the legacy list, once per container)
    assert set(outcomes) == {"unauthorized"}
    assert len(calls) <= 1
    assert not any(call.startswith(PREFIX) and call != LEGACY_LIST for call in calls)


def test_a_cold_authorizer_reads_the_key_once_and_then_refuses_forged_ids_for_free(authorizer, secretsmanager) -> None:
    # Given a cold authorizer, When 200 forged signed-shaped ids arrive
    calls = calls_for(secretsmanager, lambda: [authorize(authorizer, random_id(8), "sec_x") for _ in range(FLOOD)])
    # Then the only call was the stack key's, once
    assert calls == [KEY_SECRET]


def test_a_flood_never_evicts_a_legitimate_clients_cached_record(secretsmanager) -> None:
    # Given a legitimate client, cached by a warm authorizer whose records outlive the flood: 10,001 requests take
    # longer than the usual 30 s cache on a busy 2-core machine, and an expired record is refetched (rightly)
    authorizer = load_function(
        "authorizer",
        {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": "3600"},
    )
    record_legacy_list(secretsmanager)
    record, secret = signed_client(secretsmanager)
    assert authorize(authorizer, record.client_id, secret) == "allow"
    # When more random ids than the cache holds arrive (the old cache was cleared at 10,000)
    for _ in range(clients_module.MAX_CACHED_CLIENTS + 1):
        authorize(authorizer, random_id(4), "sec_x")
    # Then the client is still answered from the cache, with no call
    assert calls_for(secretsmanager, lambda: authorize(authorizer, record.client_id, secret)) == []


def test_a_client_made_before_signed_ids_authenticates_from_the_legacy_list(authorizer, secretsmanager) -> None:
    # Given a UUID4 client recorded on the legacy list
    record = legacy_client(secretsmanager)
    record_legacy_list(secretsmanager, record.client_id)
    # When it authenticates, Then it is allowed
    assert authorize(authorizer, record.client_id, SECRET) == "allow"


def test_before_the_legacy_list_is_recorded_old_clients_work_and_a_flood_costs_a_bounded_number_of_calls(
    authorizer, secretsmanager
) -> None:
    # Given a stack upgraded but not yet migrated (no legacy list), with a client made before signed ids
    record = legacy_client(secretsmanager)
    # When the client authenticates
    assert authorize(authorizer, record.client_id, SECRET) == "allow"
    # And 200 random UUID4 ids arrive at once
    outcomes: list[str] = []
    calls = calls_for(
        secretsmanager, lambda: outcomes.extend(authorize(authorizer, random_id(4), "sec_x") for _ in range(FLOOD))
    )
    # Then they cost at most the lookup budget (the others are 503s: not checked, so never called invalid)
    lookups = [call for call in calls if call != LEGACY_LIST]
    assert len(lookups) <= clients_module.UNLISTED_LOOKUP_BURST
    assert set(outcomes) == {"unauthorized", "unavailable"}
    # And the client keeps working, its record known
    assert authorize(authorizer, record.client_id, SECRET) == "allow"


def test_a_client_not_on_the_legacy_list_is_refused_without_a_lookup(authorizer, secretsmanager) -> None:
    # Given a legacy list that leaves out a UUID4 client (revoked, or created by an older CLI after the list)
    record = legacy_client(secretsmanager)
    record_legacy_list(secretsmanager)
    # When it authenticates, Then it is refused and its record never fetched
    calls = calls_for(secretsmanager, lambda: authorize(authorizer, record.client_id, SECRET))
    assert PREFIX + record.client_id not in calls


# -- the gate on its own, on a clock the test moves ---------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(secretsmanager: FakeSecretsManager, clock: FakeClock) -> IssuedClientLookup:
    records = SecretsManagerClientStore(PREFIX, 30, client=cast("Any", secretsmanager), clock=clock)
    stack_secret = SecretsManagerStackSecret(KEY_SECRET, client=cast("Any", secretsmanager))
    return IssuedClientLookup(records, stack_secret, clock=clock)


def test_a_client_added_to_the_legacy_list_is_admitted_once_the_list_is_reread(gate, secretsmanager, clock) -> None:
    # Given a container that read the legacy list before an old client was added to it
    record = legacy_client(secretsmanager)
    record_legacy_list(secretsmanager)
    assert gate.get_client(record.client_id) is None
    record_legacy_list(secretsmanager, record.client_id)
    # When the client retries within the refresh period, Then it is still refused, without reading the list again
    clock.advance(clients_module.LEGACY_IDS_REFRESH_SECONDS - 1)
    assert calls_for(secretsmanager, lambda: gate.get_client(record.client_id)) == []
    # And once the period has passed, the list is reread (one call) and the client admitted
    clock.advance(1)
    assert gate.get_client(record.client_id) == record


def test_before_the_legacy_list_the_lookup_budget_refills_over_time(gate, secretsmanager, clock) -> None:
    # Given a stack with no legacy list whose budget a flood used up
    for _ in range(clients_module.UNLISTED_LOOKUP_BURST):
        assert gate.get_client(random_id(4)) is None
    with pytest.raises(DependencyUnavailableError):
        gate.get_client(random_id(4))
    # When a second passes, Then one more id is looked up
    clock.advance(1 / clients_module.UNLISTED_LOOKUPS_PER_SECOND)
    assert gate.get_client(random_id(4)) is None
    with pytest.raises(DependencyUnavailableError):
        gate.get_client(random_id(4))


def test_an_expired_record_of_a_known_client_is_refetched_without_the_gate(gate, secretsmanager, clock) -> None:
    # Given an old client found once (before the legacy list), and a flood that used the lookup budget up
    record = legacy_client(secretsmanager)
    assert gate.get_client(record.client_id) == record
    for _ in range(clients_module.UNLISTED_LOOKUP_BURST - 1):
        gate.get_client(random_id(4))
    with pytest.raises(DependencyUnavailableError):
        gate.get_client(random_id(4))
    # When its cached record expires, Then it is refetched: a known id never waits for the budget
    clock.advance(31)
    assert calls_for(secretsmanager, lambda: gate.get_client(record.client_id)) == [PREFIX + record.client_id]


def test_a_signed_id_that_verifies_but_has_no_record_is_looked_up_once_per_negative_period(
    gate, secretsmanager, clock
) -> None:
    # Given a signed id of a deleted client (it verifies: Beacon issued it)
    record, _ = create_client("p", ClientType.WRITE, datetime.now(UTC), id_key=client_id_key(STACK_SECRET.encode()))
    gate.get_client(record.client_id)
    # When it is sent again and again, Then it costs one lookup per negative-cache period, not one per request
    calls = calls_for(secretsmanager, lambda: [gate.get_client(record.client_id) for _ in range(100)])
    assert calls == []
    clock.advance(clients_module.NEGATIVE_CACHE_SECONDS)
    assert calls_for(secretsmanager, lambda: gate.get_client(record.client_id)) == [PREFIX + record.client_id]
