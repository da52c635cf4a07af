"""GET /openapi.json and GET /docs over HTTP through the local gateway: public, no credentials, the committed
document as it is, and a page that loads nothing but itself."""

from __future__ import annotations

import json
import urllib.request
from html.parser import HTMLParser

import pytest

from tests.constants import ROOT

pytestmark = pytest.mark.e2e


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - 127.0.0.1 only
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.cells.append(data)


def test_the_openapi_document_is_served_without_credentials(gateway_url):
    # When anyone asks for /openapi.json, with no credentials at all
    status, headers, body = get(f"{gateway_url}/openapi.json")
    # Then it is the committed document, as JSON
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == json.loads((ROOT / "docs" / "openapi.json").read_text())


def test_wrong_credentials_do_not_matter_on_the_document(gateway_url):
    # Given credentials of no client: no authorizer runs on the route
    wrong = {"openpanel-client-id": "00000000-0000-4000-8000-000000000000", "openpanel-client-secret": "x"}
    status, _, body = get(f"{gateway_url}/openapi.json", wrong)
    assert status == 200 and json.loads(body)["openapi"] == "3.1.0"


def test_the_docs_page_lists_every_operation_and_loads_nothing_else(gateway_url):
    # When a person opens /docs
    status, headers, body = get(f"{gateway_url}/docs")
    # Then it is an HTML page listing each operation of the document, linking to the document
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = Links()
    page.feed(body.decode())
    text = " ".join(page.cells)
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    for path in document["paths"]:
        assert path in text, path
    assert page.links == ["openapi.json"]
    # And it cannot load scripts or anything from elsewhere
    assert "script" not in page.tags
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"
