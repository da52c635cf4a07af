"""The shape every benchmark's ratios share: a measured value, its target and whether it is met.

Each benchmark writes ``bench/results/<name>.json`` with a ``"ratios"`` list made by :func:`ratio` and prints
them with :func:`print_ratios`; ``python -m bench.summary`` (the last step of ``make bench``) prints every
benchmark's ratios together, with the machine they were measured on.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Literal

RESULTS_DIR = Path(__file__).parent / "results"
Comparison = Literal["<=", ">="]


def ratio(name: str, value: float, target: float, comparison: Comparison, detail: str = "") -> dict[str, Any]:
    """One measured ratio. ``comparison`` says which side of ``target`` meets it (``<=``: lower is better)."""
    met = value <= target if comparison == "<=" else value >= target
    return {
        "name": name,
        "value": round(value, 3),
        "target": f"{comparison} {target:g}",
        "met": met,
        "detail": detail,
    }


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def print_ratios(ratios: list[dict[str, Any]]) -> None:
    for entry in ratios:
        verdict = "met" if entry["met"] else "NOT MET"
        print(f"  {entry['name']:<62} {entry['value']:>8.2f}x  target {entry['target']:<8} {verdict}")
        if entry.get("detail"):
            print(f"      {entry['detail']}")


def write_results(name: str, results: dict[str, Any]) -> Path:
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return path


def read_results(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
