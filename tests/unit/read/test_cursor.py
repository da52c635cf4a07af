"""Page cursors: signed, bound to the project and the endpoint, any change detected."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from beacon.domain.reads import CursorState
from beacon.errors import InvalidRequestError
from tests.unit.support.read_fakes import cursor_codec

STATE = CursorState(
    project="project-a",
    kind="export",
    start="2026-11-21T12:00:00.000Z",
    end="2026-11-22T12:00:00.000Z",
    event="page_view",
    profile="a1",
    canonical="1",
    after="2026-11-22T11:00:00.000Z#019cb0e7b8a0aaaaaaaaaaaaaaaa",
)


def _payload(token: str) -> dict[str, Any]:
    encoded = token.split(".")[0]
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return payload


def _with_payload(token: str, payload: dict[str, Any]) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{encoded}.{token.split('.')[1]}"


def _refused(token: str, project: str = "project-a", kind: str = "export") -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as refusal:
        cursor_codec().decode(token, project, kind)  # type: ignore[arg-type]
    assert refusal.value.status == 400
    assert refusal.value.details and refusal.value.details[0]["field"] == "cursor"
    return refusal.value


def test_a_cursor_decodes_to_the_state_it_was_made_from():
    # Given a cursor made for project-a's export
    token = cursor_codec().encode(STATE)
    # When the same project reads it back at the same endpoint
    # Then it is the same state, and it is URL-safe text
    assert cursor_codec().decode(token, "project-a", "export") == STATE
    assert all(character.isalnum() or character in "-_." for character in token)


def test_a_cursor_whose_position_was_changed_is_refused():
    # Given a cursor whose JSON is edited to start somewhere else, signature kept
    token = cursor_codec().encode(STATE)
    edited = _with_payload(token, {**_payload(token), "after": "2026-11-22T11:59:59.999Z#ffff"})
    # When it is used, Then it is refused
    _refused(edited)


def test_a_cursor_moved_to_another_project_is_refused_even_with_its_signature():
    # Given a valid cursor of project-a, edited to name project-b (and one left as is)
    token = cursor_codec().encode(STATE)
    edited = _with_payload(token, {**_payload(token), "project": "project-b"})
    # When project-b's client sends either, Then both are refused
    _refused(edited, project="project-b")
    _refused(token, project="project-b")


def test_a_cursor_of_another_endpoint_is_refused():
    token = cursor_codec().encode(STATE)
    _refused(token, kind="profile")


def test_a_cursor_signed_with_another_stacks_key_is_refused():
    # Given a cursor from a stack with another secret
    token = cursor_codec(b"another stack's secret").encode(STATE)
    # When it is sent here, Then it is refused
    _refused(token)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="no-signature"),
        pytest.param("a.b.c", id="three-parts"),
        pytest.param("!!!.???", id="not-base64"),
        pytest.param("é.é", id="not-ascii"),
        pytest.param(".", id="empty-parts"),
    ],
)
def test_garbage_is_refused_as_an_invalid_cursor(token):
    _refused(token)


def test_a_flipped_signature_bit_is_refused():
    token = cursor_codec().encode(STATE)
    payload, mac = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(mac + "="))
    raw[0] ^= 1
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    _refused(f"{payload}.{flipped}")


def test_the_secret_is_fetched_once_and_only_when_a_cursor_is_needed():
    # Given a codec whose secret source counts its calls
    calls = []

    def secret() -> bytes:
        calls.append(1)
        return b"s"

    from beacon.domain.reads import CursorCodec

    codec = CursorCodec(secret)
    # When nothing is encoded, no secret is fetched; when several cursors are, it is fetched once
    assert calls == []
    token = codec.encode(STATE)
    codec.decode(token, "project-a", "export")
    codec.encode(STATE)
    assert calls == [1]
