"""The shared Powertools Tracer (X-Ray subsegments for the functions that record them)."""

from aws_lambda_powertools.tracing import Tracer

tracer = Tracer()
