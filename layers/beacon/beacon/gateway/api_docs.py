"""The API describing itself: `GET /openapi.json` (the committed OpenAPI document, shipped in the layer) and
`GET /docs` (a small HTML page of its operations, made from that document).

Both are public: the document is published in the repository anyway and says nothing about any stack. The file is
read, and the page rendered, once per container and only when asked for, so the track function's cold start does not
pay for them.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "data" / "openapi.json"
# The page has no script, image, font or frame: nothing may load but its own inline style.
DOCS_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "public, max-age=300",
}
DOCUMENT_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;"
    "vertical-align:top}code{font-size:.95em}.m{font-weight:600;text-transform:uppercase}"
)


@cache
def openapi_text() -> str:
    return DOCUMENT_PATH.read_text(encoding="utf-8")


def _needs(security: list[dict[str, list[str]]]) -> str:
    """What a caller must send, from the operation's alternatives of security schemes."""
    if not security:
        return "nothing"
    if any("clientSecret" not in alternative for alternative in security):
        return "client id (a browser, from an allowed origin), or id and secret"
    return "client id and secret"


def _row(method: str, path: str, operation: dict[str, Any]) -> str:
    return (
        f'<tr><td class="m">{html.escape(method)}</td><td><code>{html.escape(path)}</code></td>'
        f"<td>{html.escape(operation.get('summary', ''))}</td>"
        f"<td>{html.escape(_needs(operation.get('security', [])))}</td></tr>"
    )


@cache
def docs_page() -> str:
    """Every operation of the document, by path, with what it needs; the document itself is linked for the rest."""
    document = json.loads(openapi_text())
    info = document.get("info", {})
    rows = "".join(
        _row(method, path, operation)
        for path, operations in document.get("paths", {}).items()
        for method, operation in operations.items()
    )
    title = html.escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{html.escape(info.get('description', ''))}</p>"
        '<p>The whole description, with every field and error: <a href="openapi.json">openapi.json</a> '
        "(OpenAPI 3.1). Credentials go in the <code>openpanel-client-id</code> and "
        "<code>openpanel-client-secret</code> headers.</p>"
        "<table><thead><tr><th>method</th><th>path</th><th>what</th><th>needs</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )
