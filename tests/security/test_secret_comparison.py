"""How a secret is compared: HMAC digests of equal length through hmac.compare_digest, whose answer alone
decides; and only the exact secret matches (no trimming, no case folding, no prefix)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.domain.auth import authenticate, create_client, hash_secret
from beacon.domain.entities import ClientType
from beacon.errors import InvalidCredentialsError
from tests.constants import CLIENT_ID_KEY
from tests.unit.support.fakes import FakeClientLookup

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def stored() -> tuple[Any, str]:
    return create_client("project-a", ClientType.WRITE, NOW, id_key=CLIENT_ID_KEY)


class CompareDigestSpy:
    def __init__(self, answer: bool | None = None) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self._answer = answer
        self._real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self._real(a, b) if self._answer is None else self._answer


def test_the_secret_is_checked_with_compare_digest_on_equal_length_digests(stored, monkeypatch):
    # Given a stored client and a spy in place of hmac.compare_digest
    record, secret = stored
    spy = CompareDigestSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)

    # When the client authenticates with its secret
    authenticated = authenticate(record.client_id, secret, None, FakeClientLookup(record), NOW)

    # Then the comparison went through compare_digest, on the keyed hashes (never the plain secret)
    assert authenticated.caller.client_id == record.client_id
    assert spy.calls and set(spy.calls) == {(hash_secret(secret, record.secret_salt), record.secret_hash)}
    assert all(len(a) == len(b) and secret not in (a, b) for a, b in spy.calls)


@pytest.mark.parametrize(("verdict", "secret_kind"), [(False, "right"), (True, "wrong")])
def test_compare_digest_alone_decides(stored, monkeypatch, verdict, secret_kind):
    # Given compare_digest forced to one answer
    record, secret = stored
    spy = CompareDigestSpy(answer=verdict)
    monkeypatch.setattr(hmac, "compare_digest", spy)
    sent = secret if secret_kind == "right" else "sec_wrong"

    # When a client authenticates, Then the outcome is compare_digest's: no other comparison short-cuts it
    if verdict:
        assert authenticate(record.client_id, sent, None, FakeClientLookup(record), NOW).caller
    else:
        with pytest.raises(InvalidCredentialsError):
            authenticate(record.client_id, sent, None, FakeClientLookup(record), NOW)
    assert spy.calls


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda s: s + "\n", id="trailing-newline"),
        pytest.param(lambda s: s + "\r\n", id="trailing-crlf"),
        pytest.param(lambda s: s + " ", id="trailing-space"),
        pytest.param(lambda s: " " + s, id="leading-space"),
        pytest.param(lambda s: s + "\t", id="trailing-tab"),
        pytest.param(lambda s: s + "\x00", id="trailing-nul"),
        pytest.param(lambda s: s.upper(), id="upper-case"),
        pytest.param(lambda s: s[:-1], id="prefix"),
        pytest.param(lambda s: s + s, id="doubled"),
    ],
)
def test_only_the_exact_secret_matches(stored, spoil):
    record, secret = stored
    with pytest.raises(InvalidCredentialsError):
        authenticate(record.client_id, spoil(secret), None, FakeClientLookup(record), NOW)
