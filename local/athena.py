"""A local Amazon Athena: what the read function's insights reach in `make run` and the tests
(AWS_ENDPOINT_URL_ATHENA), answered by DuckDB over the local lake (docs/LAKE.md).

StartQueryExecution runs the query at once: the Glue database of the context is a DuckDB catalog whose `events`
view reads every Parquet file of the lake with its partitions from the path, as the Glue table does in AWS (the
insights' SQL is the subset both engines read). GetQueryExecution says SUCCEEDED or FAILED, with the bytes the
query's partitions hold as DataScannedInBytes (Athena's own measure, estimated from the files); GetQueryResults
pages the rows as Athena's text values.

Query ids start with their workgroup (`<workgroup>.<uuid>`): the IAM check (local/aws_calls.py) names a call on a
query by its workgroup, as IAM does.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.aws_json import AwsJsonHandler, serve_in_background
from local.lake import all_events_source

ATHENA_TYPES = {
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "FLOAT": "float",
    "VARCHAR": "varchar",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return str(float(value))
    return str(value)


def _athena_type(duckdb_type: str) -> str:
    name = duckdb_type.upper().split("(", 1)[0]
    if name == "DECIMAL":
        return "decimal"
    return ATHENA_TYPES.get(name, "varchar")


@dataclass
class _Execution:
    state: str
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    reason: str = ""
    scanned: int = 0


class LocalAthena:
    def __init__(self, lake: Path) -> None:
        self.lake = lake
        self._executions: dict[str, _Execution] = {}
        self._lock = threading.Lock()
        self._duckdb: Any = None
        self._databases: set[str] = set()
        self.queries: list[str] = []  # what was asked, for the tests and the bench

    def scanned_bytes(self, sql: str) -> int:
        """The size of the files a query's project and day filters leave: the partitions Athena would read."""
        projects = set(re.findall(r"project = '([A-Za-z0-9_-]+)'", sql))
        first = re.search(r"day >= '(\d{4}-\d{2}-\d{2})'", sql)
        last = re.search(r"day <= '(\d{4}-\d{2}-\d{2})'", sql)
        total = 0
        for file in (self.lake / "events").glob("project=*/day=*/*.parquet"):
            project = file.parent.parent.name.removeprefix("project=")
            day = file.parent.name.removeprefix("day=")
            if projects and project not in projects:
                continue
            if (first and day < first.group(1)) or (last and day > last.group(1)):
                continue
            total += file.stat().st_size
        return total

    def _cursor(self, database: str) -> Any:
        """A cursor on the one DuckDB of this Athena (Parquet metadata stays cached across queries, as Athena's
        engine keeps warm), with the database's `events` view over the lake as it is now."""
        import duckdb

        with self._lock:
            if self._duckdb is None:
                self._duckdb = duckdb.connect()
                self._duckdb.execute("SET enable_object_cache = true")
            if database not in self._databases:
                self._duckdb.execute(f"ATTACH ':memory:' AS \"{database}\"")
                self._databases.add(database)
            cursor = self._duckdb.cursor()
        cursor.execute(f'CREATE OR REPLACE VIEW "{database}".events AS SELECT * FROM {all_events_source(self.lake)}')
        return cursor

    def start(self, sql: str, workgroup: str, database: str) -> str:
        import duckdb

        query_id = f"{workgroup}.{uuid.uuid4()}"
        with self._lock:
            self.queries.append(sql)
        try:
            cursor = self._cursor(database)
            try:
                result = cursor.execute(sql)
                description = result.description or []
                columns = [(str(column[0]), _athena_type(str(column[1]))) for column in description]
                rows = [[_text(value) for value in row] for row in result.fetchall()]
            finally:
                cursor.close()
            execution = _Execution("SUCCEEDED", columns, rows, scanned=self.scanned_bytes(sql))
        except duckdb.Error as exc:
            execution = _Execution("FAILED", reason=str(exc).splitlines()[0])
        with self._lock:
            self._executions[query_id] = execution
        return query_id

    def execution(self, query_id: str) -> _Execution | None:
        with self._lock:
            return self._executions.get(query_id)

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        athena = self

        class Handler(AwsJsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                if target == "StartQueryExecution":
                    database = body.get("QueryExecutionContext", {}).get("Database", "default")
                    query_id = athena.start(body["QueryString"], body.get("WorkGroup", "primary"), database)
                    self._answer(200, {"QueryExecutionId": query_id})
                    return
                execution = athena.execution(str(body.get("QueryExecutionId", "")))
                if execution is None:
                    self._answer(400, {"__type": "InvalidRequestException", "Message": "no such query"})
                elif target == "GetQueryExecution":
                    status: dict[str, Any] = {"State": execution.state}
                    if execution.reason:
                        status["StateChangeReason"] = execution.reason
                    self._answer(
                        200,
                        {
                            "QueryExecution": {
                                "QueryExecutionId": body["QueryExecutionId"],
                                "Status": status,
                                "Statistics": {"DataScannedInBytes": execution.scanned},
                            }
                        },
                    )
                elif target == "GetQueryResults":
                    self._answer(200, self._results(execution, body))
                else:
                    self._answer(400, {"__type": "InvalidRequestException", "Message": f"not emulated: {target}"})

            def _results(self, execution: _Execution, body: dict[str, Any]) -> dict[str, Any]:
                start = int(body.get("NextToken") or 0)
                size = int(body.get("MaxResults", 1000))
                header = [[name for name, _ in execution.columns]] if start == 0 else []
                rows = header + execution.rows[start : start + size - len(header)]
                following = start + size - len(header) if start == 0 else start + size
                answer: dict[str, Any] = {
                    "ResultSet": {
                        "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows],
                        "ResultSetMetadata": {
                            "ColumnInfo": [{"Name": name, "Type": kind} for name, kind in execution.columns]
                        },
                    }
                }
                if following < len(execution.rows):
                    answer["NextToken"] = str(following)
                return answer

        return serve_in_background(Handler, port, "local-athena")
