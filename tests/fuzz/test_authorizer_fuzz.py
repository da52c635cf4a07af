"""The REQUEST authorizer in-process, with arbitrary credential headers and a working client store: it either
raises exactly "Unauthorized" (API Gateway's 401) or returns an allow policy, never anything else; and it
allows only the stored client with its secret, or without a secret from one of its allowed origins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.constants import CLIENT_ID
from tests.fuzz.strategies import HEADER_EDGE_CHARACTERS, examples, header_texts, header_values
from tests.unit.support.fakes import FakeClientLookup, client_record
from tests.unit.support.handlers import FakeLambdaContext, load_event, load_function

SECRET = "sec_fuzz-known-secret"
ORIGIN = "https://shop.example"
OTHER_CLIENT_ID = "0b8f7a4e-1f0e-4d7b-9b36-5a1f7c0f2d10"
OTHER_SECRET = "sec_other-project-secret"

edge_suffixes = st.sampled_from(["", *HEADER_EDGE_CHARACTERS, " ", "\t", "\r\n"])
# The real credentials are drawn often, so that the allow paths are explored as much as the refusals.
client_ids = st.one_of(
    st.just(CLIENT_ID),
    st.just(CLIENT_ID.upper()),
    st.just(OTHER_CLIENT_ID),
    st.sampled_from(["", " ", f" {CLIENT_ID}", CLIENT_ID[:-1], CLIENT_ID.replace("-", "")]),
    st.builds(lambda suffix: CLIENT_ID + suffix, edge_suffixes),
    st.uuids().map(str),
    header_values,
)
secrets = st.one_of(
    st.just(SECRET),
    st.just(OTHER_SECRET),
    st.sampled_from(["", SECRET.upper(), SECRET[:-1], "x" * 257]),
    st.builds(lambda suffix: SECRET + suffix, edge_suffixes),
    st.builds(lambda prefix: prefix + SECRET, edge_suffixes),
    header_values,
)
origins = st.one_of(
    st.just(ORIGIN),
    st.sampled_from([ORIGIN + "/", "https://shop.example:443", "http://shop.example", "null", ""]),
    st.sampled_from(["https://evil.example", "https://shop.example.evil.example", "https://evilshop.example"]),
    header_values,
)
HEADER_NAMES = {
    "id": ["openpanel-client-id", "OpenPanel-Client-Id", "OPENPANEL-CLIENT-ID"],
    "secret": ["openpanel-client-secret", "Openpanel-Client-Secret"],
    "origin": ["origin", "Origin"],
}


@pytest.fixture(scope="module")
def authorizer() -> Iterator[ModuleType]:
    app: Any = load_function(
        "authorizer",
        {"CLIENT_SECRET_PREFIX": "beacon/fuzz/clients/", "CLIENT_ID_KEY_SECRET": "beacon/fuzz/client-id-key"},
    )
    browser = client_record(CLIENT_ID, SECRET, project_id="project-a")
    lookup = FakeClientLookup(
        replace(browser, origins=(ORIGIN,)), client_record(OTHER_CLIENT_ID, OTHER_SECRET, project_id="project-b")
    )
    app.client_store = lambda: lookup
    yield app


@st.composite
def authorizer_events(draw: st.DrawFn) -> dict[str, Any]:
    request = load_event("authorizer")
    headers = {
        name: value for name, value in request["headers"].items() if not name.lower().startswith("openpanel-client")
    }
    for kind, values in (("id", client_ids), ("secret", secrets), ("origin", origins)):
        # Absent, once, or several times under differently cased names (a duplicated header).
        for name in draw(st.lists(st.sampled_from(HEADER_NAMES[kind]), max_size=2, unique=True)):
            headers[name] = draw(values)
    headers.update(draw(st.dictionaries(header_texts, header_values, max_size=2)))
    request["headers"] = headers
    request["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    return request


def effective(request: dict[str, Any], name: str) -> str | None:
    """The header value the authorizer reads (Powertools' case-insensitive view of the event's headers)."""
    value: str | None = APIGatewayAuthorizerRequestEvent(request).headers.get(name)
    return value


def same_origin(origin: str | None) -> bool:
    """The allowed origin, as a URL parser reads it (tabs and line breaks dropped, case-insensitive)."""
    text = "".join(character for character in origin or "" if character not in "\t\r\n").lower()
    return text.startswith(ORIGIN) and text[len(ORIGIN) :] in ("", "/", ":443", ":443/")


@settings(max_examples=examples(400))
@given(request=authorizer_events())
def test_authorizer_answers_unauthorized_or_a_policy_for_its_client_only(
    authorizer: ModuleType, request: dict[str, Any]
) -> None:
    try:
        policy = authorizer.lambda_handler(request, FakeLambdaContext())
    except Exception as refused:  # noqa: BLE001 - the exact type and message are the assertion
        # Refused: exactly what API Gateway maps to 401, nothing else
        assert type(refused) is Exception and str(refused) == "Unauthorized", repr(refused)
        event("refused")
        return
    # Allowed: an Allow policy for the client whose credentials these are
    client_id = (effective(request, "openpanel-client-id") or "").lower()
    secret, origin = effective(request, "openpanel-client-secret"), effective(request, "origin")
    statements = policy["policyDocument"]["Statement"]
    assert {statement["Effect"] for statement in statements} == {"Allow"}
    assert policy["principalId"] == client_id
    assert uuid.UUID(client_id)
    if client_id == CLIENT_ID:
        assert secret == SECRET or (secret is None and same_origin(origin)), (secret, origin)
        assert policy["context"]["projectId"] == "project-a"
    else:
        assert (client_id, secret) == (OTHER_CLIENT_ID, OTHER_SECRET)
        assert policy["context"]["projectId"] == "project-b"
    assert policy["context"]["secretAuth"] is (secret is not None)
    event("allowed with a secret" if secret is not None else "allowed from an origin")
