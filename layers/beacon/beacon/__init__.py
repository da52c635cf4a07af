"""Beacon: an OpenPanel-compatible event-tracking API (shared code of the Lambda layer)."""
