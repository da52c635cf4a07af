"""`beacon query --project P "SQL"`: SQL over the tables `events` and `sessions` of one project (docs/LAKE.md).

Locally it runs on DuckDB over the local lake (.local/lake, written by `make run`); with --stack-name, on Athena
(Trino SQL) in the stack's workgroup. Output: one JSON object per row, or --format table for people.

The project is the tool's to enforce, not the WHERE clause's: the SQL may name only `events`, `sessions` and its
own CTEs (no schema, no file, no table function), and they hold the project's rows only. Locally the project's
rows are loaded first and DuckDB is then locked away from every file (enable_external_access off, configuration
locked), so no function call in the SQL can read another project's files either.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from beacon.domain.lake_sql import SESSIONS_SQL, LakeScope, events_sql

LAKE_TABLES = ("events", "sessions")


class QueryRefused(ValueError):
    """SQL the tool will not run: it names something beyond the project's two tables, or is not one query."""


def checked_query(sql: str, dialect: str) -> exp.Query:
    """The one query in `sql`, if every table it reads is `events`, `sessions` or a CTE of its own."""
    try:
        statements = [statement for statement in sqlglot.parse(sql, read=dialect) if statement is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryRefused(f"not valid {dialect} SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise QueryRefused("give one SELECT query")
    query = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    if ctes & set(LAKE_TABLES):
        raise QueryRefused("a CTE may not be named events or sessions")
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.args.get("db") or table.args.get("catalog"):
            raise QueryRefused(f"only the tables events and sessions can be read, not {table.sql(dialect=dialect)}")
        if table.name.lower() not in {*LAKE_TABLES, *ctes}:
            raise QueryRefused(f"only the tables events and sessions can be read, not {table.name}")
    return query


def trino(duckdb_sql: str) -> str:
    """The lake's DuckDB SQL as Athena's engine (Trino) reads it."""
    return sqlglot.transpile(duckdb_sql, read="duckdb", write="trino")[0]


def athena_query(user_sql: str, scope: LakeScope, source: str) -> str:
    """The user's Trino query with the project's `events` and `sessions` as its first CTEs."""
    query = checked_query(user_sql, "trino")
    lake = sqlglot.parse_one(
        f"WITH events AS ({events_sql(source, scope)}), sessions AS ({SESSIONS_SQL}) SELECT 1", read="duckdb"
    )
    own = query.args.get("with_")
    ctes = [*lake.args["with_"].expressions, *(own.expressions if own else [])]
    query.set("with_", exp.With(expressions=ctes, recursive=bool(own and own.args.get("recursive"))))
    return query.sql(dialect="trino")


def run_local(user_sql: str, scope: LakeScope, lake: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    from local.lake import events_source

    checked_query(user_sql, "duckdb")
    with duckdb.connect() as connection:
        connection.execute(f"CREATE TABLE events AS {events_sql(events_source(lake, scope.project_id), scope)}")
        connection.execute(f"CREATE TABLE sessions AS {SESSIONS_SQL}")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        try:
            result = connection.execute(user_sql)
        except duckdb.Error as exc:
            raise QueryRefused(str(exc).splitlines()[0]) from exc
        columns = [column[0] for column in result.description or []]
        return columns, result.fetchall()


def run_athena(user_sql: str, scope: LakeScope, stack_name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import boto3

    from beacon.store.athena import AthenaQueryRunner

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    if "LakeWorkGroupName" not in outputs:
        raise SystemExit(f"error: stack {stack_name} has no lake (deploy it with EnableLake=true)")
    runner = AthenaQueryRunner(outputs["LakeWorkGroupName"], outputs["LakeDatabaseName"], timeout_seconds=600)
    sql = athena_query(user_sql, scope, runner.source())

    def progress(state: str, scanned: int) -> None:
        sys.stderr.write(f"\rAthena: {state.lower():<9} {scanned / 1e6:10.1f} MB scanned")
        sys.stderr.flush()

    rows = runner.run(sql, on_progress=progress)
    sys.stderr.write("\n")
    columns = list(rows[0]) if rows else []
    return columns, [tuple(row.values()) for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], style: str) -> None:
    if style == "jsonl":
        for row in rows:
            print(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}, default=str))
        return
    cells = [[("" if v is None else str(_plain(v))) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row_cells in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="beacon query", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True, help="the project whose rows the tables hold")
    parser.add_argument("sql", help='e.g. "SELECT name, count(*) AS n FROM events GROUP BY name ORDER BY n DESC"')
    parser.add_argument("--format", choices=["jsonl", "table"], default="jsonl")
    parser.add_argument("--stack-name", default=None, help="run on Athena in this deployed stack")
    parser.add_argument("--lake", type=Path, default=None, help="the local lake (default .local/lake)")
    args = parser.parse_args(argv)
    try:
        scope = LakeScope(args.project)
    except ValueError:
        raise SystemExit("error: not a project id") from None
    try:
        if args.stack_name:
            columns, rows = run_athena(args.sql, scope, args.stack_name)
        else:
            from local.lake import lake_dir
            from local.stack import STATE_DIR

            columns, rows = run_local(args.sql, scope, args.lake or lake_dir(STATE_DIR))
    except QueryRefused as exc:
        raise SystemExit(f"error: {exc}") from None
    print_rows(columns, rows, args.format)


if __name__ == "__main__":
    main()
