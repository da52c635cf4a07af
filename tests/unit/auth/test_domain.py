"""Client authentication: who may send events for which project."""

from __future__ import annotations

import uuid

import pytest

from beacon.domain.auth import MAX_SECRET_LENGTH, ClientRecord, authenticate, create_client, hash_secret
from beacon.domain.entities import Caller, ClientType
from beacon.errors import InvalidCredentialsError
from beacon.store.clients import client_record_to_secret
from tests.constants import CLIENT_ID_KEY, NOW
from tests.unit.support.fakes import FakeClientLookup, client_record


def new_client(project_id: str = "project-a") -> tuple[ClientRecord, str]:
    return create_client(project_id, ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)


# -- create_client -------------------------------------------------------------------------------------


def test_create_client_returns_a_record_whose_hash_verifies_the_returned_secret() -> None:
    # Given / When a new client is created
    record, secret = new_client()

    # Then the stored hash is the keyed hash of the secret shown to the user
    assert record.secret_hash == hash_secret(secret, record.secret_salt)
    assert record.project_id == "project-a"
    assert record.client_type is ClientType.WRITE
    assert uuid.UUID(record.client_id).version == 8  # a signed id (docs/DESIGN.md §4); ids made before are UUID4s
    assert record.created_at == NOW.isoformat()


def test_create_client_never_stores_the_plain_secret() -> None:
    # Given a new client
    record, secret = new_client()

    # When the record is written the way it is stored
    stored = client_record_to_secret(record) + repr(record)

    # Then the plain secret appears nowhere in it
    assert secret not in stored
    assert secret[4:] not in stored  # not even without its "sec_" prefix


def test_create_client_gives_every_client_its_own_id_salt_and_secret() -> None:
    # Given two clients of the same project
    first, first_secret = new_client()
    second, second_secret = new_client()

    # Then nothing is shared between them
    assert first.client_id != second.client_id
    assert first.secret_salt != second.secret_salt
    assert first_secret != second_secret


def test_create_client_secret_is_long_random_and_within_the_accepted_length() -> None:
    # Given / When a client is created
    _, secret = new_client()

    # Then the secret carries 256 bits (43 url-safe characters) and can be authenticated with
    assert secret.startswith("sec_")
    assert len(secret) >= 4 + 43
    assert len(secret) <= MAX_SECRET_LENGTH


@pytest.mark.parametrize(
    "project_id",
    [
        pytest.param("a#b", id="key separator"),
        pytest.param("", id="empty"),
        pytest.param("p" * 65, id="65 characters"),
        pytest.param("-leading-dash", id="leading dash"),
        pytest.param("has space", id="space"),
        pytest.param("a/b", id="slash"),
        pytest.param("projet-é", id="non-ascii"),
    ],
)
def test_create_client_rejects_bad_project_ids(project_id: str) -> None:
    # Given a project id that cannot be used safely inside DynamoDB keys
    # When a client is created for it / Then it is refused
    with pytest.raises(ValueError, match="project id"):
        create_client(project_id, ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)


@pytest.mark.parametrize("project_id", ["a", "p" * 64, "My_Project-2"])
def test_create_client_accepts_project_ids_of_1_to_64_safe_characters(project_id: str) -> None:
    # Given / When a client is created for a well-formed project id
    record, _ = create_client(project_id, ClientType.READ, NOW, id_key=CLIENT_ID_KEY)

    # Then the record belongs to that project
    assert record.project_id == project_id


def test_project_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="project id"):
        create_client("project-a\n", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)


# -- authenticate ----------------------------------------------------------------------------------


def test_authenticate_returns_the_caller_of_valid_credentials() -> None:
    # Given a stored client and its secret
    record, secret = new_client("project-a")
    clients = FakeClientLookup(record)

    # When it authenticates
    caller = authenticate(record.client_id, secret, None, clients, NOW).caller

    # Then the caller is that client of that project, authenticated by secret
    assert caller == Caller(
        project_id="project-a",
        client_id=record.client_id,
        client_type=ClientType.WRITE,
        secret_auth=True,
    )


def test_authenticate_accepts_a_client_id_in_upper_case() -> None:
    # Given a stored client, and its id as some tools print UUIDs
    record, secret = new_client()
    clients = FakeClientLookup(record)

    # When it authenticates with the upper-case id
    caller = authenticate(record.client_id.upper(), secret, None, clients, NOW).caller

    # Then it is the same client
    assert caller.client_id == record.client_id


def test_authenticate_rejects_a_wrong_secret() -> None:
    # Given a stored client
    record, _ = new_client()
    clients = FakeClientLookup(record)

    # When it authenticates with another secret / Then it is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, "sec_wrong", None, clients, NOW)


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n", "x"])
def test_authenticate_rejects_the_secret_with_anything_appended(suffix: str) -> None:
    # Given a stored client, and its secret with a trailing newline (as `echo` or a .env file adds)
    record, secret = new_client()
    clients = FakeClientLookup(record)

    # When it authenticates / Then it is refused: secrets are compared exactly
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, secret + suffix, None, clients, NOW)


def test_authenticate_rejects_a_prefix_of_the_secret() -> None:
    # Given a stored client
    record, secret = new_client()
    clients = FakeClientLookup(record)

    # When it authenticates with a truncated secret / Then it is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, secret[:-1], None, clients, NOW)


def test_authenticate_rejects_a_client_of_project_a_with_another_clients_secret() -> None:
    # Given a client of project A and a client of project B
    client_a, _ = new_client("project-a")
    client_b, secret_b = new_client("project-b")
    clients = FakeClientLookup(client_a, client_b)

    # When A's id is sent with B's secret / Then it is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(client_a.client_id, secret_b, None, clients, NOW)


def test_authenticate_rejects_an_unknown_client() -> None:
    # Given no stored clients
    clients = FakeClientLookup()

    # When a well-formed but unknown id authenticates / Then it is refused
    with pytest.raises(InvalidCredentialsError):
        authenticate(str(uuid.uuid4()), "sec_anything", None, clients, NOW)


@pytest.mark.parametrize(
    "client_id",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("../other", id="path traversal"),
        pytest.param("not-a-uuid", id="not a uuid"),
        pytest.param("3f1f0c1e8c9a4c1e9d557a0c2d6e5b11", id="uuid without hyphens"),
        pytest.param("{3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11}", id="uuid in braces"),
        pytest.param("urn:uuid:3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", id="uuid urn"),
        pytest.param(" 3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", id="leading space"),
        pytest.param("3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11/../x", id="uuid with a path"),
    ],
)
def test_authenticate_rejects_a_malformed_client_id_without_looking_it_up(client_id: str | None) -> None:
    # Given a stored client whose id the malformed ones resemble
    secret = "sec_known-secret"
    clients = FakeClientLookup(client_record("3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11", secret))

    # When a malformed id authenticates
    with pytest.raises(InvalidCredentialsError):
        authenticate(client_id, secret, None, clients, NOW)

    # Then it is refused before any Secrets Manager lookup (junk never costs a call)
    assert clients.lookups == []


@pytest.mark.parametrize("secret", [None, ""], ids=["missing", "empty"])
def test_authenticate_rejects_a_missing_secret_without_looking_it_up(secret: str | None) -> None:
    # Given a stored client
    record, _ = new_client()
    clients = FakeClientLookup(record)

    # When it authenticates without a secret
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, secret, None, clients, NOW)

    # Then it is refused before any lookup
    assert clients.lookups == []


def test_authenticate_rejects_an_overlong_secret_even_if_its_hash_would_match() -> None:
    # Given a client whose stored hash is that of a secret longer than the maximum
    overlong = "s" * (MAX_SECRET_LENGTH + 1)
    record = client_record(str(uuid.uuid4()), overlong)
    clients = FakeClientLookup(record)

    # When it authenticates with that secret
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, overlong, None, clients, NOW)

    # Then it is refused on length alone, before any lookup
    assert clients.lookups == []


def test_authenticate_accepts_a_secret_of_the_maximum_length() -> None:
    # Given a client whose secret is exactly the maximum length
    longest = "s" * MAX_SECRET_LENGTH
    record = client_record(str(uuid.uuid4()), longest)

    # When it authenticates / Then it is accepted
    assert (
        authenticate(record.client_id, longest, None, FakeClientLookup(record), NOW).caller.client_id
        == record.client_id
    )


def test_every_credentials_failure_reads_the_same() -> None:
    # Given a stored client
    record, secret = new_client()
    clients = FakeClientLookup(record)
    attempts: list[tuple[str | None, str | None]] = [
        (record.client_id, "sec_wrong"),
        (str(uuid.uuid4()), secret),
        ("../other", secret),
        (record.client_id, None),
    ]

    # When each kind of bad credentials is tried
    messages = set()
    for client_id, attempt_secret in attempts:
        with pytest.raises(InvalidCredentialsError) as caught:
            authenticate(client_id, attempt_secret, None, clients, NOW)
        messages.add((caught.value.status, caught.value.message))

    # Then the answer never says which part was wrong
    assert messages == {(401, "Invalid client credentials")}
