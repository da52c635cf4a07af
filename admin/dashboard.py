"""`make dashboard`: copy the dashboard's charting library (uPlot, pinned in package.json / package-lock.json) from
node_modules next to the page (functions/read/dashboard/vendor/, git-ignored), where the read function serves it
and `sam build` ships it. No CDN: the page works offline and under its strict CSP (docs/DASHBOARD.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "functions" / "read" / "dashboard"
VENDOR_FILES = ("uPlot.iife.min.js", "uPlot.min.css")


def vendor(node_modules: Path = ROOT / "node_modules", page: Path = PAGE) -> Path:
    """Copy uPlot's files into `page`/vendor (when changed); the vendor directory."""
    source = node_modules / "uplot" / "dist"
    target = page / "vendor"
    target.mkdir(exist_ok=True)
    for name in VENDOR_FILES:
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source / name} is missing: run `npm ci` (make bootstrap)")
        if not (target / name).is_file() or (target / name).read_bytes() != (source / name).read_bytes():
            shutil.copyfile(source / name, target / name)
    return target


if __name__ == "__main__":
    try:
        print(f"dashboard assets in {vendor().relative_to(ROOT)}")
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
