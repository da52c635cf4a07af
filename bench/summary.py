"""The last step of `make bench`: every benchmark's ratios, each with its target and whether it is met.

Reads bench/results/*.json as the benchmarks of this run wrote them; a result older than the run's first
result is named as stale, so a figure from an earlier run is never passed off as this one's.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from bench.report import RESULTS_DIR, print_ratios

ORDER = ["cpu", "handler", "coldstart", "package", "ingest", "reads", "useragent", "lake", "dashboard", "cost"]


def main(argv: list[str]) -> int:
    since = float(argv[0]) if argv else 0.0  # the run's start (epoch seconds): older files are stale
    print(f"\n=== Beacon benchmarks: ratios measured side by side ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC) ===")
    found = {path.stem: path for path in RESULTS_DIR.glob("*.json")}
    unmet = 0
    for name in sorted(found, key=lambda stem: (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)):
        path = found[name]
        results: dict[str, Any] = json.loads(path.read_text())
        ratios = [entry for entry in results.get("ratios") or [] if isinstance(entry, dict) and "met" in entry]
        if not ratios:
            continue
        stale = " (STALE: from an earlier run)" if path.stat().st_mtime < since else ""
        print(f"{name}: {results.get('machine', '')}{stale}")
        print_ratios(ratios)
        unmet += sum(1 for entry in ratios if not entry["met"])
    print(f"{unmet} target(s) not met" if unmet else "every target met")
    if since:
        print(f"the run took {(datetime.now(UTC).timestamp() - since) / 60:.1f} minutes")
    return 0  # a benchmark reports; it does not fail the build


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
