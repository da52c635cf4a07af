"""The dashboard (/dashboard/) in headless Chromium against the local gateway: a person logs in through the URL
fragment, sees the overview numbers of what this test tracked over HTTP (through the stream into the local lake),
switches the range, builds a funnel, opens a profile's timeline; a wrong secret and a write client are sent back
to the login with words. Screenshots go under .local/screenshots/ (git-ignored); the desktop one is copied to
docs/dashboard.png for the README. The overview's render time over 100,000 events is measured and printed (a
figure, not a gate: bench/dashboard.py is its bench form)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from admin.dashboard import vendor
from local.lake import Checkpoints, StreamPoller, lake_handler
from tests.browser.conftest import SCREENSHOTS, open_context, screenshot
from tests.constants import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]
PROFILE = "user_7"
LOADED_MS = 30_000


def call(url: str, client: dict[str, str], body: Any = None, agent: str = AGENTS[0]) -> tuple[int, Any]:
    headers = {
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "Content-Type": "application/json",
        "User-Agent": agent,
    }
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local gateway
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def drain(local_stack: Any, local_lake: Any, template_env: dict[str, str], checkpoints: Path) -> None:
    """Everything stored so far into the local lake, now (what LAKE_FLUSH_SECONDS does by itself in `make run`)."""
    poller = StreamPoller(
        local_stack.boto3_client("dynamodb"),
        local_stack.boto3_client("dynamodbstreams"),
        template_env["EVENTS_TABLE"],
        lake_handler(local_lake.environment),
        Checkpoints(checkpoints),
    )
    while poller.poll_once():
        pass
    local_lake.firehose.flush()


@pytest.fixture(scope="module", autouse=True)
def vendored() -> None:
    vendor()  # what `make dashboard` does: uPlot from node_modules next to the page


@pytest.fixture
def tracked(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    local_stack: Any,
    local_lake: Any,
    template_env: dict[str, str],
    tmp_path: Path,
) -> dict[str, Any]:
    """Three devices: the first (profile user_7) views one page and signs up, the others view two and three."""
    writer = create_client(project_id, "write")
    for device, agent in enumerate(AGENTS):
        views = [
            {"type": "track", "payload": {"name": "screen_view", "properties": {"__path": f"https://s.test/p{n}"}}}
            for n in range(device + 1)
        ]
        assert call(f"{gateway_url}/track/batch", writer, {"batch": views}, agent)[0] == 200
    for name in ("signup_started", "signup_completed"):  # one request each: their own receipt times, in order
        time.sleep(0.005)
        step = {"type": "track", "payload": {"name": name, "profileId": PROFILE}}
        assert call(f"{gateway_url}/track", writer, step, AGENTS[0])[0] == 200
    drain(local_stack, local_lake, template_env, tmp_path / "checkpoints.json")
    return {"read": create_client(project_id, "read"), "write": writer, "project": project_id}


def login_url(gateway_url: str, client: dict[str, str], secret: str | None = None) -> str:
    fragment = urllib.parse.urlencode(
        {
            "projectId": client["projectId"],
            "clientId": client["clientId"],
            "clientSecret": secret or client["clientSecret"],
        }
    )
    return f"{gateway_url}/dashboard/#{fragment}"


def wait_loaded(page: Page, after: int = 0) -> int:
    """The generation of the page's last complete refresh, once newer than `after`. (Selectors, not
    wait_for_function: its string predicate is an eval, which the page's CSP refuses, as it should.)"""
    page.wait_for_selector(f"body[data-loaded]:not([data-loaded='{after}'])", state="attached", timeout=LOADED_MS)
    return int(page.evaluate("document.body.dataset.loaded"))


def figure(page: Page, name: str) -> float:
    return float(page.get_attribute(f"#fig-{name}", "data-value") or "nan")


@pytest.fixture
def page(browser: Browser, browser_user_agent: str) -> Iterator[Page]:
    context = open_context(browser, browser_user_agent, viewport={"width": 1280, "height": 900}, locale="en-US")
    errors: list[str] = []
    opened = context.new_page()
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        yield opened
    finally:
        context.close()
    # No CSP violation, no script error: the page lives within its own policy
    assert not [text for text in errors if "Content Security Policy" in text or "Uncaught" in text], errors


def test_log_in_by_fragment_see_the_tracked_numbers_switch_range_funnel_and_profile(gateway_url, tracked, page):
    # When the person opens the dashboard with the fragment
    response = page.goto(login_url(gateway_url, tracked["read"]))
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    loaded = wait_loaded(page)
    # Then the fragment is gone from the address bar, the secret is in sessionStorage only
    assert "#" not in page.url and "clientSecret" not in page.url
    stored = json.loads(page.evaluate("sessionStorage.getItem('beacon.dashboard.login')"))
    assert stored["clientSecret"] == tracked["read"]["clientSecret"]
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    # And the overview numbers are what was tracked: 3 visitors, 3 sessions, 6 page views, 1 of 3 bounced
    assert (figure(page, "visitors"), figure(page, "sessions"), figure(page, "screenViews")) == (3, 3, 6)
    assert figure(page, "bounceRate") == round(1 / 3, 4)
    assert page.inner_text("#fig-visitors") == "3" and page.inner_text("#fig-bounceRate") == "33.3%"
    assert page.inner_text("#chg-visitors") == "new vs. previous period"
    # And the ranked lists: pages by views, entry pages by sessions, events by name
    pages = page.locator("#top-path li .value").all_inner_texts()
    assert pages[0] == "/p0" and len(pages) == 3  # p0 viewed by all three
    # (one entry and one exit page per session; which one, within a batch sent at one instant, is the lake's pick)
    for dimension in ("entryPath", "exitPath"):
        counts = page.locator(f"#top-{dimension} li .count").evaluate_all("els => els.map(e => e.dataset.value)")
        assert sum(map(int, counts)) == 3, dimension
    assert "signup_started" in page.locator("#top-name li .value").all_inner_texts()
    # And the live counter shows the 3 devices just seen
    page.wait_for_selector("#live-count[data-value='3']", timeout=LOADED_MS)
    assert " ".join(page.inner_text("#live").split()) == "3 visitors in the last 5 minutes"
    # And the chart was drawn by uPlot (bundled, same origin)
    assert page.locator("#chart canvas").count() == 1
    shot = screenshot(page, "dashboard-desktop")
    shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")

    # When the range switches to today (hour resolution)
    page.select_option("#range", "today")
    wait_loaded(page, loaded)
    # Then the same events are counted (they were tracked just now)
    assert page.input_value("#interval") == "hour"
    assert (figure(page, "visitors"), figure(page, "screenViews")) == (3, 6)

    # When a funnel of the two signup steps is built
    page.fill("#funnel-steps", "signup_started, signup_completed")
    page.click("#funnel-form button")
    page.wait_for_selector("#funnel-table:not([hidden])")
    rows = page.locator("#funnel-table tbody tr").all_inner_texts()
    assert [row.split("\t")[1:] for row in rows] == [["1", "100%"], ["1", "100%"]]

    # And the retention table has today's cohort: retention counts profiles (a device when anonymous), so the
    # first device's anonymous page view and its user_7 events are two of the 4
    page.wait_for_selector("#retention-table tbody tr")
    assert page.locator("#retention-table tbody tr td").first.inner_text() == "4"

    # When the profile is searched (keyboard only: type, then Enter)
    page.focus("#profile-id")
    page.keyboard.type(PROFILE)
    page.keyboard.press("Enter")
    page.wait_for_selector("#profile-events li")
    names = page.locator("#profile-events li strong").all_inner_texts()
    # Then its events, newest first
    assert names[:2] == ["signup_completed", "signup_started"]
    screenshot(page, "dashboard-funnel-profile")

    # And at 360 px the page is still one column, without horizontal scrolling
    page.set_viewport_size({"width": 360, "height": 800})
    page.wait_for_timeout(300)
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide
    screenshot(page, "dashboard-360px")


def test_a_wrong_secret_shows_the_login_again_with_an_error(gateway_url, tracked, page):
    page.goto(login_url(gateway_url, tracked["read"], secret="not-the-secret"))
    page.wait_for_selector("#login-error:not([hidden])")
    assert "Wrong client id or secret" in page.inner_text("#login-error")
    assert page.is_visible("#login") and not page.is_visible("#dashboard")
    assert page.evaluate("sessionStorage.length") == 0
    # And the form is filled but for the secret, which the person types again
    assert page.input_value("#login-client") == tracked["read"]["clientId"]
    assert page.input_value("#login-secret") == ""
    screenshot(page, "dashboard-wrong-secret")


def test_a_write_client_is_refused_with_a_clear_message(gateway_url, tracked, page):
    page.goto(login_url(gateway_url, tracked["write"]))
    page.wait_for_selector("#login-error:not([hidden])")
    assert "write client" in page.inner_text("#login-error")
    assert "read or root client" in page.inner_text("#login-error")
    assert not page.is_visible("#dashboard")


def test_the_login_form_submits_with_the_keyboard(gateway_url, tracked, page):
    page.goto(f"{gateway_url}/dashboard/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-project", tracked["project"])
    page.fill("#login-client", tracked["read"]["clientId"])
    page.fill("#login-secret", tracked["read"]["clientSecret"])
    page.keyboard.press("Enter")
    wait_loaded(page)
    assert figure(page, "visitors") == 3 and page.is_hidden("#login")


def test_the_overview_render_time_over_100000_events_is_measured(
    gateway_url, create_client, project_id, local_lake, page
):
    """Measured and reported (printed, and written to .local/screenshots/render.json), not asserted."""
    from beacon.domain.lake import event_row
    from local.lake import ParquetLakeSink

    now = datetime.now(UTC)
    rows = []
    for number in range(100_000):
        session = number // 5
        rows.append(
            event_row(
                {
                    "id": f"e{number:06d}",
                    "projectId": project_id,
                    "name": "screen_view" if number % 5 else "click",
                    "deviceId": f"d{session % 9000}",
                    "sessionId": f"s{session}",
                    "createdAt": (now - timedelta(minutes=number % (6 * 24 * 60))).isoformat(),
                    "path": f"/page/{number % 40}",
                    "referrerName": ("Google", "Hacker News", None)[number % 3],
                    "country": ("SE", "DE", "US", "FR")[number % 4],
                }
            )
        )
    ParquetLakeSink(local_lake.root).write(rows, f"render-{project_id}")
    reader = create_client(project_id, "read")
    started = time.perf_counter()
    page.goto(login_url(gateway_url, reader))
    page.wait_for_selector("body[data-overview-rendered]", state="attached", timeout=120_000)
    wall_ms = (time.perf_counter() - started) * 1000
    render_ms = float(page.evaluate("window.beaconOverviewRenderMs"))
    assert figure(page, "screenViews") == 80_000
    report = {"events": 100_000, "overviewFetchAndRenderMs": round(render_ms), "openToOverviewMs": round(wall_ms)}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "render.json").write_text(json.dumps(report) + "\n")
    print(f"\ndashboard overview over 100,000 events: {report}")
