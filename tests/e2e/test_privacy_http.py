"""End to end over HTTP: a root client erases a person (`DELETE /profile/{id}` → 202 → `GET /erasures/{id}` until the
asynchronous run has finished), after which the read API returns none of the person's data, and the operator's
CLI completes the lake; only root clients of the project may ask; the export pages through a long history."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from admin.__main__ import main as beacon
from tests.e2e.test_erasure_http import SAFARI, printed, two_populated_projects
from tests.e2e.test_lake_http import lake_rows, running_lake  # noqa: F401 - the fixture
from tests.e2e.test_read_api import Answer, call, credentials

pytestmark = pytest.mark.e2e


def erase(url: str, client: dict[str, str], profile: str, **params: str) -> Answer:
    query = urllib.parse.urlencode(params)
    return call(f"{url}/profile/{urllib.parse.quote(profile, safe='')}?{query}", "DELETE", headers=credentials(client))


def until_run(url: str, client: dict[str, str], status_url: str, project: str) -> dict[str, Any]:
    """The receipt once the asynchronous run has left `running`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = call(f"{url}{status_url}?projectId={project}", headers=credentials(client))
        assert answer.status == 200, answer.body
        if answer.body["status"] != "running":
            return dict(answer.body)
        time.sleep(0.2)
    raise AssertionError("the erasure did not finish its run in 30 s")


def test_a_root_client_erases_a_person_and_the_read_api_returns_none_of_it(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    running_lake: Any,  # noqa: F811 - the fixture
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two projects with the same people (profile, alias, events on two devices, a refused event), in the lake
    given = two_populated_projects(gateway_url, create_client, running_lake.root, "test-perase", "test-pkeep")
    project, other, readers = given.project, given.other, given.readers
    root = create_client(project, "root")

    def read(name: str, path: str) -> Answer:
        return call(f"{gateway_url}{path}?projectId={name}", headers=credentials(readers[name]))

    assert read(project, "/profile/alice").status == 200

    # When its root client asks to erase alice
    started = erase(gateway_url, root, "alice", projectId=project)

    # Then the answer is 202 with the receipt, at once, and where to follow it
    assert started.status == 202, started.body
    assert started.body["statusUrl"] == f"/erasures/{started.body['erasureId']}"
    assert started.body["status"] == "running" and started.body["projectId"] == project
    assert started.headers["Cache-Control"] == "no-store"
    # And the asynchronous run removes alice from every store the API erases; the lake waits for the operator
    receipt = until_run(gateway_url, root, started.body["statusUrl"], project)
    assert receipt["status"] == "waiting" and receipt["pending"] == ["lake"], receipt
    assert "./beacon profiles erase" in receipt["next"]
    assert receipt["removed"]["profiles"] == 2 and receipt["removed"]["rejected"] == 1
    assert receipt["removed"]["events"] >= 3
    assert receipt["storesDone"][0] == "events" and receipt["storesDone"][-1] == "profiles"
    assert "alice" not in json.dumps(receipt)
    # And the read API returns none of it
    assert read(project, "/profile/alice").status == 404 and read(project, "/profile/alice-old").status == 404
    assert read(project, "/profile/alice/events").body["data"] == []
    left = read(project, "/export/events").body["data"]
    assert left and {event["profileId"] for event in left} <= {"bob"} | {event["deviceId"] for event in left}
    assert all(event["properties"].get("__path") != "https://shop.test/p/1" for event in left)  # the linked device's
    # And bob, and the other project's alice, are untouched
    assert read(project, "/profile/bob").status == 200
    assert read(other, "/profile/alice").status == 200

    # And asking again is a no-op with the same receipt
    again = erase(gateway_url, root, "alice", projectId=project)
    assert (again.status, again.body) == (202, receipt)

    # When the operator runs the lake's step the receipt names
    monkeypatch.setenv("BEACON_LAKE_DIR", str(running_lake.root))
    capsys.readouterr()
    beacon(["profiles", "erase", "--project", project, "--profile-id", "alice", "--yes"])
    completed = printed(capsys.readouterr().out, '{\n  "id"')

    # Then the same erasure is done, the lake's rows counted with the rest, and the API's receipt says so
    assert completed["id"] == receipt["erasureId"] and completed["status"] == "done"
    assert completed["removed"]["lake"] == receipt["removed"]["events"]
    assert {key: value for key, value in completed["removed"].items() if key != "lake"} == receipt["removed"]
    lake = lake_rows(running_lake.root, project, "SELECT profile_id, path FROM events")
    assert {row["profile_id"] for row in lake}.isdisjoint({"alice", "alice-old"})
    done = call(f"{gateway_url}{receipt['statusUrl']}", headers=credentials(root)).body
    assert done["status"] == "done" and done["pending"] == [] and done["next"] is None and done["finishedAt"]
    assert erase(gateway_url, root, "alice").body == done


def test_only_a_root_client_of_the_project_may_erase_or_export_and_bad_input_is_a_json_400(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a profile, and clients of every type
    writer = create_client(project_id, "write")
    body = json.dumps({"type": "identify", "payload": {"profileId": "dana", "email": "d@example.com"}})
    headers = {**credentials(writer), "Content-Type": "application/json"}
    assert call(f"{gateway_url}/track", "POST", body, headers).status == 200
    reader, root = create_client(project_id, "read"), create_client(project_id, "root")
    stranger = create_client(f"{project_id}-other", "root")
    export = f"{gateway_url}/profile/dana/export?projectId={project_id}"

    # Then write and read clients, and another project's root, are refused with the API's JSON error
    for client in (writer, reader, stranger):
        refused = erase(gateway_url, client, "dana", projectId=project_id)
        assert (refused.status, refused.body["status"]) == (403, 403), refused.body
        assert call(export, headers=credentials(client)).status == 403
    unknown = "0" * 32
    assert call(f"{gateway_url}/erasures/{unknown}", headers=credentials(reader)).status == 403
    # And nothing was erased
    profile = call(f"{gateway_url}/profile/dana?projectId={project_id}", headers=credentials(reader))
    assert profile.status == 200
    # And bad input is a 400, an unknown erasure a 404, both JSON, never a 5xx
    for answer in (
        erase(gateway_url, root, "dana", suppress="maybe"),
        erase(gateway_url, root, "x" * 300),
        call(f"{gateway_url}/erasures/not-an-id", headers=credentials(root)),
        call(f"{export}&limit=0", headers=credentials(root)),
        call(f"{export}&cursor=forged.cursor", headers=credentials(root)),
    ):
        assert answer.status == 400 and answer.body["status"] == 400 and answer.body["error"], answer.body
    missing = call(f"{gateway_url}/erasures/{unknown}", headers=credentials(root))
    assert (missing.status, missing.body) == (404, {"error": "No such erasure in this project", "status": 404})


def test_the_export_pages_through_a_history_longer_than_a_page(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    stored_events: Callable[..., list[dict[str, Any]]],
) -> None:
    # Given a person with 25 events under their id and 3 under an alias, from a browser (a server agent's events
    # would open no session, and the export's sessions are checked below)
    writer = create_client(project_id, "write")
    headers = {**credentials(writer), "Content-Type": "application/json", "User-Agent": SAFARI}
    alias = {"type": "alias", "payload": {"profileId": "erin", "alias": "erin-old"}}
    identify = {"type": "identify", "payload": {"profileId": "erin", "email": "e@example.com"}}
    for body in (identify, alias):
        assert call(f"{gateway_url}/track", "POST", json.dumps(body), headers).status == 200
    batch = [
        {"type": "track", "payload": {"name": f"step_{n}", "profileId": "erin" if n < 25 else "erin-old"}}
        for n in range(28)
    ]
    assert call(f"{gateway_url}/track/batch", "POST", json.dumps({"batch": batch}), headers).status == 200
    expected = {e["id"] for e in stored_events(project_id, True, True) if e.get("profileId") in {"erin", "erin-old"}}
    assert len(expected) >= 28
    root = create_client(project_id, "root")

    # When the root client pages through the export, 10 events a page
    url = f"{gateway_url}/profile/erin/export?projectId={project_id}&limit=10"
    first = call(url, headers=credentials(root))
    pages, cursor = [first.body], first.body["meta"]["next"]
    while cursor:
        answer = call(f"{url}&cursor={urllib.parse.quote(cursor)}", headers=credentials(root))
        assert answer.status == 200, answer.body
        pages.append(answer.body)
        cursor = answer.body["meta"]["next"]

    # Then the first page holds the profile and its alias, and every page at most 10 events
    assert first.status == 200 and first.body["profileId"] == "erin"
    assert [profile["profileId"] for profile in first.body["profiles"]] == ["erin"]
    assert {item["alias"] for item in first.body["aliases"]} == {"erin-old"}
    assert first.body["sessions"]
    assert all(page["profiles"] is None for page in pages[1:])
    assert len(pages) >= 3 and all(len(page["events"]) <= 10 for page in pages)
    assert [page["meta"]["count"] for page in pages] == [len(page["events"]) for page in pages]
    # And together the pages hold every event of the person, each once
    exported = [event["id"] for page in pages for event in page["events"]]
    assert len(exported) == len(set(exported)) and set(exported) == expected
    # And a cursor is the person's only: for another profile it is refused
    other = f"{gateway_url}/profile/someone-else/export?projectId={project_id}&cursor="
    refused = call(other + urllib.parse.quote(first.body["meta"]["next"]), headers=credentials(root))
    assert refused.status == 400 and refused.body["error"].startswith("Invalid query parameter 'cursor'")
