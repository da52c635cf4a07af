"""Browser SDKs over HTTP: only a client id and the page's Origin, the gateway's own CORS preflight, and what
a browser may not do without a secret (revenue), through the local gateway, the authorizer and the function."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest

from beacon.domain.auth import create_client
from beacon.domain.entities import ClientType
from beacon.store.clients import SecretsManagerClientStore
from beacon.store.projects import DynamoDBProjectSettingsStore
from local.template import GatewayResponse, read_template
from tests.constants import CHROME, GOOGLEBOT

pytestmark = pytest.mark.e2e
ALLOWED_ORIGINS = ("https://app.example.com", "*.example.org")
INVALID_CREDENTIALS = {"error": "Invalid client credentials", "status": 401}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: Any  # parsed JSON; None for an empty body


def call(url: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw, status, response_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, response_headers = error.read(), error.code, error.headers
    return Answer(status, response_headers, json.loads(raw) if raw else None)


def track(
    gateway_url: str,
    client: dict[str, str],
    headers: dict[str, str],
    properties: dict[str, Any] | None = None,
    name: str = "page_view",
) -> Answer:
    """An event as @openpanel/web sends it: the client id, no secret (unless given in headers)."""
    body = {"type": "track", "payload": {"name": name, "properties": properties or {}}}
    sent = {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-sdk-name": "web",
        "User-Agent": CHROME,
    }
    return call(f"{gateway_url}/track", body=body, headers={**sent, **headers})


@pytest.fixture(scope="module")
def unauthorized() -> GatewayResponse:
    return read_template().gateway_responses()["UNAUTHORIZED"]


@pytest.fixture
def create_browser_client(
    secretsmanager: Any, template_env: dict[str, str], client_id_key: bytes
) -> Callable[..., dict[str, str]]:
    """Like conftest's create_client, for a client with allowed origins."""
    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)

    def make(project: str, origins: tuple[str, ...] = ALLOWED_ORIGINS) -> dict[str, str]:
        record, secret = create_client(
            project, ClientType.WRITE, datetime.now(UTC), origins=origins, id_key=client_id_key
        )
        store.put_client(record)
        return {"clientId": record.client_id, "clientSecret": secret, "projectId": project}

    return make


def test_a_page_on_an_allowed_origin_sends_events_with_only_the_client_id(
    gateway_url, create_browser_client, project_id, stored_events
):
    # Given a client that allows https://app.example.com
    client = create_browser_client(project_id)
    # When a page there sends an event without a secret
    answer = track(gateway_url, client, {"Origin": "https://app.example.com"})
    # Then it is stored, and the browser may read the answer: its origin is echoed, varying by Origin
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Origin" in answer.headers.get_all("Vary", [])
    [event] = stored_events(project_id)
    assert event["clientId"] == client["clientId"]


def test_a_subdomain_of_a_wildcard_origin_is_allowed(gateway_url, create_browser_client, project_id, stored_events):
    # Given a client that allows *.example.org
    client = create_browser_client(project_id)
    # When a page on shop.example.org sends an event without a secret
    answer = track(gateway_url, client, {"Origin": "https://shop.example.org"})
    # Then it is stored and its origin echoed
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example.org"
    assert len(stored_events(project_id)) == 1


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://evil.example.com", id="other-origin"),
        pytest.param("http://app.example.com", id="other-scheme"),
        pytest.param("https://example.org", id="wildcard-parent-domain"),
        pytest.param("null", id="null-origin"),
        pytest.param(None, id="no-origin"),
    ],
)
def test_without_a_secret_any_other_origin_is_401(
    gateway_url, create_browser_client, project_id, stored_events, unauthorized, origin
):
    # Given a browser client
    client = create_browser_client(project_id)
    # When an event comes without a secret from an origin the client does not allow (or from none)
    answer = track(gateway_url, client, {} if origin is None else {"Origin": origin})
    # Then the gateway's UNAUTHORIZED response answers in JSON, readable by any page, and nothing is stored
    assert (answer.status, answer.body) == (401, INVALID_CREDENTIALS)
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Access-Control-Allow-Origin"] == unauthorized.headers["Access-Control-Allow-Origin"].static
    assert stored_events(project_id) == []


def test_preflight_is_answered_by_the_gateway_without_credentials(gateway_url):
    # Given nothing but a browser about to send an event cross-origin (no client, no credentials: the
    # authorizer would refuse this request, so an answer shows the gateway answered alone)
    # When it preflights POST /track
    answer = call(
        f"{gateway_url}/track",
        method="OPTIONS",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,openpanel-client-id,openpanel-sdk-name",
        },
    )
    # Then the gateway allows the method and the headers the SDKs send, with an empty body
    assert (answer.status, answer.body) == (200, None)
    allowed_headers = answer.headers["Access-Control-Allow-Headers"].split(",")
    assert {"content-type", "openpanel-client-id", "openpanel-client-secret"} <= set(allowed_headers)
    assert "POST" in answer.headers["Access-Control-Allow-Methods"].split(",")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert int(answer.headers["Access-Control-Max-Age"]) > 0


def test_preflight_of_an_unknown_path_is_404(gateway_url):
    answer = call(f"{gateway_url}/nope", method="OPTIONS", headers={"Origin": "https://app.example.com"})
    assert (answer.status, answer.body) == (404, {"error": "Not found", "status": 404})


def test_revenue_without_a_secret_is_401_and_stores_nothing(
    gateway_url, create_browser_client, project_id, stored_events
):
    # Given a browser client on an allowed origin
    client = create_browser_client(project_id)
    # When the page sends an event with revenue and no secret
    answer = track(gateway_url, client, {"Origin": "https://app.example.com"}, {"__revenue": 1999})
    # Then it is refused in the API's JSON error shape, and nothing is stored
    assert answer.status == 401 and answer.body["status"] == 401, answer.body
    assert set(answer.body) == {"error", "status"} and "secret" in answer.body["error"]
    assert stored_events(project_id) == []


def test_a_bot_on_an_allowed_origin_without_a_secret_is_202_and_stores_nothing(
    gateway_url, create_browser_client, project_id, stored_events
):
    # Given a browser client
    client = create_browser_client(project_id)
    # When Googlebot renders an allowed page that sends an event without a secret
    answer = track(gateway_url, client, {"Origin": "https://app.example.com", "User-Agent": GOOGLEBOT})
    # Then the bot is named in a 202 and nothing is stored
    assert (answer.status, answer.body) == (202, {"bot": {"name": "Googlebot", "type": "crawler"}})
    assert stored_events(project_id) == []


def test_the_same_bot_user_agent_with_the_secret_is_stored(
    gateway_url, create_browser_client, project_id, stored_events
):
    # Given the same client, used by a server SDK with its secret
    client = create_browser_client(project_id)
    # When an event comes with Googlebot's user agent and the secret
    headers = {"Origin": "https://app.example.com", "User-Agent": GOOGLEBOT}
    answer = track(gateway_url, client, {**headers, "openpanel-client-secret": client["clientSecret"]})
    # Then it is stored: server SDKs are never bot-filtered
    assert answer.status == 200, answer.body
    assert len(stored_events(project_id)) == 1


def test_a_read_client_cannot_send_events_even_with_its_secret(gateway_url, create_client, project_id, stored_events):
    # Given a read client
    client = create_client(project_id, ClientType.READ.value)
    # When it sends an event with its secret
    answer = track(gateway_url, client, {"openpanel-client-secret": client["clientSecret"]})
    # Then it is forbidden, in JSON, and nothing is stored
    assert answer.status == 403 and answer.body["status"] == 403, answer.body
    assert set(answer.body) == {"error", "status"}
    assert answer.headers["Content-Type"] == "application/json"
    assert stored_events(project_id) == []


def test_alias_from_a_page_is_401_so_a_visitor_cannot_take_over_a_profile(
    gateway_url, create_browser_client, create_client, project_id
):
    # Given a victim's profile, identified by the site's server
    client = create_browser_client(project_id)
    server = create_client(project_id, "write")
    secret = {"openpanel-client-secret": server["clientSecret"], "openpanel-client-id": server["clientId"]}
    identify = {"type": "identify", "payload": {"profileId": "victim", "firstName": "Vic"}}
    assert call(f"{gateway_url}/track", body=identify, headers={**secret, "User-Agent": CHROME}).status == 200

    # When a visitor, with only the public client id and the page's Origin, aliases the victim to itself
    alias = {"type": "alias", "payload": {"profileId": "attacker", "alias": "victim"}}
    headers = {"openpanel-client-id": client["clientId"], "Origin": "https://app.example.com", "User-Agent": CHROME}
    answer = call(f"{gateway_url}/track", body=alias, headers=headers)

    # Then it is a 401 (issue 15, finding 2), and the server's own alias of the victim still works
    assert answer.status == 401 and answer.body["status"] == 401
    own = {"type": "alias", "payload": {"profileId": "victim", "alias": "victim-2"}}
    assert call(f"{gateway_url}/track", body=own, headers={**secret, "User-Agent": CHROME}).status == 200


FORGED_IP_HEADERS = (
    {"X-Forwarded-For": "8.8.8.8, 127.0.0.1"},
    {"x-client-ip": "8.8.8.8"},
    {"openpanel-client-ip": "8.8.8.8"},
)


@pytest.fixture
def project_settings(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBProjectSettingsStore:
    return DynamoDBProjectSettingsStore(template_env["ENTITIES_TABLE"], client=dynamodb, cache_seconds=0)


@pytest.mark.parametrize("forged", FORGED_IP_HEADERS, ids=lambda headers: ",".join(headers))
def test_a_page_cannot_pass_the_ip_filter_by_naming_another_address(
    gateway_url, create_browser_client, project_settings, project_id, stored_events, forged
):
    # Given a project that blocks the network the page connects from (the local gateway sees loopback)
    project_settings.change_filters(project_id, block_ips=["127.0.0.0/8"])
    client = create_browser_client(project_id)
    # When the page names another address in a forwarded-IP header, without a secret
    answer = track(gateway_url, client, {"Origin": "https://app.example.com", **forged})
    # Then the address the gateway saw is filtered: refused, nothing stored
    assert (answer.status, answer.body) == (401, {"error": "Blocked by the project's IP filter", "status": 401})
    assert stored_events(project_id) == []


def test_a_project_that_allows_unsafe_revenue_tracking_stores_a_pages_revenue(
    gateway_url, create_browser_client, project_settings, project_id, stored_events
):
    # Given a project whose operator allowed revenue from browsers (`beacon projects filters
    # --allow-unsafe-revenue-tracking`)
    project_settings.set_unsafe_revenue_tracking(project_id, True)
    client = create_browser_client(project_id)
    # When the page sends a `revenue` event and another event with __revenue, without a secret
    origin = {"Origin": "https://app.example.com"}
    revenue = track(gateway_url, client, origin, {"__revenue": 1999, "plan": "pro"}, name="revenue")
    other = track(gateway_url, client, origin, {"__revenue": 500}, name="checkout")
    # Then both are stored; only the event named `revenue` counts revenue, as OpenPanel does
    assert (revenue.status, other.status) == (200, 200), (revenue.body, other.body)
    by_name = {event["name"]: event for event in stored_events(project_id) if event["name"] != "session_start"}
    assert by_name["revenue"]["revenue"] == 1999 and by_name["revenue"]["properties"] == {"plan": "pro"}
    assert by_name["checkout"].get("revenue") is None and by_name["checkout"]["properties"] == {}


def test_switching_unsafe_revenue_tracking_off_refuses_a_pages_revenue_again(
    gateway_url, create_browser_client, project_settings, project_id, stored_events
):
    # Given a project that allowed browser revenue and then turned it off
    project_settings.set_unsafe_revenue_tracking(project_id, True)
    project_settings.set_unsafe_revenue_tracking(project_id, False)
    client = create_browser_client(project_id)
    # When the page sends revenue without a secret
    answer = track(gateway_url, client, {"Origin": "https://app.example.com"}, {"__revenue": 1}, name="revenue")
    # Then it is a 401 again and nothing is stored
    assert answer.status == 401 and "secret" in answer.body["error"], answer.body
    assert stored_events(project_id) == []


def test_a_page_cannot_mint_device_ids_or_forge_its_location(
    gateway_url, create_browser_client, project_id, stored_events
):
    # Given a page on an allowed origin
    client = create_browser_client(project_id)
    origin = {"Origin": "https://app.example.com"}
    plain = track(gateway_url, client, origin)
    # When it sends events naming other addresses and a location of its choosing
    forged = [  # (distinct properties: identical events would be dropped as a double send)
        track(gateway_url, client, {**origin, **headers, "CloudFront-Viewer-Country": "KP"}, {"n": n})
        for n, headers in enumerate(FORGED_IP_HEADERS)
    ]
    # Then every event is the same device, and no location was attributed from the page's headers
    assert {answer.body["deviceId"] for answer in [plain, *forged]} == {plain.body["deviceId"]}
    events = stored_events(project_id)
    assert len(events) == 4 and all("geo" not in event for event in events)
