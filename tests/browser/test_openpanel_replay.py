"""Session replay from a real @openpanel/web 1.4.1 in headless Chromium: `sessionReplay: {enabled: true}` loads the
SDK's replay build (served as `/sdk/tracker.global-replay.js`, the name the tracker derives from its own URL), which
records the page with rrweb and sends its chunks as `type: "replay"` to POST /track once the first event has given
it a session id. Every chunk is answered 200, and the read API returns them, in order, as they were sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import (
    NAVIGATION_TIMEOUT_MS,
    Clients,
    NetworkLog,
    StaticSite,
    open_context,
    openpanel_page,
    screenshot,
)
from tests.browser.test_openpanel_web import read_api

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PAGE_HOST = "localhost"


def wait_for(page: Any, done: Callable[[], bool], what: str, meanwhile: Callable[[], None] | None = None) -> None:
    """Wait until `done()`, doing `meanwhile()` about every half second (the recorder's flush interval)."""
    deadline = time.monotonic() + NAVIGATION_TIMEOUT_MS / 1000
    next_action = time.monotonic()
    while not done():
        if time.monotonic() > deadline:
            screenshot(page, "openpanel-replay-timeout")
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        if meanwhile is not None and time.monotonic() >= next_action:
            meanwhile()
            next_action = time.monotonic() + 0.5
        page.wait_for_timeout(50)


def test_the_sdks_replay_chunks_are_answered_200_and_read_back_in_order(
    browser: Any,
    browser_user_agent: str,
    site: StaticSite,
    gateway_url: str,
    browser_clients: Callable[[tuple[str, ...]], Clients],
) -> None:
    # Given a page with the SDK, screen views and session replay on (chunks flushed every half second)
    clients = browser_clients((site.origin(PAGE_HOST),))
    init = {
        "clientId": clients.write["clientId"],
        "apiUrl": gateway_url,
        "trackScreenViews": True,
        "sessionReplay": {"enabled": True, "flushIntervalMs": 500},
    }
    body = '<h1>Replay me</h1><input id="name"><button id="buy">Buy</button>'
    site.add_page("/replay", openpanel_page("Replay", init, body))
    context = open_context(browser, browser_user_agent)
    try:
        page = context.new_page()
        log = NetworkLog(prefix=gateway_url)
        log.attach(page)
        # When a visitor opens it, types and clicks (the recorder sees a snapshot, then the interactions)
        page.goto(site.url(PAGE_HOST, "/replay"))
        wait_for(page, lambda: any(e.status for e in log.tracks("track")), "the first screen_view")
        page.fill("#name", "Ada")
        page.click("#buy")
        # The replay build loads after the first answer, so on a slow machine the interactions above can come before
        # the recorder starts (its snapshot then holds them): the visitor keeps typing until a second chunk is sent
        wait_for(
            page,
            lambda: len([e for e in log.tracks("replay") if e.status]) >= 2,
            "two replay chunks",
            meanwhile=lambda: page.type("#name", "!"),
        )
        screenshot(page, "openpanel-replay")
    finally:
        context.close()

    # Then every replay chunk the SDK sent was answered 200, with the session its screen_view opened
    chunks = [exchange for exchange in log.tracks("replay") if exchange.status or exchange.failure]
    assert chunks and all(exchange.status == 200 for exchange in chunks), [(e.status, e.answer) for e in chunks]
    [session_id] = {exchange.answer["sessionId"] for exchange in log.tracks("track")}
    assert {exchange.answer["sessionId"] for exchange in chunks} == {session_id}
    sent = [exchange.body["payload"] for exchange in chunks]
    assert sent[0]["chunk_index"] == 0 and sent[0]["is_full_snapshot"] is True

    # And the read API returns them in order, each payload as the SDK sent it (closing the page flushes the recorder
    # once more: the chunks sent then are stored too, after those the test saw answered)
    status, page_answer = read_api(gateway_url, clients, f"/session/{session_id}/replay")
    assert status == 200, page_answer
    stored = page_answer["data"]
    assert [c["chunkIndex"] for c in stored] == list(range(len(stored)))  # one page load: 0, 1, 2, …
    assert [(c["startedAt"], c["chunkIndex"]) for c in stored] == sorted(
        (c["startedAt"], c["chunkIndex"]) for c in stored
    )
    by_index = {c["chunkIndex"]: c for c in stored}
    for chunk in sent:
        assert by_index[chunk["chunk_index"]]["payload"] == chunk["payload"]
        assert by_index[chunk["chunk_index"]]["eventsCount"] == chunk["events_count"]
    assert stored[0]["isFullSnapshot"] is True
