"""`make smoke`'s checks, run against the local gateway: what a deployed stack must answer, the local one does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from admin.smoke import SmokeError, run_smoke

pytestmark = pytest.mark.e2e


def test_the_smoke_test_passes_against_the_local_stack_and_reads_back_what_it_sent(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a write and a read client of one project
    writer, reader = create_client(project_id, "write"), create_client(project_id, "read")
    # When the smoke test runs
    checked = run_smoke(gateway_url, writer, reader, settle_seconds=5)
    # Then every request type was accepted and read back, and the read client could not write
    assert checked[:4] == [
        "POST /track track",
        "POST /track identify",
        "POST /track increment",
        "POST /track/batch (2 events)",
    ]
    assert checked[4].startswith("GET /track/device-id")
    assert checked[5:] == [
        "GET /export/events (3 events back)",
        "GET /profile/{profileId} (identify's traits back)",
        "GET /profile/{profileId}/events",
        "a read client may not write (403)",
    ]


def test_the_smoke_test_fails_when_the_stack_refuses_its_client(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a "write" client whose secret is wrong
    writer = {**create_client(project_id, "write"), "clientSecret": "sec_wrong"}
    # When the smoke test runs, then it stops at the first request with what the API answered
    with pytest.raises(SmokeError, match=r"POST /track \(track\): HTTP 401"):
        run_smoke(gateway_url, writer, create_client(project_id, "read"), settle_seconds=0)
