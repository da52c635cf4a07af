"""The dashboard's budgets (issue 19), measured here as ratios to their targets: the page's weight (HTML + JS + CSS,
gzip) against 300 KiB, and the queries one dashboard load makes over 100,000 events on the local DuckDB lake
(the overview, then the 12 ranked lists and the retention table) against the 1.5 s the overview may take to
render. The browser's own render time is measured by tests/browser/test_dashboard.py (printed and written to
.local/screenshots/render.json): it adds the page's work to the overview query timed here.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from admin.dashboard import PAGE, vendor
from beacon.domain import insights
from beacon.domain.entities import Caller, ClientType
from beacon.domain.lake import event_row
from beacon.gateway.dashboard import Dashboard
from bench.report import machine, print_ratios, ratio, write_results
from local.lake import DuckDBLakeReader, ParquetLakeSink

EVENTS = 100_000
PROJECT = "bench"
TOPS = ("path", "entryPath", "exitPath", "referrerName", "referrerType", "utm_source", "utm_campaign", "country",
        "device", "browser", "os", "name")  # fmt: skip
RUNS = 5


def rows(now: datetime) -> list[dict[str, Any]]:
    made = []
    for number in range(EVENTS):
        session = number // 5
        made.append(
            event_row(
                {
                    "id": f"e{number:06d}",
                    "projectId": PROJECT,
                    "name": "screen_view" if number % 5 else "click",
                    "deviceId": f"d{session % 9000}",
                    "sessionId": f"s{session}",
                    "createdAt": (now - timedelta(minutes=number % (6 * 24 * 60))).isoformat(),
                    "path": f"/page/{number % 40}",
                    "referrerName": ("Google", "Hacker News", None)[number % 3],
                    "country": ("SE", "DE", "US", "FR")[number % 4],
                }
            )
        )
    return made


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    vendor()
    page = Dashboard.load(PAGE)
    weight = sum(len(gzip.compress(f.body.encode(), 9)) for f in (page.index, *page.assets.values()))
    now = datetime.now(UTC)
    caller = Caller(client_id="c", project_id=PROJECT, client_type=ClientType.READ, secret_auth=True)
    with tempfile.TemporaryDirectory() as root:
        ParquetLakeSink(Path(root)).write(rows(now), "bench")
        lake = DuckDBLakeReader(Path(root))
        request = insights.InsightRequest(PROJECT)
        insights.overview(caller, request, "day", lake, now)  # warm: DuckDB's first open of the files
        overview = [timed(lambda: insights.overview(caller, request, "day", lake, now)) for _ in range(RUNS)]

        def whole_load() -> None:
            insights.overview(caller, request, "day", lake, now)
            for dimension in TOPS:
                insights.top(caller, request, dimension, 10, lake, now)
            insights.retention(caller, request, "week", lake, now)

        load = [timed(whole_load) for _ in range(RUNS)]
    overview_s, load_s = statistics.median(overview), statistics.median(load)
    ratios = [
        ratio("page weight (gzip) / 300 KiB budget", weight / (300 * 1024), 1, "<=", f"{weight / 1024:.1f} KiB"),
        ratio(
            "overview query over 100,000 events / 1.5 s render budget",
            overview_s / 1.5,
            1,
            "<=",
            f"median {overview_s * 1000:.0f} ms of {RUNS}",
        ),
        ratio(
            "a whole dashboard load's queries (overview, 12 lists, retention) / 1.5 s",
            load_s / 1.5,
            3,
            "<=",
            f"median {load_s * 1000:.0f} ms of {RUNS}; the lists load after the overview is on screen",
        ),
    ]
    return {"machine": machine(), "events": EVENTS, "page_weight_bytes": weight, "ratios": ratios}


def main() -> None:
    results = run()
    print(f"dashboard ({results['machine']}): {EVENTS:,} events")
    print_ratios(results["ratios"])
    print(f"written to {write_results('dashboard', results)}")


if __name__ == "__main__":
    main()
