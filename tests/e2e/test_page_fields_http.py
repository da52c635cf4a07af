"""A page view sent the way `@openpanel/web` sends it (full URL in `__path`, `document.referrer` in `__referrer`,
`__title`, the SDK headers) is stored and read back with OpenPanel's derived fields, through the local gateway."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.constants import CHROME

pytestmark = pytest.mark.e2e
SDK_HEADERS = {"openpanel-sdk-name": "web", "openpanel-sdk-version": "1.0.1", "User-Agent": CHROME}


def call(url: str, client: dict[str, str], body: Any = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")  # noqa: S310
    for name, value in {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        **headers,
    }.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def screen_view(path: str, referrer: str, title: str) -> dict[str, Any]:
    properties = {"__path": path, "__referrer": referrer, "__title": title}
    return {"type": "track", "payload": {"name": "screen_view", "properties": properties}}


def test_a_web_sdk_screen_view_is_stored_and_read_with_its_page_referrer_and_sdk_fields(
    gateway_url: str, create_client: Any, project_id: str
) -> None:
    # Given a web page's first screen view, arrived at from a search engine with campaign parameters
    writer, reader = create_client(project_id), create_client(project_id, "read")
    url = "https://shop.example.com/products/shoes?utm_medium=cpc&utm_campaign=winter#reviews"
    first = screen_view(url, "https://www.google.com/", "Shoes")
    assert call(f"{gateway_url}/track", writer, first, **SDK_HEADERS)[0] == 200
    # And a second page view of the same visit, whose referrer is the shop itself
    second = screen_view("https://shop.example.com/cart", "https://shop.example.com/products/shoes", "Cart")
    assert call(f"{gateway_url}/track", writer, second, **SDK_HEADERS)[0] == 200

    # When a read client exports the project's screen views
    query = urllib.parse.urlencode({"projectId": project_id, "event": "screen_view"})
    status, page = call(f"{gateway_url}/export/events?{query}", reader)

    # Then the first carries the page's path and origin, its query and fragment as properties, the classified
    # referrer without its trailing slash, and the SDK
    assert status == 200
    cart, shoes = page["data"]  # newest first
    assert (shoes["path"], shoes["origin"]) == ("/products/shoes", "https://shop.example.com")
    assert shoes["properties"] == {
        "__title": "Shoes",
        "__query": {"utm_medium": "cpc", "utm_campaign": "winter"},
        "__hash": "#reviews",
    }
    assert (shoes["referrer"], shoes["referrerName"], shoes["referrerType"]) == (
        "https://www.google.com",
        "Google",
        "search",
    )
    assert (shoes["sdkName"], shoes["sdkVersion"]) == ("web", "1.0.1")
    # And the second page view, whose own referrer is the same site, still says the visit came from Google
    assert (cart["path"], cart["sessionId"]) == ("/cart", shoes["sessionId"])
    assert (cart["referrer"], cart["referrerName"], cart["referrerType"]) == (
        "https://www.google.com",
        "Google",
        "search",
    )
    # with the visit's campaign parameters, which the session remembers (issue 16 item 3)
    assert cart["properties"] == {"__title": "Cart", "__query": {"utm_medium": "cpc", "utm_campaign": "winter"}}
    # And an anonymous visitor's events count as its device's, as OpenPanel counts users
    assert shoes["profileId"] == shoes["deviceId"] != ""


def test_a_campaign_source_in_the_page_query_names_the_referrer(gateway_url: str, create_client: Any, project_id: str):
    # Given a page view with utm_source=Facebook (any case) and no referrer, as a link in an app would give
    writer, reader = create_client(project_id), create_client(project_id, "read")
    body = screen_view("https://shop.example.com/?utm_source=FaceBook", "", "Home")
    assert call(f"{gateway_url}/track", writer, body, **SDK_HEADERS)[0] == 200

    # Then the source is named from the query, with no referrer URL
    [event] = call(f"{gateway_url}/export/events?projectId={project_id}&event=screen_view", reader)[1]["data"]
    assert (event["referrer"], event["referrerName"], event["referrerType"]) == ("", "Facebook", "social")


def test_an_event_that_identifies_its_user_is_that_users_event(
    gateway_url: str, create_client: Any, project_id: str
) -> None:
    # Given a track event with __identify naming a user (and no profileId of its own)
    writer, reader = create_client(project_id), create_client(project_id, "root")
    identify = {"profileId": "user-7", "email": "u7@example.com"}
    body = {"type": "track", "payload": {"name": "signup", "properties": {"__identify": identify}}}
    # from a browser: a server agent's event (urllib's own) opens no session (docs/DESIGN.md §49)
    assert call(f"{gateway_url}/track", writer, body, **{"User-Agent": CHROME})[0] == 200

    # When the user's events are read
    status, page = call(f"{gateway_url}/profile/user-7/events?projectId={project_id}", reader)

    # Then the event is the user's (and so is the session_start it opened), and the profile was written with it
    assert status == 200
    assert [(event["name"], event["profileId"]) for event in page["data"]] == [
        ("signup", "user-7"),
        ("session_start", "user-7"),
    ]
    assert call(f"{gateway_url}/profile/user-7?projectId={project_id}", reader)[1]["email"] == "u7@example.com"


def test_a_second_page_view_in_the_session_inherits_the_classified_referrer(
    gateway_url: str, create_client: Any, project_id: str
) -> None:
    # Given a visit that arrives from Google's search results on a campaign URL
    writer, reader = create_client(project_id), create_client(project_id, "read")
    landing = "https://shop.example.com/?utm_source=google&utm_medium=cpc"
    first = screen_view(landing, "https://www.google.com/", "Home")
    assert call(f"{gateway_url}/track", writer, first, **SDK_HEADERS)[0] == 200

    # When the visitor moves on within the site (document.referrer is now the shop itself)
    second = screen_view("https://shop.example.com/cart", landing, "Cart")
    assert call(f"{gateway_url}/track", writer, second, **SDK_HEADERS)[0] == 200

    # Then both page views (and the session_start) say Google, search, and carry the campaign
    query = urllib.parse.urlencode({"projectId": project_id})
    status, page = call(f"{gateway_url}/export/events?{query}", reader)
    assert status == 200
    got = sorted(
        (e["name"], e["path"], e["referrer"], e["referrerName"], e["referrerType"], e["properties"].get("__query"))
        for e in page["data"]
    )
    campaign = {"utm_source": "google", "utm_medium": "cpc"}
    assert got == [
        ("screen_view", "/", "https://www.google.com", "Google", "search", campaign),
        ("screen_view", "/cart", "https://www.google.com", "Google", "search", campaign),
        ("session_start", "/", "https://www.google.com", "Google", "search", campaign),
    ]


def test_the_export_takes_openpanels_page_numbers_and_repeated_event_names(
    gateway_url: str, create_client: Any, project_id: str
) -> None:
    # Given a session of three page views and a signup (five events with its session_start)
    writer, reader = create_client(project_id), create_client(project_id, "read")
    for path in ("/", "/pricing", "/signup"):
        view = screen_view(f"https://shop.example.com{path}", "", "Shop")
        assert call(f"{gateway_url}/track", writer, view, **SDK_HEADERS)[0] == 200
    signup = {"type": "track", "payload": {"name": "signup", "properties": {}}}
    assert call(f"{gateway_url}/track", writer, signup, **SDK_HEADERS)[0] == 200

    # When a read client asks page by page for two of the names, as OpenPanel's export is asked
    def page(number: int) -> dict[str, Any]:
        query = urllib.parse.urlencode(
            [("projectId", project_id), ("event", "screen_view"), ("event", "signup"), ("limit", "3"),
             ("page", str(number))]
        )  # fmt: skip
        status, body = call(f"{gateway_url}/export/events?{query}", reader)
        assert status == 200, body
        return dict(body)

    first, second = page(1), page(2)

    # Then the pages hold the four events once each, and the last one says the total
    names = sorted(e["name"] for e in first["data"] + second["data"])
    assert names == ["screen_view", "screen_view", "screen_view", "signup"]
    assert (first["meta"]["current"], first["meta"]["totalCount"]) == (1, None)
    assert (second["meta"]["current"], second["meta"]["totalCount"], second["meta"]["pages"]) == (2, 4, 2)


def test_the_region_is_the_subdivisions_name_with_its_code_beside_it(
    gateway_url: str, create_client: Any, project_id: str
) -> None:
    # Given a page view whose viewer headers name the subdivision
    writer, reader = create_client(project_id), create_client(project_id, "read")
    viewer = {
        "CloudFront-Viewer-Country": "GB",
        "CloudFront-Viewer-Country-Region": "ENG",
        "CloudFront-Viewer-Country-Region-Name": "England",
    }
    body = screen_view("https://shop.example.com/", "", "Home")
    assert call(f"{gateway_url}/track", writer, body, **SDK_HEADERS, **viewer)[0] == 200

    # When it is exported, Then region is the name, as OpenPanel's is, and the code is kept as regionCode
    query = urllib.parse.urlencode({"projectId": project_id, "event": "screen_view"})
    [event] = call(f"{gateway_url}/export/events?{query}", reader)[1]["data"]
    assert (event["geo"]["region"], event["geo"]["regionCode"]) == ("England", "ENG")
