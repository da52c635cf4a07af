"""The dashboard's files and /insights/live over HTTP through the local gateway: public static files (no
credentials) with their cache headers and CSP, gzip for who accepts it, a redirect to the slash the page's relative
URLs need, JSON 404s for anything else; live visitors for read clients only."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import urllib.parse
from collections.abc import Callable

import pytest

from admin.dashboard import vendor

pytestmark = pytest.mark.e2e


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_the_page_and_its_hashed_assets_are_served_without_credentials(gateway_url: str) -> None:
    vendor()
    status, headers, _ = get(f"{gateway_url}/dashboard")
    assert (status, headers["location"]) == (301, "dashboard/")
    status, headers, body = get(f"{gateway_url}/dashboard/", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-cache" and headers["content-encoding"] == "gzip"
    assert "default-src 'none'" in headers["content-security-policy"]
    page = gzip.decompress(body).decode()
    assets = re.findall(r'(?:src|href)="([\w.]+\.[0-9a-f]{8}\.(?:js|css))"', page)
    assert len(assets) == 4
    for asset in assets:
        status, headers, _ = get(f"{gateway_url}/dashboard/{asset}")
        assert status == 200 and headers["cache-control"] == "public, max-age=31536000, immutable", asset
        assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = get(f"{gateway_url}/dashboard/app.js")  # unhashed: not served
    assert status == 404 and json.loads(body)["status"] == 404


def test_live_visitors_for_a_read_client_and_a_write_client_refused(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    writer = create_client(project_id, "write")
    track = json.dumps({"type": "track", "payload": {"name": "screen_view"}}).encode()
    auth = {"openpanel-client-id": writer["clientId"], "openpanel-client-secret": writer["clientSecret"]}
    parts = urllib.parse.urlsplit(gateway_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    connection.request(
        "POST",
        "/track",
        body=track,
        headers={
            **auth,
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        },
    )
    assert connection.getresponse().status == 200
    connection.close()
    reader = create_client(project_id, "read")
    read_auth = {"openpanel-client-id": reader["clientId"], "openpanel-client-secret": reader["clientSecret"]}
    status, _, body = get(f"{gateway_url}/insights/live?projectId={project_id}", read_auth)
    answer = json.loads(body)
    assert status == 200 and answer["visitors"] == 1 and answer["since"].endswith("Z"), answer
    status, _, body = get(f"{gateway_url}/insights/live", auth)
    assert status == 403 and "read or root client" in json.loads(body)["error"]
