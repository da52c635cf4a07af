"""The browser harness: a real OpenPanel SDK from npm, in Debian's headless Chromium, driven by Playwright for
Python, against the local gateway.

What a browser test gets here (issues 17 and 19 reuse it):
- `chromium_executable`: the system Chromium (`make browser` installs Debian's package when missing). Without
  it the browser tests are skipped with a message, except under `CI=true`, where a missing browser fails.
- `browser`: one headless Chromium per test module. Its resolver maps `REFERRER_HOSTS` (real sites such as
  www.google.com) to 127.0.0.1, so a page served here can stand in for them and a click from it gives the next
  page a real `document.referrer`. Nothing leaves the machine: every mapped host is loopback.
- `site`: a static HTTP server on 127.0.0.1, serving the pages a test adds and the SDK's builds under `/sdk/`
  straight from node_modules (no CDN). Reach it as `site.url(host, path)`, with `localhost`, `127.0.0.1` or a
  mapped host: different hosts are different origins and sites to the browser.
- `browser_clients(origins)`: a fresh project with a write client allowed on those origins (the browser sends
  no secret) and a read client, for the read API.
- `context` (or `open_context` for a module-scoped scenario): a fresh context whose user agent is a headed
  Chrome's (headless Chromium's own is a bot's: Beacon answers it 202 and stores nothing).
- `NetworkLog`: every request a page makes to the gateway, with its body, headers and answer.
- `screenshot(page, name)`: saved under .local/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from local.stack import free_port
from tests.constants import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request

SDK_DIR = ROOT / "node_modules" / "@openpanel" / "web"
SDK_BUILDS = SDK_DIR / "dist" / "src"  # tracker.global.js (the IIFE script tag build), replay.global.js
SCREENSHOTS = ROOT / ".local" / "screenshots"
SDK_ALIASES = {"tracker.global-replay.js": "replay.global.js"}
"""Where the tracker looks for its replay build by default (its own URL with `-replay.js`), as the CDN names it."""
REFERRER_HOSTS = ("www.google.com", "news.ycombinator.com")
"""Hosts the browser resolves to 127.0.0.1: pages served here under these names are real referrers."""
CHROMIUM_NAMES = ("chromium", "chromium-browser")
NAVIGATION_TIMEOUT_MS = 20_000  # generous: a 2-core CI box shared with DynamoDB Local and the gateway


def sdk_version() -> str:
    """The pinned @openpanel/web's version, as installed (package.json pins it exactly)."""
    return str(json.loads((SDK_DIR / "package.json").read_text())["version"])


def _missing(reason: str) -> None:
    """Under CI a missing browser fails the run: a CI that skipped its browser tests would pass silently."""
    message = f"{reason}: run `make browser` (as root it installs Debian's chromium) or set BEACON_CHROMIUM"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    configured = os.environ.get("BEACON_CHROMIUM")
    found = configured or next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    if not found or not Path(found).exists():
        _missing("no chromium found")
    assert found is not None
    if not SDK_BUILDS.joinpath("tracker.global.js").exists():
        _missing(f"@openpanel/web is not installed under {SDK_DIR} (make bootstrap runs npm ci)")
    return found


@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Browser]:
    """Per module (about 1 s to launch): no browser, nor Playwright's driver and event loop, outlives the browser
    tests into the rest of the suite."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - requirements-dev.txt pins it
        _missing("playwright (requirements-dev.txt) is not installed")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable,
            headless=True,
            # Playwright already runs Chromium without its sandbox (root in CI); the resolver rule is ours.
            args=[
                "--host-resolver-rules=" + ", ".join(f"MAP {host} 127.0.0.1" for host in REFERRER_HOSTS),
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser_user_agent(browser: Browser) -> str:
    """The browser's own user agent as a headed Chrome sends it. Headless Chromium says `HeadlessChrome`, which
    Beacon (as OpenPanel) takes for a bot: answered 202 and not stored."""
    page = browser.new_page()
    try:
        headless = str(page.evaluate("navigator.userAgent"))
    finally:
        page.close()
    return headless.replace("HeadlessChrome/", "Chrome/")


@pytest.fixture
def context(browser: Browser, browser_user_agent: str) -> Iterator[BrowserContext]:
    """A fresh context (no cookies or storage) with a visitor's user agent, for one test."""
    opened = open_context(browser, browser_user_agent)
    try:
        yield opened
    finally:
        opened.close()


def open_context(browser: Browser, user_agent: str, **options: Any) -> BrowserContext:
    context = browser.new_context(user_agent=user_agent, **options)
    context.set_default_timeout(NAVIGATION_TIMEOUT_MS)
    return context


# -- the static site ---------------------------------------------------------------------------------------------
class StaticSite:
    """Pages by path (the query string is the page's own business), and the SDK's builds under /sdk/."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.requests: list[str] = []  # "host path?query" of every GET, for a test's diagnostics
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(f"{self.headers.get('Host')} {self.path}")
                path = urlsplit(self.path).path
                if path.startswith("/sdk/"):
                    name = path.removeprefix("/sdk/")
                    target = (SDK_BUILDS / SDK_ALIASES.get(name, name)).resolve()
                    if target.parent == SDK_BUILDS.resolve() and target.is_file():
                        return self._send(200, "text/javascript; charset=utf-8", target.read_bytes())
                elif path in site.pages:
                    return self._send(200, "text/html; charset=utf-8", site.pages[path].encode())
                elif path == "/favicon.ico":
                    return self._send(204, "image/x-icon", b"")
                return self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="static-site", daemon=True)

    def add_page(self, path: str, body: str) -> None:
        self.pages[path] = body

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def origin(self, host: str) -> str:
        return f"http://{host}:{self.port}"


@pytest.fixture(scope="session")
def site() -> Iterator[StaticSite]:
    served = StaticSite()
    served.thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


def openpanel_page(title: str, init: dict[str, Any], body: str = "") -> str:
    """A page with @openpanel/web's script tag, set up as its docs show: the `op` queue, then the async build."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>
window.op = window.op || function (...args) {{ (window.op.q = window.op.q || []).push(args); }};
window.op('init', {json.dumps(init)});
</script>
<script src="/sdk/tracker.global.js" async></script>
</head><body>{body}</body></html>"""


def link_page(title: str, href: str) -> str:
    """A page with one link (id `go`): clicking it is a real navigation, whose referrer the browser sets."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f'<body><a id="go" href="{html.escape(href)}">{html.escape(title)}</a></body></html>'
    )


# -- clients -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clients:
    project: str
    write: dict[str, str]  # the browser's: client id only on the wire, origins allowed
    read: dict[str, str]  # for the read API, with its secret


@pytest.fixture(scope="module")
def browser_clients(
    secretsmanager: Any, template_env: dict[str, str], client_id_key: bytes
) -> Callable[[tuple[str, ...]], Clients]:
    """A fresh project with a browser client allowed on `origins`, and a read client (module-scoped: one browser
    scenario per module, asserted by several tests)."""
    from beacon.domain.auth import create_client
    from beacon.domain.entities import ClientType
    from beacon.store.clients import SecretsManagerClientStore

    store = SecretsManagerClientStore(template_env["CLIENT_SECRET_PREFIX"], cache_seconds=0, client=secretsmanager)

    def make(origins: tuple[str, ...]) -> Clients:
        project = f"test-{uuid.uuid4().hex[:12]}"
        made: dict[str, dict[str, str]] = {}
        for kind, allowed in (("write", origins), ("read", ())):
            record, secret = create_client(
                project, ClientType(kind), datetime.now(UTC), origins=allowed, id_key=client_id_key
            )
            store.put_client(record)
            made[kind] = {"clientId": record.client_id, "clientSecret": secret, "projectId": project}
        return Clients(project, made["write"], made["read"])

    return make


# -- the network, as the browser saw it ---------------------------------------------------------------------------
@dataclass
class Exchange:
    method: str
    url: str
    headers: dict[str, str]  # lower-case names, every header the browser sent
    body: Any  # the JSON body
    status: int | None = None  # None: no answer (the request failed)
    answer: Any = None
    failure: str | None = None


@dataclass
class NetworkLog:
    """The requests a page makes under `prefix` (the gateway), recorded when each one has finished or failed.
    CORS preflights are the browser's own business and are not reported by Playwright; a failed one shows up
    here as a failed request."""

    prefix: str
    exchanges: list[Exchange] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _record(self, request: Request) -> Exchange | None:
        if not request.url.startswith(self.prefix):
            return None
        body = request.post_data
        exchange = Exchange(request.method, request.url, request.all_headers(), json.loads(body) if body else None)
        self.exchanges.append(exchange)
        return exchange

    def _finished(self, request: Request) -> None:
        exchange = self._record(request)
        response = request.response()
        if exchange is not None and response is not None:
            # The body first: reading it yields to the page's event loop, and a waiter that saw the status already
            # set could close the context before the body arrived (seen on a loaded CI machine).
            text = response.text()
            exchange.answer = json.loads(text) if text else None
            exchange.status = response.status

    def _failed(self, request: Request) -> None:
        exchange = self._record(request)
        if exchange is not None:
            exchange.failure = request.failure

    def tracks(self, kind: str | None = None) -> list[Exchange]:
        """The POST /track calls, optionally of one payload type (`track`, `identify`, …)."""
        return [
            exchange
            for exchange in self.exchanges
            if exchange.method == "POST"
            and urlsplit(exchange.url).path.rstrip("/") == "/track"
            and (kind is None or (exchange.body or {}).get("type") == kind)
        ]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
