"""A local stand-in for Lambda's Invoke API (AWS_ENDPOINT_URL_LAMBDA): the privacy function hands an erasure on to
itself with an asynchronous invoke (functions/privacy/app.py), and locally this answers it.

boto3's `invoke` is `POST /2015-03-31/functions/{FunctionName}/invocations` with the payload as the body and the
`X-Amz-Invocation-Type` header: `Event` is queued and answered 202 at once, then run in a worker thread, one at
a time per function (one container of its own, as Lambda runs asynchronous events beside the API's requests), and
retried twice when it raises, as Lambda retries an asynchronous event; `RequestResponse` runs and answers the
function's result; `DryRun` answers 204. A name, a full or a partial ARN name the function, by its deployed name
(the template's FunctionName) or its logical id. The gateway (local/gateway.py `serve`) starts it when
AWS_ENDPOINT_URL_LAMBDA names a local port; the functions' code has no local branch.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local.template import FunctionSpec

INVOKE_PATH = "/2015-03-31/functions/"
RETRY_DELAYS = (1.0, 2.0)  # Lambda waits about 1 then 2 minutes between an asynchronous event's attempts


def function_name_of(name_or_arn: str) -> str:
    """`name`, `arn:aws:lambda:region:account:function:name[:qualifier]` or `account:function:name` → `name`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]


class AsyncQueue:
    """One function's queue of asynchronous events, run in order by one worker thread."""

    def __init__(self, run: Callable[[dict[str, Any]], Any], retry_delays: tuple[float, ...]) -> None:
        self._run = run
        self._retry_delays = retry_delays
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        threading.Thread(target=self._work, daemon=True, name="local-lambda-async").start()

    def put(self, event: dict[str, Any]) -> None:
        with self._idle:
            self._pending += 1
        self._events.put(event)

    def _work(self) -> None:
        while True:
            event = self._events.get()
            for delay in (*self._retry_delays, None):
                try:
                    self._run(event)
                    break
                except Exception:  # noqa: BLE001 - a failed attempt, as Lambda logs it; then the retry
                    traceback.print_exc()
                    if delay is not None:
                        time.sleep(delay)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Whether every queued event has run (tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


class LocalLambda:
    """The functions of the template, by name, each with its own warm container for invocations."""

    def __init__(self, specs: Mapping[str, FunctionSpec], retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        from local.gateway import LocalFunction  # one container per function, apart from the gateway's

        self._specs = {spec.name: spec for spec in specs.values()} | {spec.logical_id: spec for spec in specs.values()}
        self._functions: dict[str, LocalFunction] = {}
        self._queues: dict[str, AsyncQueue] = {}
        self._retry_delays = retry_delays
        self._lock = threading.Lock()
        self._factory = LocalFunction

    def spec(self, name_or_arn: str) -> FunctionSpec | None:
        return self._specs.get(function_name_of(name_or_arn))

    def _function(self, spec: FunctionSpec) -> Any:
        with self._lock:
            if spec.logical_id not in self._functions:
                self._functions[spec.logical_id] = self._factory(spec)
            return self._functions[spec.logical_id]

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        return self._function(spec).invoke(event)

    def queue(self, spec: FunctionSpec) -> AsyncQueue:
        with self._lock:
            if spec.logical_id not in self._queues:

                def run(event: dict[str, Any], function: FunctionSpec = spec) -> Any:
                    return self.invoke(function, event)

                self._queues[spec.logical_id] = AsyncQueue(run, self._retry_delays)
            return self._queues[spec.logical_id]

    def wait_idle(self, timeout: float = 30) -> bool:
        return all(q.wait_idle(timeout) for q in list(self._queues.values()))


def make_handler(lambdas: LocalLambda) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, kind: str, message: str) -> None:
            body = json.dumps({"__type": kind, "Type": "User", "message": message}).encode()
            self._answer(status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": kind})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if not (path.startswith(INVOKE_PATH) and path.endswith("/invocations")):
                return self._error(404, "UnknownOperationException", f"no such operation: POST {path}")
            name = unquote(path[len(INVOKE_PATH) : -len("/invocations")])
            spec = lambdas.spec(name)
            if spec is None:
                return self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
            try:
                event = json.loads(body or b"{}")
            except ValueError:
                return self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                return self._answer(204)
            if kind == "Event":
                lambdas.queue(spec).put(event)
                return self._answer(202)
            if kind != "RequestResponse":
                return self._error(400, "InvalidParameterValueException", f"unknown invocation type {kind}")
            try:
                result = lambdas.invoke(spec, event)
            except Exception as exc:  # noqa: BLE001 - answered as Lambda answers a function's error
                failure = {"errorMessage": str(exc), "errorType": type(exc).__name__}
                headers = {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled"}
                return self._answer(200, json.dumps(failure).encode(), headers)
            payload = json.dumps(result).encode()
            self._answer(200, payload, {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # the gateway's log has the requests; the functions log for themselves

    return Handler


def serve_lambda(specs: Mapping[str, FunctionSpec], port: int, host: str = "127.0.0.1") -> LocalLambda:
    """Answer Invoke on `port` in a daemon thread, for as long as the process runs."""
    lambdas = LocalLambda(specs)
    server = ThreadingHTTPServer((host, port), make_handler(lambdas))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="local-lambda").start()
    return lambdas


def local_port(endpoint: str) -> int | None:
    """The port of an `http://127.0.0.1:<port>` endpoint; None for anything else (not ours to serve)."""
    parts = urlsplit(endpoint)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.port:
        return parts.port
    return None
