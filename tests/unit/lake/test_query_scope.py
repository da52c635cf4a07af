"""`beacon query`'s project scoping: the SQL it accepts, the SQL it refuses, and the Athena form it builds."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from admin.query import QueryRefused, athena_query, checked_query
from beacon.domain.lake_sql import LakeScope


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM events",
        "SELECT s.entry_path, count(*) FROM sessions AS s JOIN events USING (session_id) GROUP BY 1",
        "WITH signups AS (SELECT device_id FROM events WHERE name = 'signup') SELECT count(*) FROM signups",
        "SELECT 1",
    ],
)
@pytest.mark.parametrize("dialect", ["duckdb", "trino"])
def test_queries_over_the_two_tables_and_their_own_ctes_are_accepted(sql, dialect):
    assert checked_query(sql, dialect) is not None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('.local/lake/events/*/*/*.parquet')",
        "SELECT * FROM '.local/lake/events/project=other/day=2026-12-01/x.parquet'",
        "SELECT * FROM beacon_lake.events",
        "SELECT * FROM awsdatacatalog.beacon_lake.events",
        "SELECT * FROM other_table",
        "WITH events AS (SELECT * FROM raw) SELECT * FROM events",
        "SELECT 1; SELECT 2",
        "DELETE FROM events",
        "COPY events TO '/tmp/x.csv'",
        "SELEC nothing",
    ],
)
def test_anything_beyond_the_projects_tables_is_refused(sql):
    with pytest.raises(QueryRefused):
        checked_query(sql, "duckdb")


def test_the_athena_form_scopes_both_tables_to_the_project_and_parses_as_trino():
    # Given a user's Trino query with a CTE of its own
    user = "WITH v AS (SELECT device_id FROM events) SELECT count(DISTINCT device_id) AS n FROM v"
    # When the tool builds what Athena runs
    sql = athena_query(user, LakeScope("shop"), '"beacon_lake"."events"')
    # Then it parses as Trino, reads the Glue table only where project = 'shop', and keeps the user's CTE
    tree = sqlglot.parse_one(sql, read="trino")
    tables = {table.sql(dialect="trino") for table in tree.find_all(exp.Table)}
    assert tables == {'"beacon_lake"."events"', "events", "v"}
    [raw] = [table for table in tree.find_all(exp.Table) if table.db]
    select = raw.find_ancestor(exp.Select)
    assert select is not None
    assert select.args["where"].sql(dialect="trino") == "WHERE project = 'shop'"
    assert [cte.alias for cte in tree.find_all(exp.CTE)] == ["events", "sessions", "v"]
    assert "MIN_BY" in sql and "ARG_MIN" not in sql.upper()
