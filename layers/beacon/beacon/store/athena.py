"""Amazon Athena: SQL over the lake's Glue table, in the stack's workgroup (its output bucket, its per-query
bytes-scanned limit). Results are reused for up to an hour when the same query is asked again."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.errors import DependencyUnavailableError
from beacon.store.aws import TRANSPORT_ERRORS, _boto3_client, unavailable

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient

RESULT_REUSE_MINUTES = 60
POLL_SECONDS = (0.1, 0.2, 0.4, 0.8)  # then every 0.8 s
INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "bigint"})
FLOAT_TYPES = frozenset({"float", "real", "double"})


class LakeQueryError(DependencyUnavailableError):
    """Athena refused or failed a query (it may be the per-query byte limit)."""


@cache
def athena_client() -> AthenaClient:
    client: AthenaClient = _boto3_client("athena")
    return client


def _value(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    if kind in INTEGER_TYPES:
        return int(text)
    if kind in FLOAT_TYPES:
        return float(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "boolean":
        return text == "true"
    return text


class AthenaQueryRunner:
    """Runs a query in the workgroup and reads its rows; as the insights' LakeReader, `source()` and `rows()`."""

    def __init__(
        self,
        workgroup: str,
        database: str,
        client: AthenaClient | None = None,
        timeout_seconds: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.workgroup = workgroup
        self.database = database
        self._client = client
        self._timeout = timeout_seconds
        self._sleep = sleep

    @property
    def client(self) -> AthenaClient:
        return self._client or athena_client()

    def table(self, table: str) -> str:
        """The Glue table as Trino names it."""
        return f'"{self.database}"."{table}"'

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return self.run(sql)

    def source(self) -> str:
        return self.table("events")

    def run(self, sql: str, on_progress: Callable[[str, int], None] | None = None) -> list[dict[str, Any]]:
        """The query's rows as dicts (Athena's text values converted by column type). `on_progress` hears the
        state and the bytes scanned so far while it runs."""
        try:
            started = self.client.start_query_execution(
                QueryString=sql,
                WorkGroup=self.workgroup,
                QueryExecutionContext={"Database": self.database},
                ResultReuseConfiguration={
                    "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": RESULT_REUSE_MINUTES}
                },
            )
            query_id = started["QueryExecutionId"]
            deadline = time.monotonic() + self._timeout
            attempt = 0
            while True:
                execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                state = execution["Status"]["State"]
                if on_progress is not None:
                    on_progress(state, int(execution.get("Statistics", {}).get("DataScannedInBytes", 0)))
                if state == "SUCCEEDED":
                    break
                if state in ("FAILED", "CANCELLED"):
                    reason = execution["Status"].get("StateChangeReason", state)
                    raise LakeQueryError(f"Athena query {state.lower()}: {reason}")
                if time.monotonic() > deadline:
                    # Left to finish: its bytes are bounded by the workgroup's cutoff, and the same query asked
                    # again within the hour reuses its result.
                    raise LakeQueryError("Athena query took too long; retry later")
                self._sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])
                attempt += 1
            return self._rows(query_id)
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise unavailable("Athena", exc) from exc

    def _rows(self, query_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        columns: list[tuple[str, str]] = []
        token: str | None = None
        first_page = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = self.client.get_query_results(**kwargs)
            if not columns:
                columns = [
                    (info["Name"], info["Type"].lower())
                    for info in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
                ]
            data = page["ResultSet"]["Rows"]
            if first_page and data:
                data = data[1:]  # a SELECT's first row repeats the column names
            first_page = False
            for row in data:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append({name: _value(value, kind) for (name, kind), value in zip(columns, values, strict=True)})
            token = page.get("NextToken")
            if not token:
                return rows
