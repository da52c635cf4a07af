"""One fresh process of the cold-start benchmark (bench/coldstart.py starts it; it is not for direct use).

Runs under the target Python (3.13) with ``-I -B``: stdlib only until the function is imported, nothing of
the bench package, no bytecode written (Lambda's /opt and /var/task are read-only). ``baseline`` only imports
boto3; ``function`` imports the handler module as Lambda does and serves one event. Times are taken from the
first line of this file, so the interpreter's own start-up (the same for both) is left to the parent's
wall-clock figure. The result goes to the file named in the configuration; stdout (the function's logs and
metrics) is the parent's to discard. The process ends with os._exit, as a frozen Lambda sandbox never pays
interpreter teardown.
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402 - after the clock starts, on purpose
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class LambdaContext:
    """What Powertools reads of Lambda's context object."""

    function_name = "beacon-coldstart"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:beacon-coldstart"
    aws_request_id = "coldstart-request"
    log_group_name = "/aws/lambda/beacon-coldstart"
    log_stream_name = "coldstart"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def status_of(answer: Any) -> str:
    """A word that says whether the first event really succeeded: the HTTP status or the policy's effect."""
    if isinstance(answer, dict) and "statusCode" in answer:
        return str(answer["statusCode"])
    if isinstance(answer, dict) and "policyDocument" in answer:
        return str(answer["policyDocument"]["Statement"][0]["Effect"])
    return repr(answer)[:200]


def main() -> None:
    config = json.loads(sys.argv[1])
    sys.path[:0] = config["path"]
    status = "imported"
    second_ms: float | None = None
    if config["mode"] == "baseline":
        import boto3  # noqa: F401 - the import is what is measured

        imported = answered = time.perf_counter()
    else:
        # The import statement's path (not importlib.import_module), so -X importtime nests app's imports under it.
        module = __import__(config["module"])
        imported = time.perf_counter()
        handler = getattr(module, config["handler"])
        event = json.loads(config["event"])
        if config.get("profile"):  # the breakdown of the first event (the parent asks once, untimed)
            import cProfile

            profiler = cProfile.Profile()
            answer = profiler.runcall(handler, event, LambdaContext())
            profiler.dump_stats(config["profile"])
        else:
            answer = handler(event, LambdaContext())
        status = status_of(answer)
        answered = time.perf_counter()
        if config.get("second_event"):  # a warm event after it: what the first one spent only once
            handler(event, LambdaContext())
            second_ms = (time.perf_counter() - answered) * 1000
    result = {
        "init_ms": (imported - STARTED) * 1000,
        "first_event_ms": (answered - imported) * 1000,
        "total_ms": (answered - STARTED) * 1000,
        "status": status,
        "second_event_ms": second_ms,
        "modules": len(sys.modules),
    }
    with open(config["out"], "w") as handle:
        json.dump(result, handle)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
