"""Cost per million events at AWS list prices (issue 8, §5), computed from what the other benchmarks measured.

Inputs, all measured in the same `make bench` run (bench/results/*.json):
- handler.json: the track function's duration per request (single events and batches, DynamoDB Local behind it),
  the authorizer's duration with a warm cache, and the bytes each function logs per request;
- ingest.json: the write units per event, as AWS bills them (transactions count twice);
- coldstart.json (when present): the init duration of a fresh track and authorizer process;
- template.yaml: memory size and architecture.

Lambda bills duration rounded up to the millisecond, and (since 2025-08-01) the init phase of on-demand
functions too; the model charges one cold start of each function per COLD_START_EVERY requests. Durations were
measured on the machine `make bench` ran on, with DynamoDB Local answering in about 2 ms per call; Lambda's
arm64 at 512 MB and DynamoDB's own latency will differ, so treat the Lambda rows as an estimate and the
DynamoDB and API Gateway rows (which depend only on counts) as exact.

Run: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.cost   (after bench.handler and bench.ingest)
Writes bench/results/cost.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.report import machine, read_results, write_results
from local.template import read_template

PRICES_CHECKED = "2026-11-22"
REGION = "us-east-1"
# List prices, us-east-1, first pricing tier, from the AWS pricing pages (stored copies, checked PRICES_CHECKED).
PRICES = {
    "lambda_request": (0.20 / 1e6, "https://aws.amazon.com/lambda/pricing/ (requests, any architecture)"),
    "lambda_arm_gb_second": (0.0000133334, "https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-s)"),
    "api_gateway_rest_request": (3.50 / 1e6, "https://aws.amazon.com/api-gateway/pricing/ (REST, first 333 M)"),
    "dynamodb_write_request_unit": (
        0.625 / 1e6,
        "https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand WRU, since the 2024-11-01 price cut)",
    ),
    "dynamodb_read_request_unit": (0.125 / 1e6, "https://aws.amazon.com/dynamodb/pricing/on-demand/ (RRU)"),
    "cloudwatch_logs_gb": (0.50, "https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard ingestion)"),
    "xray_trace": (5.00 / 1e6, "https://aws.amazon.com/xray/pricing/ (traces recorded)"),
    "secrets_manager_call": (0.05 / 10_000, "https://aws.amazon.com/secrets-manager/pricing/ (API calls)"),
    "secrets_manager_secret_month": (0.40, "https://aws.amazon.com/secrets-manager/pricing/ (per secret-month)"),
}
COLD_START_EVERY = 1000  # requests per cold start of each function: an assumption, stated in the table
XRAY_SAMPLED = 0.05  # X-Ray's default sampling rule records 1 request/s plus 5% of the rest; the 5% is modelled
BILLED_MS = 1.0  # Lambda's billing granularity


def price(name: str) -> float:
    return PRICES[name][0]


@dataclass(frozen=True)
class Workload:
    """One way of sending events: how many per API request, and what each request costs in time and units."""

    name: str
    events_per_request: int
    track_ms: float  # track function duration per request
    write_units_per_event: float
    log_bytes_per_request: float


def lambda_cost(ms: float, memory_gb: float) -> float:
    billed = math.ceil(ms / BILLED_MS) * BILLED_MS
    return price("lambda_request") + billed / 1000 * memory_gb * price("lambda_arm_gb_second")


def per_million_events(
    workload: Workload, memory_gb: float, authorizer: dict[str, Any], cold: dict[str, float] | None
) -> dict[str, float]:
    requests = 1e6 / workload.events_per_request
    rows = {
        "API Gateway (REST)": requests * price("api_gateway_rest_request"),
        "Lambda authorizer (1 invocation per request, TTL 0)": requests
        * lambda_cost(authorizer["warm_cache_median_ms"], memory_gb),
        "Lambda track function": requests * lambda_cost(workload.track_ms, memory_gb),
        "DynamoDB on-demand writes": 1e6 * workload.write_units_per_event * price("dynamodb_write_request_unit"),
        "CloudWatch Logs (function output)": requests
        * (workload.log_bytes_per_request + authorizer["log_bytes_per_request"])
        / 1e9
        * price("cloudwatch_logs_gb"),
        "X-Ray traces (5% sampled)": requests * XRAY_SAMPLED * price("xray_trace"),
    }
    if cold:
        init_ms = cold.get("track_init_ms", 0.0) + cold.get("authorizer_init_ms", 0.0)
        rows[f"Lambda init (1 cold start per {COLD_START_EVERY} requests)"] = (
            requests / COLD_START_EVERY * init_ms / 1000 * memory_gb * price("lambda_arm_gb_second")
        )
    rows["total"] = sum(rows.values())
    return {key: round(value, 4) for key, value in rows.items()}


def cold_start_inputs() -> dict[str, float] | None:
    """From bench.coldstart, when it ran: the median ms a fresh process spends on init plus its first event
    (billed since 2025-08-01, init included), per function."""
    results = read_results("coldstart")
    medians = (results or {}).get("median_ms", {})
    found = {
        f"{name}_init_ms": float(medians[name]["total_ms"])
        for name in ("track", "authorizer")
        if isinstance(medians.get(name, {}).get("total_ms"), int | float)
    }
    return found or None


def run() -> dict[str, Any]:
    handler, ingest = read_results("handler"), read_results("ingest")
    if handler is None or ingest is None:
        raise SystemExit("bench.cost needs bench/results/handler.json and ingest.json: run `make bench`")
    template = read_template()
    globals_ = template.data.get("Globals", {}).get("Function", {})
    client_cache_seconds = float(template.functions()["AuthorizerFunction"].environment["CLIENT_CACHE_SECONDS"])
    memory_mb = int(globals_.get("MemorySize", 128))
    memory_gb = memory_mb / 1024
    track, units = handler["track"], ingest["write_units_per_event"]
    batch_size = int(track["batch_size"])
    batch_units_key = next(key for key in units if key.startswith("batch_of_") and key.endswith("_per_event"))
    workloads = [
        Workload(
            "POST /track, one event per request",
            1,
            track["handler_single_ms_per_request"],
            units["track_one_event"]["aws_write"],
            track["log_bytes_per_single_request"],
        ),
        Workload(
            f"POST /track/batch, {batch_size} events per request",
            batch_size,
            track[f"handler_batch_of_{batch_size}_ms_per_request"],
            units[batch_units_key]["aws_write"],
            track[f"log_bytes_per_batch_of_{batch_size}"],
        ),
    ]
    cold = cold_start_inputs()
    table = {w.name: per_million_events(w, memory_gb, handler["authorizer"], cold) for w in workloads}
    return {
        "machine": machine(),
        "region": REGION,
        "prices_checked": PRICES_CHECKED,
        "prices": {name: {"usd": value, "source": source} for name, (value, source) in PRICES.items()},
        "memory_mb": memory_mb,
        "inputs": {
            "track_ms_per_request": {w.name: w.track_ms for w in workloads},
            "write_units_per_event": {w.name: w.write_units_per_event for w in workloads},
            "authorizer_warm_ms": handler["authorizer"]["warm_cache_median_ms"],
            "cold_start": cold,
        },
        "usd_per_million_events": table,
        "fixed_monthly": {
            "Secrets Manager: one secret per client, plus the stack's two": price("secrets_manager_secret_month"),
            "Secrets Manager: GetSecretValue per warm authorizer container and active client"
            f" (every {client_cache_seconds:g} s)": round(
                30 * 24 * 3600 / client_cache_seconds * price("secrets_manager_call"), 2
            ),
        },
    }


def markdown(results: dict[str, Any]) -> str:
    table = results["usd_per_million_events"]
    names = list(table)
    rows = list(next(iter(table.values())))
    lines = ["| USD per million events | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for row in rows:
        cells = [f"{table[name].get(row, 0):.2f}" for name in names]
        label = f"**{row}**" if row == "total" else row
        lines.append(f"| {label} | " + " | ".join(f"**{c}**" if row == "total" else c for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    results = run()
    print(f"cost per million events, {results['region']} list prices checked {results['prices_checked']}")
    print(f"memory {results['memory_mb']} MB arm64; durations measured on {results['machine']}")
    print(markdown(results))
    for name, usd in results["fixed_monthly"].items():
        print(f"  fixed: {name}: {usd} USD/month")
    print(f"written to {write_results('cost', results)}")


if __name__ == "__main__":
    main()
