"""The local stack's state files hold secrets (the device-salt stack secret; the clients' secret hashes): only their
owner may read them, whatever the umask, and files left readable by an older version are fixed on start."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from admin.clients import save_local_client
from beacon.domain.auth import create_client
from beacon.domain.entities import ClientType
from local.stack import seed_clients, seed_generated_secrets
from local.template import read_template
from tests.constants import CLIENT_ID_KEY, NOW


class FakeSecrets:
    """The Secrets Manager calls the seeding makes, in memory."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def get_paginator(self, name: str) -> Any:
        secrets = self.secrets

        class Paginator:
            def paginate(self) -> list[dict[str, Any]]:
                return [{"SecretList": [{"Name": name} for name in secrets]}]

        return Paginator()

    def create_secret(self, Name: str, SecretString: str) -> None:
        self.secrets[Name] = SecretString


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_generated_secrets_are_written_for_their_owner_only(tmp_path: Path) -> None:
    # Given a state directory that does not exist yet
    path = tmp_path / "state" / "generated-secrets.json"

    # When the template's generated secrets are seeded and kept there
    seed_generated_secrets(FakeSecrets(), read_template(), path)

    # Then the file is 0600 and its directory 0700
    assert json.loads(path.read_text())
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)


@pytest.mark.usefixtures("permissive_umask")
def test_the_local_clients_file_is_written_for_its_owner_only(tmp_path: Path) -> None:
    # Given a client saved to the local clients file in a new state directory
    path = tmp_path / "state" / "clients.json"
    record, _ = create_client("shop", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)

    # When it is saved (a new file), and saved again (the file replaced)
    save_local_client(record, path)
    assert mode(path) == 0o600
    save_local_client(record, path)

    # Then the file stays 0600 and its directory is 0700, and no temporary file is left behind
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    assert [entry.name for entry in path.parent.iterdir()] == ["clients.json"]


@pytest.mark.usefixtures("permissive_umask")
def test_state_files_left_readable_are_made_private_on_start(tmp_path: Path) -> None:
    # Given state written by an older version: a world-readable directory and files
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    clients = state / "clients.json"
    record, _ = create_client("shop", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)
    save_local_client(record, clients)
    generated = state / "generated-secrets.json"
    generated.write_text(json.dumps({"DeviceSaltSecret": "kept-value"}))
    for path, old in ((clients, 0o644), (generated, 0o644), (state, 0o755)):
        path.chmod(old)

    # When the stack starts and seeds from them
    secrets = FakeSecrets()
    seed_clients(secrets, read_template(), clients)
    seed_generated_secrets(secrets, read_template(), generated)

    # Then both files are 0600 and the directory 0700, with their contents kept
    assert (mode(clients), mode(generated), mode(state)) == (0o600, 0o600, 0o700)
    assert json.loads(generated.read_text())["DeviceSaltSecret"] == "kept-value"
    assert len(json.loads(clients.read_text())) == 1


@pytest.mark.usefixtures("permissive_umask")
def test_a_shared_directory_is_left_as_it_is(tmp_path: Path) -> None:
    # Given BEACON_STATE_DIR pointed at a shared, sticky directory such as /tmp
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)

    # When a state file is written there, Then the file is private but the shared directory keeps its mode
    save_local_client(create_client("shop", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)[0], shared / "clients.json")
    assert (mode(shared / "clients.json"), mode(shared)) == (0o600, 0o1777)
