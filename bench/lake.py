"""The analytics lake's figures (issue 18), measured side by side in one run:

- 1,000,000 events of the realistic mix (bench/mix.py: its property shapes, pages with their campaign parameters,
  referrers, places, the user agents of tests/unit/enrich/test_useragent.py) over 7 days, written straight to
  Parquet in the lake's layout (DuckDB; SNAPPY, as Firehose writes it): a pool of rows built from the mix, then
  1M rows drawn from it in SQL, in sessions of 6 events (a session_start, then 5) of 30,000 returning devices;
- every insight through the read function's own Athena client (store/athena.py) against the local Athena
  (local/athena.py, DuckDB): the median of 3 after one warm-up. Targets: overview <= 1 s, each other <= 2 s;
- storage: Parquet bytes per event against the same events' DynamoDB item size (store/dynamodb.item_size), a
  year of retention at list prices (DynamoDB storage + its point-in-time recovery vs S3 Standard). Target >= 10x;
- the lake path's cost per million events from the measured JSON bytes per row (what Firehose ingests, packed
  into 256 KiB records) and the consumer's measured duration per 1,000-record batch. Target <= $0.05;
- partition pruning: the bytes an overview of one project-day reads (the files its project and day filters leave,
  which is how Athena's partition projection prunes) against that project-day partition's size. Target <= 1.

Prices (us-east-1, list, first tier; as on the AWS pricing pages, not re-checked by this run): Firehose Direct PUT
$0.029/GB (records billed in 5 KB steps), format conversion $0.018/GB, dynamic partitioning $0.020/GB + $0.005 per
1,000 objects delivered; S3 Standard $0.023/GB-month, PUT $0.005 per 1,000; DynamoDB Standard storage
$0.25/GB-month, PITR $0.20/GB-month; Athena $5 per TB scanned (10 MB minimum per query); Lambda arm64 as
bench/cost.py.

Run: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.lake   (in make bench). Writes bench/results/lake.json.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from beacon.domain import insights
from beacon.domain.entities import Caller, ClientType, Event
from beacon.domain.lake import EVENT_COLUMNS, PARTITION_COLUMNS
from beacon.domain.page import parse_page
from beacon.store.dynamodb import item_size
from beacon.store.events import event_to_item
from beacon.store.firehose import RECORD_BYTES, encode_row, pack_records
from bench.mix import PAGES, REFERRERS, _track_properties
from bench.report import machine, print_ratios, ratio, write_results
from local.lake import DUCKDB_TYPES
from tests.unit.enrich.test_useragent import TABLE

EVENTS = 1_000_000
DEVICES = 30_000
POOL = 4_000
PROJECT = "bench-project"
START = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 7
PRICE = {
    "firehose_gb": 0.029,
    "conversion_gb": 0.018,
    "partitioning_gb": 0.020,
    "partitioning_object": 0.005 / 1000,
    "s3_gb_month": 0.023,
    "s3_put": 0.005 / 1000,
    "dynamodb_gb_month": 0.25,
    "pitr_gb_month": 0.20,
    "athena_tb": 5.0,
    "lambda_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
}
REFERRER_NAMES = {
    "www.google.com": ("Google", "search"),
    "news.ycombinator.com": ("Hacker News", "social"),
    "t.co": ("Twitter", "social"),
    "duckduckgo.com": ("DuckDuckGo", "search"),
    "www.bing.com": ("Bing", "search"),
    "l.facebook.com": ("Facebook", "social"),
    "chatgpt.com": ("ChatGPT", "ai"),
}
NAMES = ["screen_view"] * 8 + ["click", "add_to_cart", "search", "signup_started", "signup_completed", "purchase"]


def _text(value: Any) -> str | None:
    return None if value in (None, "", "null") else str(value)


def row_pool(seed: int = 18) -> list[dict[str, Any]]:
    """Rows with the mix's shapes: what an event's columns hold, before its ids and times are drawn."""
    from bench.mix import _devices

    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    devices = [device for device in _devices(rng) if not device.bot]
    agents = {case.agent: case for case in TABLE}
    now = START
    pool = []
    for number in range(POOL):
        device = rng.choice(devices)
        case = agents[device.user_agent]
        name = NAMES[number % len(NAMES)]
        properties = _track_properties(rng, device, now)
        page = parse_page(page_url(rng)) if name == "screen_view" else parse_page(properties.get("__path"))
        referrer = rng.choice(REFERRERS) if name == "screen_view" else ""
        host = urllib.parse.urlsplit(referrer).hostname if referrer else None
        referrer_name, referrer_type = REFERRER_NAMES.get(host or "", (None, None))
        ordinary = {k: v for k, v in properties.items() if not k.startswith("__")}
        place = device.place if device.geo != "none" else None
        pool.append(
            {
                "name": name,
                "client_id": "5d0c8f3a-1b2c-4d5e-8f90-0a1b2c3d4e5f",
                "path": _text(page.path),
                "origin": _text(page.origin),
                "query": json.dumps(page.query) if page.query else None,
                "hash": _text(page.hash),
                "referrer": _text(referrer),
                "referrer_name": referrer_name,
                "referrer_type": referrer_type,
                "utm_source": page.query.get("utm_source"),
                "utm_medium": page.query.get("utm_medium"),
                "utm_campaign": page.query.get("utm_campaign"),
                "country": place[0] if place else None,
                "region": place[2] if place and device.geo == "full" else None,
                "city": urllib.parse.unquote(place[4]) if place and device.geo == "full" else None,
                "device": case.device,
                "os": case.os if isinstance(case.os, str) else None,
                "browser": case.browser if isinstance(case.browser, str) else None,
                "sdk_name": "web",
                "sdk_version": "1.0.2",
                "revenue": properties.get("__revenue"),
                "properties": json.dumps(ordinary, separators=(",", ":"), sort_keys=True, default=str),
            }
        )
    return pool


def page_url(rng: random.Random) -> str:
    return "https://shop.example.com" + rng.choice(PAGES)


def generate(lake: Path) -> float:
    """1M rows drawn from the pool in SQL, written as the lake's partitions; returns the seconds it took."""
    started = time.perf_counter()
    pool_file = lake / "pool.json"
    pool = row_pool()
    pool_file.write_text("\n".join(json.dumps(row) for row in pool))
    columns = [*EVENT_COLUMNS, *PARTITION_COLUMNS]
    pool_columns = set(pool[0])
    spec = "{" + ", ".join(f"'{n}': '{DUCKDB_TYPES[t]}'" for n, t in EVENT_COLUMNS if n in pool_columns) + "}"
    seconds = DAYS * 86400
    generated = {
        "id": "printf('%012x%016x', epoch_ms(created_at), hash(i))",
        "created_at": "created_at",
        "received_at": "created_at",
        "device_id": "printf('%032x', hash(visitor) % 1000000007)",
        "session_id": "printf('%08x-%04x-4%03x-8%03x-%012x', session, session % 65536, 0, 0, hash(session) % 1000000)",
        "profile_id": (
            "CASE WHEN visitor % 5 = 0 THEN 'user-' || visitor ELSE printf('%032x', hash(visitor) % 1000000007) END"
        ),
        "identified": "visitor % 5 = 0",
        "utm_term": "NULL",
        "utm_content": "NULL",
        "os_version": "NULL",
        "browser_version": "NULL",
        "brand": "NULL",
        "model": "NULL",
        "duration": "NULL",
        "from_past": "false",
        "groups": "NULL",
        "project": f"'{PROJECT}'",
        "day": "strftime(created_at, '%Y-%m-%d')",
    }
    session_start_only = ("path", "query", "hash", "referrer", "referrer_name", "referrer_type", "properties")
    parts = []
    for name, kind in columns:
        if name in generated:
            parts.append(f"CAST({generated[name]} AS {DUCKDB_TYPES[kind]}) AS {name}")
        elif name == "name":
            parts.append("CASE WHEN step = 0 THEN 'session_start' ELSE p.name END AS name")
        elif name in session_start_only:
            parts.append(f"CASE WHEN step = 0 THEN NULL ELSE p.{name} END AS {name}")
        else:
            parts.append(f"p.{name} AS {name}")
    select = ", ".join(parts)
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE pool AS SELECT row_number() OVER () - 1 AS k, * "
            f"FROM read_json('{pool_file}', format = 'newline_delimited', columns = {spec})"
        )
        connection.execute(
            f"""
            COPY (
              WITH draws AS (
                SELECT i, i // 6 AS session, i % 6 AS step,
                       hash(i // 6) % {DEVICES} AS visitor,
                       TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + to_seconds(CAST(hash(i // 6) % {seconds} AS BIGINT))
                         + to_seconds(CAST(i % 6 * 40 AS BIGINT)) AS created_at,
                       hash(i * 7919) % {POOL} AS k
                FROM range({EVENTS}) AS t(i)
              )
              SELECT {select} FROM draws JOIN pool AS p USING (k)
            ) TO '{lake / "events"}' (FORMAT parquet, PARTITION_BY (project, day), COMPRESSION snappy,
                                      ROW_GROUP_SIZE 122880)
            """
        )
    pool_file.unlink()
    return time.perf_counter() - started


class _Timing:
    @staticmethod
    def median(call: Any, repeats: int = 3) -> float:
        call()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)


def main() -> None:
    import boto3

    from beacon.store.athena import AthenaQueryRunner
    from local.athena import LocalAthena

    with tempfile.TemporaryDirectory(prefix="beacon-lake-bench-") as directory:
        lake = Path(directory)
        generation = generate(lake)
        files = list((lake / "events").glob("project=*/day=*/*.parquet"))
        lake_bytes = sum(file.stat().st_size for file in files)
        athena = LocalAthena(lake)
        server = athena.serve()
        client = boto3.client(
            "athena",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - the local Athena takes any
        )
        runner = AthenaQueryRunner("LakeWorkGroup", "LakeDatabase", client, timeout_seconds=60)
        caller = Caller(project_id=PROJECT, client_id="bench", client_type=ClientType.READ, secret_auth=True)
        week = insights.InsightRequest(PROJECT, START, START + timedelta(days=DAYS))
        now = START + timedelta(days=DAYS)
        calls = {
            "overview": lambda: insights.overview(caller, week, "day", runner, now),
            "top path": lambda: insights.top(caller, week, "path", 10, runner, now),
            "top referrerName": lambda: insights.top(caller, week, "referrerName", 10, runner, now),
            "funnel (3 steps, 60 min)": lambda: insights.funnel(
                caller, week, "signup_started,signup_completed,purchase", 60, runner, now
            ),
            "retention (day)": lambda: insights.retention(caller, week, "day", runner, now),
        }
        timings = {name: _Timing.median(call) for name, call in calls.items()}
        overview = calls["overview"]()
        assert overview["events"] > 0
        # Partition pruning: an overview of one project-day is two queries (the day, and the day before for the
        # `previous` comparison), against those two partitions' size
        day = START + timedelta(days=3)
        one_day = insights.InsightRequest(PROJECT, day, day + timedelta(days=1))
        asked = len(athena.queries)
        insights.overview(caller, one_day, "hour", runner, now)
        scanned = sum(athena.scanned_bytes(query) for query in athena.queries[asked:])
        partition = sum(
            file.stat().st_size
            for moment in (day - timedelta(days=1), day)
            for file in (lake / "events" / f"project={PROJECT}" / f"day={moment:%Y-%m-%d}").glob("*")
        )
        # Storage: the same events as DynamoDB items, against their Parquet bytes
        with duckdb.connect() as connection:
            sample = connection.execute(
                # seeded: the sizes, and the verdicts they feed, repeat from run to run
                f"SELECT * FROM read_parquet('{lake}/events/*/*/*.parquet', hive_partitioning = true) "
                "USING SAMPLE reservoir(10000 ROWS) REPEATABLE (18)"
            ).fetchall()
            names = [column[0] for column in connection.description or []]
        rows = [dict(zip(names, values, strict=True)) for values in sample]
        item_bytes = statistics.mean(item_size(event_to_item(_event(row), 35)) for row in rows)
        json_bytes = statistics.mean(len(encode_row(_lake_row(row))) for row in rows)
        consumer_ms = _consumer_batch_ms(rows)
        server.shutdown()

    parquet_per_event = lake_bytes / EVENTS
    year = 12
    dynamodb_year = item_bytes * 1e6 / 1e9 * (PRICE["dynamodb_gb_month"] + PRICE["pitr_gb_month"]) * year
    lake_year = parquet_per_event * 1e6 / 1e9 * PRICE["s3_gb_month"] * year
    ingested_gb = json_bytes * 1e6 / 1e9
    objects = 288 * DAYS / DAYS  # one object per 5-minute buffer per active project-day partition: 288 a day
    batches = 1e6 / 1000
    lake_path = {
        "firehose ingestion": ingested_gb * PRICE["firehose_gb"],
        "format conversion": ingested_gb * PRICE["conversion_gb"],
        "dynamic partitioning": ingested_gb * PRICE["partitioning_gb"] + objects * PRICE["partitioning_object"],
        "S3 PUTs": objects * PRICE["s3_put"],
        "consumer Lambda": batches * (consumer_ms / 1000 * 0.5 * PRICE["lambda_gb_second"] + PRICE["lambda_request"]),
    }
    lake_cost = sum(lake_path.values())
    athena_query = max(scanned, 10e6) / 1e12 * PRICE["athena_tb"]
    ratios = [
        ratio("/insights/overview over 1M events, seconds", timings["overview"], 1.0, "<=", "local Athena (DuckDB)"),
        *(
            ratio(f"/insights/{name} over 1M events, seconds", seconds, 2.0, "<=")
            for name, seconds in timings.items()
            if name != "overview"
        ),
        ratio(
            "storage for a year: DynamoDB (+PITR) / lake, per million events",
            dynamodb_year / lake_year,
            10.0,
            ">=",
            f"${dynamodb_year:.3f} vs ${lake_year:.4f}: {item_bytes:.0f} B item vs {parquet_per_event:.1f} B Parquet",
        ),
        ratio(
            "lake path cost per million events, USD",
            lake_cost,
            0.05,
            "<=",
            ", ".join(f"{name} ${value:.4f}" for name, value in lake_path.items()),
        ),
        ratio(
            "bytes an overview of one project-day reads / its day's and the day before's partitions",
            scanned / partition if partition else 0.0,
            1.0,
            "<=",
            f"{scanned} of {partition} bytes; whole lake {lake_bytes} bytes",
        ),
    ]
    results = {
        "machine": machine(),
        "events": EVENTS,
        "generation_seconds": round(generation, 2),
        "insight_seconds": {name: round(value, 3) for name, value in timings.items()},
        "lake_bytes": lake_bytes,
        "parquet_bytes_per_event": round(parquet_per_event, 1),
        "dynamodb_item_bytes": round(item_bytes, 1),
        "json_bytes_per_row": round(json_bytes, 1),
        "firehose_record_bytes": RECORD_BYTES,
        "consumer_ms_per_1000_records": round(consumer_ms, 1),
        "cost_per_million_events_usd": {name: round(value, 5) for name, value in lake_path.items()},
        "storage_per_million_events_year_usd": {"dynamodb": round(dynamodb_year, 4), "lake": round(lake_year, 5)},
        "athena_overview_query_usd": round(athena_query, 6),
        "overview": {key: overview[key] for key in ("visitors", "sessions", "screenViews", "events")},
        "prices": PRICE,
        "ratios": ratios,
    }
    write_results("lake", results)
    print(f"lake: {EVENTS:,} events generated in {generation:.1f}s, {lake_bytes / 1e6:.1f} MB of Parquet")
    for name, value in timings.items():
        print(f"  {name:<28} {value * 1000:7.0f} ms")
    print_ratios(ratios)


def _event(row: dict[str, Any]) -> Event:
    device = {k: v for k, v in {"device": row["device"], "os": row["os"], "browser": row["browser"]}.items() if v}
    geo = {k: v for k, v in {"country": row["country"], "region": row["region"], "city": row["city"]}.items() if v}
    properties = json.loads(row["properties"] or "{}")
    if row["query"]:
        properties["__query"] = json.loads(row["query"])
    return Event(
        id=row["id"],
        project_id=str(row["project"]),
        client_id=row["client_id"],
        name=row["name"],
        properties=properties,
        profile_id=row["profile_id"] if row["identified"] else None,
        groups=None,
        device_id=row["device_id"],
        session_id=row["session_id"],
        created_at=row["created_at"].replace(tzinfo=UTC),
        received_at=row["received_at"].replace(tzinfo=UTC),
        revenue=row["revenue"],
        device=device,
        geo=geo,
        path=row["path"] or "",
        origin=row["origin"] or "",
        referrer=row["referrer"] or "",
        referrer_name=row["referrer_name"] or "",
        referrer_type=row["referrer_type"] or "",
        sdk_name=row["sdk_name"] or "",
        sdk_version=row["sdk_version"] or "",
    )


def _lake_row(row: dict[str, Any]) -> dict[str, Any]:
    created, received = (row[name].replace(tzinfo=UTC) for name in ("created_at", "received_at"))
    return {**row, "created_at": created, "received_at": received, "day": str(row["day"])}


def _consumer_batch_ms(rows: list[dict[str, Any]]) -> float:
    """The lake function on a 1,000-record stream batch (Firehose answered at once): ms per batch."""
    from functools import partial

    from beacon.store.firehose import FirehoseLakeSink
    from tests.unit.support.handlers import load_function

    class Answering:
        def put_record_batch(self, DeliveryStreamName: str, Records: list[Any]) -> dict[str, Any]:
            return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"} for _ in Records]}

    app = load_function("lake", {"LAKE_DELIVERY_STREAM": "bench"})
    images = [event_to_item(_event(row), 35) for row in (rows * 1000)[:1000]]
    event = {
        "Records": [
            {
                "eventName": "INSERT",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/EventsTable/stream/bench",
                "dynamodb": {"SequenceNumber": str(number), "NewImage": image},
            }
            for number, image in enumerate(images)
        ]
    }
    sink = FirehoseLakeSink("bench", Answering())  # type: ignore[arg-type]
    run = partial(app.process_stream, event, sink)
    assert len(pack_records([])) == 0
    return _Timing.median(run, repeats=5) * 1000


if __name__ == "__main__":
    main()
