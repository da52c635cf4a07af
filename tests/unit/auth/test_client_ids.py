"""Signed client ids: a UUID whose second half is a MAC of its first under the stack's key (docs/DESIGN.md §4), so the
authorizer refuses an id Beacon never issued before any lookup."""

from __future__ import annotations

import uuid

import pytest

from beacon.domain.auth import (
    client_id_key,
    client_id_signature_valid,
    create_client,
    is_client_id,
    is_signed_client_id,
    new_client_id,
)
from beacon.domain.entities import ClientType
from tests.constants import NOW

KEY = client_id_key(b"unit-stack-secret")
OTHER_STACK_KEY = client_id_key(b"another-stack-secret")


def test_a_new_client_id_is_a_version_8_uuid_that_verifies_under_its_stacks_key() -> None:
    client_id = new_client_id(KEY)
    parsed = uuid.UUID(client_id)
    assert (parsed.version, parsed.variant) == (8, uuid.RFC_4122)
    assert is_client_id(client_id) and is_signed_client_id(client_id)
    assert client_id_signature_valid(client_id, KEY)


def test_a_client_id_of_another_stack_does_not_verify() -> None:
    assert not client_id_signature_valid(new_client_id(OTHER_STACK_KEY), KEY)


def test_the_key_is_derived_from_the_stack_secret_for_client_ids_alone() -> None:
    # Given the stack secret, the key is an HMAC of a label of its own: never the secret itself
    assert KEY != b"unit-stack-secret"
    assert client_id_key(b"unit-stack-secret") == KEY


def test_changing_any_hex_digit_of_a_signed_id_breaks_its_signature() -> None:
    client_id = new_client_id(KEY)
    for position, digit in enumerate(client_id):
        if digit == "-" or position == 14:  # the version digit makes it another kind of id
            continue
        changed = client_id[:position] + ("0" if digit != "0" else "1") + client_id[position + 1 :]
        if not is_client_id(changed):
            continue  # the variant digit: no longer a UUID at all
        assert not client_id_signature_valid(changed, KEY), position


def test_random_version_8_ids_do_not_verify() -> None:
    forged = [str(uuid.UUID(bytes=uuid.uuid4().bytes[:6] + b"\x80" + uuid.uuid4().bytes[7:])) for _ in range(1000)]
    assert all(is_signed_client_id(client_id) for client_id in forged)
    assert not any(client_id_signature_valid(client_id, KEY) for client_id in forged)


def test_ids_made_before_signed_ids_are_uuid4_and_not_signed() -> None:
    legacy = str(uuid.uuid4())
    assert is_client_id(legacy) and not is_signed_client_id(legacy)


@pytest.mark.parametrize("client_type", list(ClientType))
def test_create_client_issues_signed_ids_only(client_type: ClientType) -> None:
    ids = {create_client("project-a", client_type, NOW, id_key=KEY)[0].client_id for _ in range(20)}
    assert len(ids) == 20
    assert all(is_signed_client_id(client_id) and client_id_signature_valid(client_id, KEY) for client_id in ids)
