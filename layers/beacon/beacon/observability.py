"""Shared Powertools Logger, Metrics and Tracer (service and namespace come from POWERTOOLS_* variables)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
