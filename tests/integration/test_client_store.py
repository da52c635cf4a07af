"""Client records in the Secrets Manager emulator, and the client CLI's provisioning path."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from admin.clients import provision_client
from beacon.domain.auth import authenticate
from beacon.errors import InvalidCredentialsError
from beacon.store.clients import SecretsManagerClientStore

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def store(secretsmanager: Any, template_env: dict[str, str]) -> SecretsManagerClientStore:
    return SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=60, client=secretsmanager)


def client_args(project: str, **overrides: Any) -> argparse.Namespace:
    values = {"project": project, "type": "write", "origin": "", "rate": None, "burst": None, **overrides}
    return argparse.Namespace(**values)


def test_provisioned_client_authenticates_with_its_secret_only(store, project_id):
    # Given a client provisioned the way `make client` does
    record, secret = provision_client(store, client_args(project_id))
    # When it authenticates with its secret, Then it is its project's caller
    caller = authenticate(record.client_id, secret, None, store, NOW).caller
    assert (caller.project_id, caller.client_id, caller.secret_auth) == (project_id, record.client_id, True)
    # And another secret is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, secret + "x", None, store, NOW)


def test_secret_holds_a_hash_never_the_plain_secret(store, secretsmanager, project_id):
    # Given a provisioned client
    record, secret = provision_client(store, client_args(project_id, origin="https://a.example,https://b.example"))
    # When its Secrets Manager secret is read
    stored = secretsmanager.get_secret_value(SecretId=store.secret_name(record.client_id))["SecretString"]
    # Then the plain secret is nowhere in it, and options not yet enforced are kept
    assert secret not in stored
    body = json.loads(stored)
    assert body["origins"] == ["https://a.example", "https://b.example"]
    assert body["projectId"] == project_id


def test_unknown_client_is_none(store):
    assert store.get_client("00000000-0000-4000-8000-000000000000") is None
