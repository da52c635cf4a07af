"""The functions' shared Powertools objects, as a cold start imports them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.constants import ROOT

# A handler that records no application metric, flushed by Powertools as every Beacon function flushes its metrics
NO_METRIC_HANDLER = """
from beacon.observability import metrics

@metrics.log_metrics
def handler(event, context):
    return {"statusCode": 200}

handler({}, None)
print("handled")
"""


def test_a_request_that_records_no_metric_writes_no_warning_to_the_functions_log() -> None:
    # Given a function's module imported as Lambda imports it (a fresh interpreter, warnings on as by default)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "beacon"),
        "POWERTOOLS_METRICS_NAMESPACE": "Beacon",
        "POWERTOOLS_SERVICE_NAME": "beacon",
    }

    # When it handles a request that counts nothing (a healthcheck, a read, a reaper run with no session ending)
    run = subprocess.run([sys.executable, "-c", NO_METRIC_HANDLER], env=env, capture_output=True, text=True, timeout=60)

    # Then the log holds no "No application metrics to publish" UserWarning (it held one for each such request)
    assert run.returncode == 0 and "handled" in run.stdout, run.stderr
    assert "No application metrics" not in run.stderr
