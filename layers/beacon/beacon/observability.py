"""Shared Powertools Logger and Metrics (service and namespace come from POWERTOOLS_* variables).

The Tracer lives in beacon.tracing: creating it imports the X-Ray SDK (and with it botocore, at import time),
which a function that records no subsegments (the authorizer) should not pay.
"""

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

logger = Logger()
metrics = Metrics()
