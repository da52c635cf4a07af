"""Client records in the Secrets Manager emulator, and the client CLI's provisioning path."""

from __future__ import annotations

import argparse
import json
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from admin.clients import ClientTarget, parse_args, provision_client, run
from beacon.domain.auth import ClientRecord, authenticate, create_client
from beacon.domain.entities import ClientType
from beacon.errors import InvalidCredentialsError
from beacon.store.clients import IssuedClientLookup, SecretsManagerClientStore, read_client_id_key
from beacon.store.device_salt import SecretsManagerStackSecret

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def store(secretsmanager: Any, template_env: dict[str, str]) -> SecretsManagerClientStore:
    return SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=60, client=secretsmanager)


@pytest.fixture
def id_key(secretsmanager: Any, template_env: dict[str, str]) -> bytes:
    """The test stack's client-id key, from its generated secret."""
    return read_client_id_key(template_env["CLIENT_ID_KEY_SECRET"], secretsmanager)


def client_args(project: str, **overrides: Any) -> argparse.Namespace:
    values = {"project": project, "type": "write", "origin": "", "rate": None, "burst": None, **overrides}
    return argparse.Namespace(**values)


def test_provisioned_client_authenticates_with_its_secret_only(store, id_key, project_id):
    # Given a client provisioned the way `make client` does
    record, secret = provision_client(store, client_args(project_id), id_key)
    # When it authenticates with its secret, Then it is its project's caller
    caller = authenticate(record.client_id, secret, None, store, NOW).caller
    assert (caller.project_id, caller.client_id, caller.secret_auth) == (project_id, record.client_id, True)
    # And another secret is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, secret + "x", None, store, NOW)


def test_secret_holds_a_hash_never_the_plain_secret(store, secretsmanager, id_key, project_id):
    # Given a provisioned client
    record, secret = provision_client(
        store, client_args(project_id, origin="https://a.example,https://b.example"), id_key
    )
    # When its Secrets Manager secret is read
    stored = secretsmanager.get_secret_value(SecretId=store.secret_name(record.client_id))["SecretString"]
    # Then the plain secret is nowhere in it, and options not yet enforced are kept
    assert secret not in stored
    body = json.loads(stored)
    assert body["origins"] == ["https://a.example", "https://b.example"]
    assert body["projectId"] == project_id


def test_unknown_client_is_none(store):
    assert store.get_client("00000000-0000-4000-8000-000000000000") is None


# -- the authorizer's gate, on the emulator (a prefix of their own: the shared prefix's legacy list stays untouched) --


@pytest.fixture
def records(secretsmanager: Any) -> SecretsManagerClientStore:
    return SecretsManagerClientStore(f"beacon/test-{uuid.uuid4().hex[:12]}/clients/", 30, client=secretsmanager)


@pytest.fixture
def lookup(records: SecretsManagerClientStore, secretsmanager: Any, template_env: dict[str, str]) -> IssuedClientLookup:
    """As the authorizer composes it: the stack's key secret, read at first need."""
    return IssuedClientLookup(records, SecretsManagerStackSecret(template_env["CLIENT_ID_KEY_SECRET"], secretsmanager))


def legacy_record(records: SecretsManagerClientStore, project_id: str) -> tuple[ClientRecord, str]:
    """A client as Beacon made them before signed ids: a UUID4 id."""
    record, secret = create_client(project_id, ClientType.WRITE, NOW, id_key=b"unused")
    record = replace(record, client_id=str(uuid.uuid4()))
    records.put_client(record)
    return record, secret


def random_ids(version: int, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        raw = bytearray(os.urandom(16))
        raw[6], raw[8] = (raw[6] & 0x0F) | (version << 4), (raw[8] & 0x3F) | 0x80
        ids.append(str(uuid.UUID(bytes=bytes(raw))))
    return ids


def test_200_random_client_ids_cost_no_get_secret_value(records, lookup, id_key, get_secret_value_calls, project_id):
    # Given a migrated stack (its old client on the legacy list) and a new client, both authenticated once
    old, old_secret = legacy_record(records, project_id)
    records.put_legacy_client_ids([old.client_id])
    new, new_secret = provision_client(records, client_args(project_id), id_key)
    authenticate(old.client_id, old_secret, None, lookup, NOW)
    authenticate(new.client_id, new_secret, None, lookup, NOW)
    first_calls = list(get_secret_value_calls)
    get_secret_value_calls.clear()
    # When 200 random UUID4 ids and 200 random version-8 ids are sent
    for client_id in random_ids(4, 200) + random_ids(8, 200):
        with pytest.raises(InvalidCredentialsError):
            authenticate(client_id, "sec_guess", None, lookup, NOW)
    # Then none of them cost a call (the first requests read the key, the list and the two records, once each)
    assert get_secret_value_calls == []
    assert len(first_calls) == 4


def test_legacy_ids_lets_exactly_the_clients_made_before_signed_ids_in(
    records, lookup, id_key, get_secret_value_calls, project_id, capsys
):
    # Given a stack with two clients made before signed ids, one of them revoked, and a signed one
    kept, kept_secret = legacy_record(records, project_id)
    revoked, revoked_secret = legacy_record(records, project_id)
    records.update_client(replace(revoked, revoked_at=NOW.isoformat()))
    provision_client(records, client_args(project_id), id_key)
    # When `beacon clients legacy-ids` records them
    run(parse_args(["legacy-ids"]), ClientTarget(store=records))
    assert json.loads(capsys.readouterr().out) == {"legacyClientIds": [kept.client_id]}
    # Then the old client authenticates, and the revoked one and a random UUID4 are refused without a lookup
    assert authenticate(kept.client_id, kept_secret, None, lookup, NOW).caller.client_id == kept.client_id
    get_secret_value_calls.clear()
    for client_id, secret in ((revoked.client_id, revoked_secret), (str(uuid.uuid4()), "sec_guess")):
        with pytest.raises(InvalidCredentialsError):
            authenticate(client_id, secret, None, lookup, NOW)
    assert get_secret_value_calls == []


def test_list_clients_skips_the_legacy_list(records, id_key, project_id):
    record, _ = provision_client(records, client_args(project_id), id_key)
    records.put_legacy_client_ids([])
    assert [listed.client_id for listed in records.list_clients()] == [record.client_id]
