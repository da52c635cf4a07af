"""`./beacon query` on the local lake: JSON lines and tables, one project's rows only, and no way out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from admin.query import main
from beacon.domain.lake import event_row
from local.lake import ParquetLakeSink


def item(project: str, number: int, name: str = "screen_view") -> dict[str, Any]:
    return {
        "id": f"{project}-{number}",
        "projectId": project,
        "name": name,
        "deviceId": f"d{number % 2}",
        "sessionId": f"s{number % 2}",
        "createdAt": datetime(2026, 12, 1, 10, number, tzinfo=UTC).isoformat(),
        "path": f"/p{number}",
    }


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    sink = ParquetLakeSink(tmp_path)
    sink.write([event_row(item("shop", number)) for number in range(4)], "stream-1")
    sink.write([event_row(item("other", number)) for number in range(9)], "stream-2")
    return tmp_path


def run(capsys: Any, lake: Path, *args: str) -> str:
    main([*args, "--lake", str(lake)])
    return str(capsys.readouterr().out)


def test_rows_come_out_as_json_lines_of_the_project_only(capsys, lake):
    out = run(capsys, lake, "--project", "shop", "SELECT count(*) AS n, count(DISTINCT device_id) AS v FROM events")
    assert [json.loads(line) for line in out.splitlines()] == [{"n": 4, "v": 2}]


def test_sessions_are_one_row_per_session_and_the_table_format_is_for_people(capsys, lake):
    out = run(
        capsys,
        lake,
        "--project",
        "shop",
        "SELECT session_id, event_count, entry_path FROM sessions ORDER BY 1",
        "--format",
        "table",
    )
    lines = out.splitlines()
    assert lines[0].split() == ["session_id", "event_count", "entry_path"]
    assert [line.split() for line in lines[2:4]] == [["s0", "2", "/p0"], ["s1", "2", "/p1"]]
    assert lines[-1] == "(2 rows)"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM read_parquet('{lake}/events/project=other/*/*.parquet')",
        "SELECT count(*) FROM '{lake}/events/project=other/day=2026-12-01/stream-2.parquet'",
    ],
)
def test_another_projects_files_cannot_be_named(capsys, lake, sql):
    with pytest.raises(SystemExit, match="only the tables events and sessions"):
        main(["--project", "shop", sql.format(lake=lake), "--lake", str(lake)])


def test_no_function_call_reaches_a_file(capsys, lake):
    # A scalar call is no table reference, so DuckDB's own lock is what stops it.
    sql = f"SELECT (SELECT count(*) FROM events) + length(read_blob('{lake}/events/project=other'))"
    with pytest.raises(SystemExit, match="error"):
        main(["--project", "shop", sql, "--lake", str(lake)])
