"""GET /session/{sessionId}/replay in-process, on a fake replay store: chunks in order, project-scoped, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from beacon.domain import replays
from beacon.domain.entities import Caller, ClientType
from beacon.domain.replays import ReplayChunk
from beacon.errors import ForbiddenError, NotFoundError
from beacon.models.reads import ReplayResponse
from tests.unit.read.test_handler import PROJECT, invoke, read_app, request  # noqa: F401 - read_app is a fixture
from tests.unit.support.fakes import FakeReplayStore

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def chunk(index: int, started: datetime, payload: str = "[]", project: str = PROJECT) -> ReplayChunk:
    return ReplayChunk(project, "s1", index, 1, index == 0, started, started + timedelta(seconds=1), payload, started)


@pytest.fixture
def store(read_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> FakeReplayStore:  # noqa: F811
    fake = FakeReplayStore()
    monkeypatch.setattr(read_app, "replay_reader", lambda: fake)
    return fake


def test_chunks_sent_out_of_order_are_read_in_order_across_page_loads(read_app, store):  # noqa: F811
    # Given two page loads of one session (the recorder counts from 0 on each), stored out of order
    for index, seconds in [(1, 10), (0, 0), (1, 70), (0, 60), (2, 20)]:
        store.put_chunk(chunk(index, START + timedelta(seconds=seconds), payload=f"[{seconds}]"))
    # When a read client asks for the session's replay
    status, body, _ = invoke(read_app, request("/session/s1/replay", resource="/session/{sessionId}/replay"))
    # Then the chunks come in (startedAt, chunkIndex) order, payloads inline
    assert status == 200, body
    answer = ReplayResponse.model_validate(body)
    assert [(c.chunkIndex, c.payload) for c in answer.data] == [
        (0, "[0]"),
        (1, "[10]"),
        (2, "[20]"),
        (0, "[60]"),
        (1, "[70]"),
    ]
    assert answer.sessionId == "s1" and answer.projectId == PROJECT
    assert answer.meta.count == 5 and answer.meta.next is None
    assert answer.data[0].isFullSnapshot and answer.data[0].startedAt == "2026-12-02T10:00:00.000Z"


def test_an_unknown_session_is_a_json_404(read_app, store):  # noqa: F811
    status, body, _ = invoke(read_app, request("/session/nope/replay", resource="/session/{sessionId}/replay"))
    assert (status, body) == (404, {"error": "Session replay not found", "status": 404})


def test_another_projects_session_is_not_found(read_app, store):  # noqa: F811
    store.put_chunk(chunk(0, START, project="other-project"))
    status, _, _ = invoke(read_app, request("/session/s1/replay", resource="/session/{sessionId}/replay"))
    assert status == 404


def test_naming_another_project_is_a_403(read_app, store):  # noqa: F811
    store.put_chunk(chunk(0, START))
    event = request("/session/s1/replay", {"projectId": "other-project"}, resource="/session/{sessionId}/replay")
    status, _, _ = invoke(read_app, event)
    assert status == 403


def test_write_clients_cannot_read_replays(read_app, store):  # noqa: F811
    store.put_chunk(chunk(0, START))
    event = request("/session/s1/replay", resource="/session/{sessionId}/replay", client_type="write")
    status, _, _ = invoke(read_app, event)
    assert status == 403


def test_a_malformed_session_id_is_a_400(read_app, store):  # noqa: F811
    status, body, _ = invoke(read_app, request("/session/a%20b/replay", resource="/session/{sessionId}/replay"))
    assert status == 400 and body["status"] == 400


def test_pages_hold_payloads_within_the_budget_and_follow_meta_next(monkeypatch: pytest.MonkeyPatch):
    # Given ten chunks of 1 MB and a page budget of 3 MB
    store = FakeReplayStore()
    for index in range(10):
        store.put_chunk(chunk(index, START + timedelta(seconds=index), payload="x" * 1_000_000))
    monkeypatch.setattr(replays, "REPLAY_PAGE_BYTES", 3_000_000)
    caller = Caller(PROJECT, "c", ClientType.READ, True)
    # When the pages are read one after another, then each holds three chunks, and together they hold all, in order
    seen: list[int] = []
    after = None
    while True:
        page = replays.session_replay(caller, None, "s1", after, store)
        assert len(page.chunks) <= 3
        seen += [c.chunk_index for c in page.chunks]
        after = page.next_after
        if after is None:
            break
    assert seen == list(range(10))


def test_a_chunk_larger_than_the_budget_still_has_a_page_of_its_own():
    store = FakeReplayStore()
    store.put_chunk(chunk(0, START, payload="x" * (replays.REPLAY_PAGE_BYTES + 1)))
    page = replays.session_replay(Caller(PROJECT, "c", ClientType.ROOT, True), None, "s1", None, store)
    assert [c.chunk_index for c in page.chunks] == [0] and page.next_after is None


def test_the_domain_refuses_write_clients_and_unknown_sessions():
    store = FakeReplayStore()
    with pytest.raises(ForbiddenError):
        replays.session_replay(Caller(PROJECT, "c", ClientType.WRITE, True), None, "s1", None, store)
    with pytest.raises(NotFoundError):
        replays.session_replay(Caller(PROJECT, "c", ClientType.READ, True), None, "s1", None, store)
