"""Values the test suites share, defined once and imported where used (fixtures live in conftest.py files)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
TEMPLATE = ROOT / "template.yaml"
