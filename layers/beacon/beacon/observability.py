"""Shared Powertools Logger and Metrics (service and namespace come from POWERTOOLS_* variables).

The Tracer lives in beacon.tracing: creating it imports the X-Ray SDK (and with it botocore, at import time),
which a function that records no subsegments (the authorizer) should not pay.
"""

import warnings

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

# A request that counts nothing (a healthcheck, a read, a reaper run with no session ending) is normal here: without
# this, Powertools writes a UserWarning to the function's log on each one (the filter its docs give).
warnings.filterwarnings("ignore", "No application metrics to publish*")

logger = Logger()
metrics = Metrics()
