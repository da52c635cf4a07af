"""A local stand-in for API Gateway (REST): routes, REQUEST authorizer, proxy events, gateway responses.

It reads everything from template.yaml, runs the functions in-process (one at a time per function,
as one Lambda container would) and hands them the proxy events API Gateway would.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec, Route, Template, read_template

LOCAL_API_ID = "localapi"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools and our code read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{spec.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One warm 'container' of a function: imported once (its cold start), invoked serially."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._module: ModuleType | None = None
        self._lock = threading.Lock()

    def _load(self) -> ModuleType:
        if self._module is None:
            name = f"beacon_local_fn_{self.spec.logical_id}"
            module_spec = importlib.util.spec_from_file_location(name, self.spec.module_path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load {self.spec.module_path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
            self._module = module
        return self._module

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            handler = getattr(self._load(), self.spec.handler_name)
            return handler(event, LocalLambdaContext(self.spec))


@dataclass
class HttpResult:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _arn_matches(pattern: str, arn: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, arn) is not None


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation as API Gateway applies it to an authorizer policy: an explicit Deny wins."""
    allowed = False
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if not any(_arn_matches(resource, method_arn) for resource in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


class LocalGateway:
    def __init__(self, template: Template) -> None:
        self.template = template
        self.stage = template.stage_name()
        self.routes: list[Route] = template.routes()
        self.responses = template.gateway_responses()
        specs = template.functions()
        for spec in specs.values():
            os.environ.update(spec.environment)  # every function of the stack shares this process
        self.functions = {logical_id: LocalFunction(spec) for logical_id, spec in specs.items()}

    # -- gateway responses -------------------------------------------------------------------------
    def gateway_response(self, kind: str, default_status: int, request_id: str) -> HttpResult:
        spec = self.responses.get(kind)
        fallback = self.responses.get("DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX")
        chosen = spec or fallback
        status = (chosen.status if chosen and chosen.status else None) or default_status
        body = chosen.body if chosen else json.dumps({"message": kind})
        body = body.replace("$context.requestId", request_id)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if chosen:
            headers += [(name, value) for name, value in chosen.headers.items() if name.lower() != "content-type"]
        headers.append(("x-amzn-ErrorType", kind))
        return HttpResult(status, headers, body.encode())

    # -- request handling --------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResult:
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        path = split.path or "/"
        if len(body) > MAX_PAYLOAD_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", 413, request_id)
        for route in self.routes:
            path_parameters = route.match(method, path)
            if path_parameters is not None:
                break
        else:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, request_id)

        event = self.proxy_event(
            route, method, path, split.query, headers, body, source_ip, request_id, path_parameters
        )
        if route.authorizer is not None:
            outcome = self.authorize(route, event)
            if isinstance(outcome, HttpResult):
                return outcome
            event["requestContext"]["authorizer"] = outcome
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:  # noqa: BLE001 - a crashed function is a 5xx gateway answer, as in AWS
            import traceback

            traceback.print_exc()
            return self.gateway_response("DEFAULT_5XX", 502, request_id)
        return self.proxy_result(result, request_id)

    def authorize(self, route: Route, proxy_event: dict[str, Any]) -> dict[str, Any] | HttpResult:
        request_id = proxy_event["requestContext"]["requestId"]
        assert route.authorizer is not None
        function = self.functions[self.template.authorizer_function(route.authorizer)]
        method_arn = (
            f"arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{LOCAL_API_ID}/{self.stage}/"
            f"{proxy_event['httpMethod']}{proxy_event['path']}"
        )
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{key: proxy_event[key] for key in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            "queryStringParameters": proxy_event["queryStringParameters"] or {},
            "multiValueQueryStringParameters": proxy_event["multiValueQueryStringParameters"] or {},
            "pathParameters": proxy_event["pathParameters"] or {},
            "stageVariables": {},
            "requestContext": {
                key: value for key, value in proxy_event["requestContext"].items() if key != "authorizer"
            },
        }
        try:
            answer = function.invoke(event)
        except Exception as exc:  # noqa: BLE001 - mapped exactly as API Gateway maps authorizer errors
            if str(exc) == "Unauthorized":
                return self.gateway_response("UNAUTHORIZED", 401, request_id)
            return self.gateway_response("AUTHORIZER_FAILURE", 500, request_id)
        if not isinstance(answer, dict) or "policyDocument" not in answer:
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", 500, request_id)
        if not policy_allows(answer["policyDocument"], method_arn):
            return self.gateway_response("ACCESS_DENIED", 403, request_id)
        # API Gateway hands the context to a proxy integration with every value as a string.
        context = {key: _context_string(value) for key, value in (answer.get("context") or {}).items()}
        context["principalId"] = answer.get("principalId", "")
        if answer.get("usageIdentifierKey"):
            context["usageIdentifierKey"] = answer["usageIdentifierKey"]
        return context

    def proxy_event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        request_id: str,
        path_parameters: dict[str, str],
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        single_headers = {name: values[-1] for name, values in multi_headers.items()}
        multi_query = parse_qs(query, keep_blank_values=True)
        content_type = single_headers.get("Content-Type", single_headers.get("content-type", ""))
        is_text = not body or any(content_type.startswith(kind) for kind in TEXT_TYPES)
        is_base64 = not is_text
        text_body: str | None
        if not body:
            text_body = None
        elif is_base64:
            text_body = base64.b64encode(body).decode()
        else:
            text_body = body.decode("utf-8", errors="replace")
        now = time.time()
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": LOCAL_ACCOUNT,
                "apiId": LOCAL_API_ID,
                "domainName": single_headers.get("Host", "127.0.0.1"),
                "domainPrefix": "127",
                "extendedRequestId": request_id,
                "httpMethod": method,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": single_headers.get("User-Agent", single_headers.get("user-agent")),
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoIdentityId": None,
                    "user": None,
                    "userArn": None,
                },
                "path": f"/{self.stage}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "resourceId": "local",
                "resourcePath": route.path,
                "stage": self.stage,
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }

    def proxy_result(self, result: Any, request_id: str) -> HttpResult:
        if not isinstance(result, dict) or "statusCode" not in result:
            return self.gateway_response("DEFAULT_5XX", 502, request_id)  # malformed proxy response
        headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(name, str(value)) for value in values]
        headers.append(("x-amzn-RequestId", request_id))
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return HttpResult(int(result["statusCode"]), headers, data)


def _context_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def make_handler(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "BeaconLocalGateway"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                self.rfile.read(length)  # drain, so the client reads our answer
            body = self.rfile.read(length) if length and length <= MAX_PAYLOAD_BYTES else b""
            if length > MAX_PAYLOAD_BYTES:
                body = b"\0" * (MAX_PAYLOAD_BYTES + 1)
            result = gateway.handle(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            self.send_response(result.status)
            for name, value in result.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(result.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(result.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if os.environ.get("BEACON_GATEWAY_QUIET") != "1":
                super().log_message(format, *args)

    return Handler


def serve(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    gateway = LocalGateway(read_template())
    server = ThreadingHTTPServer((host, port), make_handler(gateway))
    server.daemon_threads = True
    return server


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the local API Gateway emulator (needs the local stack's env).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args = parser.parse_args()
    server = serve(args.port)
    print(f"Beacon local gateway on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
