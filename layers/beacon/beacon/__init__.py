"""Beacon: an OpenPanel-compatible event-tracking API (shared code of the Lambda layer)."""

# The release, as CHANGELOG.md and pyproject.toml name it (tests/unit/admin/test_version.py keeps the three equal).
__version__ = "0.1.0"
