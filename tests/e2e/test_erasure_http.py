"""End to end: a person tracked over HTTP (identify, alias, events on two devices, a refused event) reaches every
store and the lake; `beacon profiles erase` removes them; afterwards the read API, the rejected list and the lake
return none of it, while another profile of the project and another project are untouched."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from admin.__main__ import main as beacon
from tests.e2e.test_lake_http import lake_rows, running_lake  # noqa: F401 - the fixture
from tests.e2e.test_read_api import call, credentials

pytestmark = pytest.mark.e2e

SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0 Safari/605"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def post(url: str, client: dict[str, str], body: dict[str, Any], agent: str, ip: str) -> int:
    headers = {**credentials(client), "Content-Type": "application/json", "User-Agent": agent, "x-client-ip": ip}
    return call(f"{url}/track", "POST", json.dumps(body), headers).status


def replay(url: str, client: dict[str, str], agent: str, ip: str) -> str:
    """A replay chunk from the device of (agent, ip), filed under its active session: that session's id."""
    chunk = {
        "chunk_index": 0,
        "events_count": 2,
        "is_full_snapshot": True,
        "started_at": "2026-12-02T10:00:00.000Z",
        "ended_at": "2026-12-02T10:00:01.000Z",
        "payload": '[{"type":2,"data":{}}]',
    }
    headers = {**credentials(client), "Content-Type": "application/json", "User-Agent": agent, "x-client-ip": ip}
    answer = call(f"{url}/track", "POST", json.dumps({"type": "replay", "payload": chunk}), headers)
    assert answer.status == 200, answer.body
    return str(answer.body["sessionId"])


def populate(url: str, writer: dict[str, str]) -> dict[str, str]:
    """The people's traffic; the session ids of the replay chunks sent from alice's laptop and bob's device."""

    def view(profile: str | None, n: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"name": "screen_view", "properties": {"__path": f"https://shop.test/p/{n}"}}
        return {"type": "track", "payload": {**payload, **({"profileId": profile} if profile else {})}}

    alice_laptop, alice_phone, bob = (SAFARI, "203.0.113.10"), (FIREFOX, "203.0.113.11"), (FIREFOX, "198.51.100.9")
    sent = [
        post(url, writer, {"type": "identify", "payload": {"profileId": "alice", "email": "a@example.com"}}, *bob),
        post(url, writer, {"type": "alias", "payload": {"profileId": "alice", "alias": "alice-old"}}, *alice_laptop),
        post(url, writer, {"type": "identify", "payload": {"profileId": "bob", "email": "b@example.com"}}, *bob),
        post(url, writer, view(None, 1), *alice_laptop),  # before logging in: the link rule's
        post(url, writer, view("alice", 2), *alice_laptop),
        post(url, writer, view("alice-old", 3), *alice_phone),
        post(url, writer, view("bob", 4), *bob),
        post(url, writer, view(None, 5), *bob),
        post(url, writer, {"type": "track", "payload": {"name": "", "profileId": "alice"}}, *alice_phone),
    ]
    assert sent == [200] * 8 + [400]
    return {"alice": replay(url, writer, *alice_laptop), "bob": replay(url, writer, *bob)}


def printed(out: str, start: str) -> Any:
    """The command's indented JSON in stdout, which the lake function's log lines (JSON, one a line) share here."""
    return json.JSONDecoder().raw_decode(out[out.index(start) :])[0]


def wait_for_lake(lake: Path, project: str, rows: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if lake_rows(lake, project, "SELECT count(*) AS n FROM events")[0]["n"] >= rows:
            return
        time.sleep(0.5)
    raise AssertionError(f"the lake did not get {rows} rows of {project}")


@dataclass(frozen=True)
class Populated:
    """Two projects with the same people (populate()), their read clients, and the replayed session ids."""

    project: str
    other: str
    readers: dict[str, dict[str, str]]
    replayed: dict[str, dict[str, str]]


def two_populated_projects(
    gateway_url: str, create_client: Callable[..., dict[str, str]], lake: Path, erased: str, kept: str
) -> Populated:
    """`erased` and `kept` name the projects (with a unique suffix); every event waits until it is in the lake."""
    suffix = time.monotonic_ns() % 10**9
    project, other = f"{erased}-{suffix}", f"{kept}-{suffix}"
    readers, replayed = {}, {}
    for name in (project, other):
        replayed[name] = populate(gateway_url, create_client(name, "write"))
        readers[name] = create_client(name, "read")
    # 5 page views + alice's session_start on 2 devices + bob's (the anonymous one shares his device's session)
    for name in (project, other):
        wait_for_lake(lake, name, 5)
    return Populated(project, other, readers, replayed)


def test_an_erased_person_is_gone_from_every_answer_and_nobody_else_is(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    running_lake: Any,  # noqa: F811 - the fixture
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two projects with the same people, tracked over HTTP, every event in the lake
    given = two_populated_projects(gateway_url, create_client, running_lake.root, "test-erase", "test-keep")
    project, other, readers, replayed = given.project, given.other, given.readers, given.replayed
    monkeypatch.setenv("BEACON_LAKE_DIR", str(running_lake.root))

    def read(name: str, path: str, **params: str) -> Any:
        query = "&".join(f"{key}={value}" for key, value in {"projectId": name, **params}.items())
        return call(f"{gateway_url}{path}?{query}", headers=credentials(readers[name]))

    def replay_status(name: str, session_id: str) -> int:
        return call(f"{gateway_url}/session/{session_id}/replay", headers=credentials(readers[name])).status

    before = [event["profileId"] for event in read(project, "/export/events").body["data"]]
    assert "alice" in before
    assert replay_status(project, replayed[project]["alice"]) == 200

    # When the operator erases alice
    capsys.readouterr()
    beacon(["profiles", "erase", "--project", project, "--profile-id", "alice", "--yes"])
    receipt = printed(capsys.readouterr().out, '{\n  "id"')

    # Then the receipt counts every store, and no answer holds alice any more
    assert receipt["status"] == "done"
    assert receipt["removed"]["profiles"] == 2 and receipt["removed"]["rejected"] == 1
    assert receipt["removed"]["events"] >= 3 and receipt["removed"]["lake"] == receipt["removed"]["events"]
    # her laptop session's replay chunk (its S3 object and index item), not bob's
    assert receipt["removed"]["replays"] == 1
    assert replay_status(project, replayed[project]["alice"]) == 404
    assert replay_status(project, replayed[project]["bob"]) == 200
    assert read(project, "/profile/alice").status == 404 and read(project, "/profile/alice-old").status == 404
    assert read(project, "/profile/alice/events").body["data"] == []
    left = read(project, "/export/events").body["data"]
    assert left and {event["profileId"] for event in left} <= {"bob"} | {e["deviceId"] for e in left}
    assert all(event["properties"].get("__path") != "https://shop.test/p/1" for event in left)
    lake = lake_rows(running_lake.root, project, "SELECT profile_id, path FROM events")
    assert {row["profile_id"] for row in lake}.isdisjoint({"alice", "alice-old"})
    assert {row["path"] for row in lake if row["path"]} == {"/p/4", "/p/5"}
    capsys.readouterr()
    beacon(["rejected", "list", "--project", project])
    assert "alice" not in capsys.readouterr().out  # the list, and no log line either
    # bob, and the other project's alice, are untouched
    assert read(project, "/profile/bob").status == 200
    assert read(other, "/profile/alice").status == 200
    assert replay_status(other, replayed[other]["alice"]) == 200
    assert (
        len(lake_rows(running_lake.root, other, "SELECT id FROM events"))
        == len(lake_rows(running_lake.root, project, "SELECT id FROM events")) + receipt["removed"]["lake"]
    )

    # And a second erasure is a no-op with the same receipt
    beacon(["profiles", "erase", "--project", project, "--profile-id", "alice", "--yes"])
    assert printed(capsys.readouterr().out, '{\n  "id"') == receipt
