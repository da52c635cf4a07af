"""A realistic, seeded mix of track-function requests, as API Gateway REST proxy events with the authorizer's context.

Mostly ``track`` from browsers (page views, clicks, carts, searches, unicode text, sometimes ``__identify``,
``profileId`` or ``groups``), some from server SDKs (secret-authenticated: ``__timestamp``, ``__revenue``,
``__ip``), a few identify / increment / decrement / group / assign_group / alias, and ``/track/batch`` of 20-50
events from server SDKs. Senders are the 100 real agents of tests/unit/enrich/test_useragent.py (a few bots
among them, which are answered 202) from varied public IPv4 and IPv6 addresses, with the full set of CloudFront
viewer headers, the country alone, or none. Every (device, body) pair is unique, so no request of a round is
taken for another's accidental double send.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.enrich.test_useragent import BOTS, TABLE

SEED = 8
REQUESTS = 300
PROJECT = "bench-project"
WEB_CLIENT = "5d0c8f3a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
SERVER_CLIENT = "9e8d7c6b-5a49-4382-9171-605f4e3d2c1b"
ORIGIN = "https://shop.example.com"

# (country, country name, region, region name, city, postal code, time zone, latitude, longitude), as CloudFront
# sends them: non-ASCII percent-encoded.
PLACES = [
    ("GB", "United Kingdom", "ENG", "England", "London", "EC1A", "Europe/London", "51.50853", "-0.12574"),
    ("DE", "Germany", "BY", "Bavaria", "M%C3%BCnchen", "80331", "Europe/Berlin", "48.13743", "11.57549"),
    ("US", "United States", "NY", "New York", "New%20York", "10001", "America/New_York", "40.71427", "-74.00597"),
    ("JP", "Japan", "13", "Tokyo", "Tokyo", "100-0001", "Asia/Tokyo", "35.6895", "139.69171"),
    ("BR", "Brazil", "SP", "S%C3%A3o%20Paulo", "Campinas", "13010", "America/Sao_Paulo", "-22.90556", "-47.06083"),
    ("FR", "France", "IDF", "%C3%8Ele-de-France", "Paris", "75001", "Europe/Paris", "48.85341", "2.3488"),
    ("IN", "India", "MH", "Maharashtra", "Mumbai", "400001", "Asia/Kolkata", "19.07283", "72.88261"),
    ("SE", "Sweden", "AB", "Stockholm", "Stockholm", "111 20", "Europe/Stockholm", "59.33258", "18.0649"),
]
PAGES = [
    "/",
    "/pricing",
    "/docs/getting-started",
    "/blog/2026/launch",
    "/p/sku-1042",
    "/cart",
    "/checkout",
    "/account",
    # As the web SDK sends them: the full URL, campaign parameters and fragments included
    "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale",
    "/p/sku-1042?ref=producthunt#reviews",
    "/blog/2026/launch?utm_source=Google&utm_medium=cpc&utm_campaign=brand&gclid=EAIaIQobChMI8f3k2",
    "/docs/getting-started#install",
]
TITLES = ["Home", "Pricing — Beacon", "Getting started", "We launched!", "Wool socks (3 pairs)", "Cart", "Checkout"]
REFERRERS = [
    "",
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://t.co/x1",
    "https://duckduckgo.com/",
    ORIGIN + "/pricing",  # same site: the previous page
    "https://www.bing.com/search?q=product+analytics",
    "https://l.facebook.com/",
    "https://chatgpt.com/",
]
UNICODE = ["Très bien — 很好 🎉", "Zürich · Genève", "Привет, мир", "שלום", "東京都渋谷区", "naïve café ☕", "Ελληνικά"]
FIRST_NAMES = ["Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Giulia", "Hiro"]


@dataclass
class Device:
    user_agent: str
    ip: str
    server: bool  # a server SDK with its secret (secretAuth true); else a browser or app without one
    bot: bool
    place: tuple[str, ...] | None
    geo: str  # "full", "country" or "none"


@dataclass
class MixRequest:
    kind: str  # the request's type, or "batch"
    path: str
    body: str
    device: Device
    events: int = 1  # a batch of k counts as k events
    tracked: int = 0  # track events it should store
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def batch(self) -> bool:
        return self.path == "/track/batch"

    @property
    def expected_status(self) -> int:
        return 202 if self.device.bot and not self.device.server else 200


def _public_ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2a02:{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    first = rng.choice([31, 46, 62, 77, 81, 85, 88, 92, 94, 109, 151, 176, 185, 188, 193, 212, 213, 217])
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _devices(rng: random.Random) -> list[Device]:
    devices = []
    for case in TABLE:
        geo = rng.choices(["full", "country", "none"], weights=[5, 3, 2])[0]
        devices.append(Device(case.agent, _public_ip(rng), case.device == "server", False, rng.choice(PLACES), geo))
    for agent, _, _ in BOTS[:6]:
        devices.append(Device(agent, _public_ip(rng), False, True, rng.choice(PLACES), "country"))
    return devices


def _profile(rng: random.Random) -> str:
    return f"user-{rng.randrange(400)}"


def _track_properties(rng: random.Random, device: Device, now: datetime) -> dict[str, Any]:
    shape = rng.choices(
        ["page", "click", "nested", "list", "unicode", "purchase", "empty"], [30, 15, 15, 10, 10, 8, 5]
    )[0]
    if shape == "page":
        properties: dict[str, Any] = {
            "__path": ORIGIN + rng.choice(PAGES),
            "__referrer": rng.choice(REFERRERS),
            "__title": rng.choice(TITLES),
        }
    elif shape == "click":
        properties = {"button": rng.choice(["signup", "buy", "share"]), "variant": "b", "position": rng.randrange(9)}
        properties["visible"] = rng.random() < 0.5
    elif shape == "nested":
        properties = {
            "product": {
                "id": f"sku-{rng.randrange(5000)}",
                "name": rng.choice(TITLES),
                "price": round(rng.uniform(1, 300), 2),
                "currency": rng.choice(["EUR", "USD", "GBP"]),
                "categories": rng.sample(["apparel", "socks", "wool", "sale", "gift"], 2),
            },
            "cart": {"items": rng.randrange(1, 9), "total": round(rng.uniform(5, 900), 2)},
            "utm": {"source": "newsletter", "medium": "email", "campaign": f"spring-{rng.randrange(9)}"},
        }
    elif shape == "list":
        properties = {
            "query": rng.choice(["wool socks", "gift card", "size 42", "返品"]),
            "results": rng.randrange(200),
            "filters": rng.sample(["size:m", "color:red", "brand:acme", "price:<50", "in-stock"], 3),
            "pages": [rng.randrange(1, 20) for _ in range(rng.randrange(1, 6))],
        }
    elif shape == "unicode":
        properties = {"title": rng.choice(UNICODE), "rating": rng.randrange(1, 6), "city": rng.choice(UNICODE)}
    elif shape == "purchase":
        properties = {
            "order_id": f"ord-{rng.randrange(10**8)}",
            "items": [
                {"sku": f"sku-{rng.randrange(5000)}", "qty": rng.randrange(1, 4), "price": round(rng.uniform(3, 90), 2)}
                for _ in range(rng.randrange(1, 4))
            ],
            "coupon": rng.choice([None, "SPRING10"]),
        }
        if device.server:
            properties["__revenue"] = rng.randrange(100, 20000)  # revenue needs the client's secret
    else:
        properties = {}
    if device.server:
        if rng.random() < 0.5:
            ago = timedelta(seconds=rng.randrange(1, 600))
            properties["__timestamp"] = (now - ago).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if rng.random() < 0.2:
            properties["__ip"] = _public_ip(rng)
    if rng.random() < 0.1:
        properties["__identify"] = {
            "profileId": _profile(rng),
            "email": f"{rng.choice(FIRST_NAMES).lower()}.{rng.randrange(999)}@example.com",
            "firstName": rng.choice(FIRST_NAMES),
            "properties": {"plan": rng.choice(["free", "pro", "team"])},
        }
    return properties


def _track(rng: random.Random, device: Device, now: datetime) -> dict[str, Any]:
    name = rng.choice(["screen_view", "click", "add_to_cart", "search", "review", "purchase", "app_open"])
    payload: dict[str, Any] = {"name": name, "properties": _track_properties(rng, device, now)}
    if rng.random() < 0.4:
        payload["profileId"] = _profile(rng)
    if rng.random() < 0.1:
        payload["groups"] = [f"org-{rng.randrange(30)}"]
    return {"type": "track", "payload": payload}


def _profile_request(kind: str, rng: random.Random, index: int) -> dict[str, Any]:
    profile = _profile(rng)
    if kind == "identify":
        first = rng.choice(FIRST_NAMES)
        payload: dict[str, Any] = {
            "profileId": profile,
            "firstName": first,
            "lastName": rng.choice(["Lind", "Moreau", "Sato", "Okafor", "Rossi"]),
            "email": f"{first.lower()}.{rng.randrange(999)}@example.com",
            "avatar": f"https://cdn.example.com/avatars/{rng.randrange(999)}.png",
            "properties": {"plan": rng.choice(["free", "pro"]), "signup": {"source": "ads", "ab": ["x", "y"]}},
        }
    elif kind in ("increment", "decrement"):
        payload = {"profileId": profile, "property": rng.choice(["counters.logins", "counters.credits", "visits"])}
        if rng.random() < 0.5:
            payload["value"] = rng.randrange(1, 10)
    elif kind == "group":
        payload = {
            "id": f"org-{rng.randrange(30)}",
            "type": "company",
            "name": rng.choice(["Acme GmbH", "Globex", "Initech", "Søstrene Grene"]),
            "properties": {"plan": "enterprise", "seats": rng.randrange(5, 500)},
        }
    elif kind == "assign_group":
        payload = {"groupIds": [f"org-{rng.randrange(30)}", f"team-{rng.randrange(90)}"]}
        if rng.random() < 0.7:
            payload["profileId"] = profile
    else:  # alias: each anonymous id is aliased to one profile
        payload = {"profileId": profile, "alias": f"anon-{index}"}
    return {"type": kind, "payload": payload}


def _body(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)  # as JSON.stringify sends it


def build_mix(count: int = REQUESTS, seed: int = SEED) -> list[MixRequest]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    now = datetime.now(UTC)
    devices = _devices(rng)
    seen: set[tuple[str, str, str]] = set()
    requests: list[MixRequest] = []
    kinds = ["track", "identify", "increment", "decrement", "group", "assign_group", "alias", "batch"]
    while len(requests) < count:
        kind = rng.choices(kinds, weights=[78, 5, 3, 2, 2, 2, 2, 6])[0]
        # Batches and aliases come from servers (an alias needs the client secret: docs/API.md).
        device = rng.choice([d for d in devices if d.server] if kind in ("batch", "alias") else devices)
        if kind == "batch":
            items = [
                _track(rng, device, now) if rng.random() < 0.9 else _profile_request("identify", rng, len(requests))
                for _ in range(rng.randrange(20, 51))
            ]
            batch: dict[str, Any] = {"batch": items}
            if rng.random() < 0.5:
                batch["sentAt"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            tracked = sum(1 for item in items if item["type"] == "track")
            request = MixRequest(kind, "/track/batch", _body(batch), device, len(items), tracked)
        elif kind == "track":
            request = MixRequest(kind, "/track", _body(_track(rng, device, now)), device)
            request.tracked = 0 if request.expected_status == 202 else 1
        else:
            request = MixRequest(kind, "/track", _body(_profile_request(kind, rng, len(requests))), device)
        key = (device.user_agent, device.ip, request.body)
        if key in seen:
            continue
        seen.add(key)
        request.headers = _headers(rng, request)
        requests.append(request)
    return requests


def _headers(rng: random.Random, request: MixRequest) -> dict[str, str]:
    """What API Gateway (EDGE, so through CloudFront) hands the function."""
    device = request.device
    headers = {
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate, br",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Desktop-Viewer": "true",
        "CloudFront-Is-Mobile-Viewer": "false",
        "CloudFront-Is-SmartTV-Viewer": "false",
        "CloudFront-Is-Tablet-Viewer": "false",
        "Content-Type": "application/json",
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "openpanel-client-id": SERVER_CLIENT if device.server else WEB_CLIENT,
        "User-Agent": device.user_agent,
        "Via": "2.0 5f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": f"{rng.getrandbits(160):040x}",
        "X-Amzn-Trace-Id": f"Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}",
        "X-Forwarded-For": f"{device.ip}, 130.176.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if device.server:
        headers |= {
            "openpanel-client-secret": "sec_bench-not-a-real-secret",
            "openpanel-sdk-name": "node",
            "openpanel-sdk-version": "1.0.0",
        }
    else:
        headers |= {"Origin": ORIGIN, "Referer": ORIGIN + "/", "Accept-Language": "en-GB,en;q=0.9"}
        headers |= {"openpanel-sdk-name": "web", "openpanel-sdk-version": "1.0.1"}
    if request.batch and rng.random() < 0.5:
        headers["openpanel-sent-at"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if device.place is not None and device.geo != "none":
        country, name, region, region_name, city, postal, zone, latitude, longitude = device.place
        headers["CloudFront-Viewer-Country"] = country
        if device.geo == "full":
            headers |= {
                "CloudFront-Viewer-Country-Name": name,
                "CloudFront-Viewer-Country-Region": region,
                "CloudFront-Viewer-Country-Region-Name": region_name,
                "CloudFront-Viewer-City": city,
                "CloudFront-Viewer-Postal-Code": postal,
                "CloudFront-Viewer-Time-Zone": zone,
                "CloudFront-Viewer-Latitude": latitude,
                "CloudFront-Viewer-Longitude": longitude,
            }
    return headers


def proxy_event(request: MixRequest, number: int) -> dict[str, Any]:
    """A fresh REST proxy event (the handler may keep or change what it is given)."""
    device = request.device
    context = {
        "projectId": PROJECT,
        "clientId": SERVER_CLIENT if device.server else WEB_CLIENT,
        "clientType": "write",
        "secretAuth": "true" if device.server else "false",
        "allowedOrigin": "" if device.server else ORIGIN,
        "principalId": SERVER_CLIENT if device.server else WEB_CLIENT,
        "integrationLatency": 3,
    }
    request_id = f"bench-{number:06d}"
    return {
        "resource": request.path,
        "path": request.path,
        "httpMethod": "POST",
        "headers": dict(request.headers),
        "multiValueHeaders": {name: [value] for name, value in request.headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": context,
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": request_id,
            "httpMethod": "POST",
            "identity": {
                "sourceIp": device.ip,
                "userAgent": device.user_agent,
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "user": None,
                "userArn": None,
            },
            "path": f"/v1{request.path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": "22/Nov/2026:16:28:14 +0000",
            "requestTimeEpoch": 1795364894153,
            "resourceId": "abc123",
            "resourcePath": request.path,
            "stage": "v1",
        },
        "body": request.body,
        "isBase64Encoded": False,
    }
