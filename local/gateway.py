"""A local stand-in for API Gateway (REST): routes, REQUEST authorizer, CORS preflight, API keys and
usage-plan limits, proxy events, gateway responses.

It reads everything from template.yaml, runs the functions in-process (one at a time per function,
as one Lambda container would) and hands them the proxy events API Gateway would. A request goes
through the same stages as in API Gateway: route → authorizer → usage plan (API key, throttle,
quota) → integration; each refusal is the template's gateway response for it.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from beacon.domain.ports import ClientLookup
from local.template import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    FunctionSpec,
    MappingExpression,
    Route,
    Template,
    TemplateError,
    UsagePlanSpec,
    import_function,
    read_template,
)

LOCAL_API_ID = "localapi"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
# Lambda's synchronous invocation payload limit (Lambda quotas: 6 MB; refused above 6,291,456 bytes): the whole
# proxy event as JSON, where a binary media type's body is base64 (4/3 of its bytes). API Gateway accepts bodies
# up to 10 MB, so one it accepts can still be refused by Lambda: a 413 before the function runs.
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
# How long a connection may take to send the body it announced, and stay idle between requests (keep-alive).
BODY_SECONDS = 10.0
IDLE_SECONDS = 60.0


def invocation_payload_bytes(event: dict[str, Any]) -> int:
    """The size Lambda counts for a synchronous invocation with this event: its JSON, compact, in UTF-8."""
    return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())


def content_length(values: list[str]) -> int | None:
    """The body length a request announces (0 when it announces none); None when that is not one plain decimal
    number (negative, signed, non-numeric, or several Content-Length headers that disagree)."""
    if not values:
        return 0
    if len(set(values)) != 1 or not values[0].strip().isdigit() or not values[0].strip().isascii():
        return None
    return int(values[0].strip())


def media_type_matches(content_type: str, pattern: str) -> bool:
    """API Gateway's binary media type match: exact type/subtype, or a `*` wildcard on either side."""
    kind = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = kind.partition("/")
    want_main, _, want_sub = pattern.lower().partition("/")
    return want_main in ("*", main) and want_sub in ("*", sub)


class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools and our code read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{spec.name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
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
            self._module = import_function(self.spec.logical_id, self.spec.module_path)
        return self._module

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            handler = getattr(self._load(), self.spec.handler_name)
            return handler(event, LocalLambdaContext(self.spec))


class Invocable(Protocol):
    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass
class HttpResult:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class MethodRequest:
    """What the mapping expressions of gateway and mock responses may read from the request."""

    headers: list[tuple[str, str]]
    query: dict[str, list[str]] = field(default_factory=dict)
    path_parameters: dict[str, str] = field(default_factory=dict)

    def value(self, expression: MappingExpression) -> str | None:
        """The header value an expression gives for this request; None leaves the header out."""
        if expression.static is not None:
            return expression.static
        values: list[str] = []
        if expression.source in ("header", "multivalueheader"):
            values = [value for name, value in self.headers if name.lower() == expression.name.lower()]
        elif expression.source in ("querystring", "multivaluequerystring"):
            values = self.query.get(expression.name, [])
        elif expression.source == "path" and expression.name in self.path_parameters:
            values = [self.path_parameters[expression.name]]
        # stageVariables: the local stage has none
        if not values:
            return None
        return ",".join(values) if expression.source.startswith("multivalue") else values[-1]


# -- usage plans ---------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


class TokenBucket:
    """A usage plan's throttle, API Gateway's token bucket: at most `burst` tokens, refilled at `rate` tokens
    per second, full at the start; each request takes a token or is refused."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._refilled_at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._refilled_at)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._refilled_at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class PeriodQuota:
    """A usage plan's quota: at most `limit` requests per UTC day (or WEEK, from Sunday, or calendar MONTH)."""

    PERIODS = ("DAY", "WEEK", "MONTH")

    def __init__(self, limit: int, period: str = "DAY", now: Callable[[], datetime] = utc_now) -> None:
        if period not in self.PERIODS:
            raise TemplateError(f"unknown quota period {period!r}: one of {', '.join(self.PERIODS)}")
        self.limit = limit
        self.period = period
        self._now = now
        self._window: date | None = None
        self._used = 0
        self._lock = threading.Lock()

    def _window_of(self, moment: datetime) -> date:
        day = moment.astimezone(UTC).date()
        if self.period == "DAY":
            return day
        if self.period == "WEEK":
            return day - timedelta(days=(day.weekday() + 1) % 7)  # API Gateway's weeks start on Sunday
        return day.replace(day=1)

    def _current(self) -> None:
        window = self._window_of(self._now())
        if window != self._window:
            self._window, self._used = window, 0

    def has_room(self) -> bool:
        with self._lock:
            self._current()
            return self._used < self.limit

    def take(self) -> bool:
        with self._lock:
            self._current()
            if self._used >= self.limit:
                return False
            self._used += 1
            return True


@dataclass
class KeyLimits:
    """The limits one API key is held to; a request is checked against both at once."""

    bucket: TokenBucket | None
    quota: PeriodQuota | None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> str | None:
        """None to let the request through, else the gateway response type that refuses it."""
        with self._lock:
            if self.quota is not None and not self.quota.has_room():
                return "QUOTA_EXCEEDED"
            if self.bucket is not None and not self.bucket.take():
                return "THROTTLED"  # a throttled request does not count against the quota
            if self.quota is not None:
                self.quota.take()
            return None


class PlanLookup(Protocol):
    def __call__(self, api_key: str, principal_id: str) -> UsagePlanSpec | None:
        """The usage plan that holds this API key (named by the authorizer for this principal); None: none does."""
        ...


class UsagePlans:
    """Per-key throttles and quotas of the usage plans, applied after the authorizer as in API Gateway.
    A key's plan is looked up once and kept: a changed rate or burst applies after a gateway restart."""

    def __init__(
        self,
        plan_of: PlanLookup,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._plan_of = plan_of
        self._clock = clock
        self._now = now
        self._limits: dict[str, KeyLimits] = {}
        self._lock = threading.Lock()

    def admit(self, api_key: str | None, principal_id: str) -> str | None:
        """None to let the request through, else the gateway response type that refuses it."""
        if not api_key:
            return "INVALID_API_KEY"  # ApiKeySourceType AUTHORIZER: the authorizer named no key
        limits = self._limits.get(api_key)
        if limits is None:
            plan = self._plan_of(api_key, principal_id)
            if plan is None:
                return "INVALID_API_KEY"  # a key in no usage plan of this API
            with self._lock:
                limits = self._limits.setdefault(api_key, self._limits_for(plan))
        return limits.admit()

    def _limits_for(self, plan: UsagePlanSpec) -> KeyLimits:
        bucket = None
        if plan.rate is not None and plan.burst is not None:
            bucket = TokenBucket(plan.rate, plan.burst, self._clock)
        quota = None
        if plan.quota_limit is not None and plan.quota_limit > 0:
            quota = PeriodQuota(plan.quota_limit, plan.quota_period, self._now)
        return KeyLimits(bucket, quota)


class ClientUsagePlans:
    """Which usage plan holds an API key, locally, where the client records stand in for API Gateway's keys:
    one of the template's own keys (`template_keys`, by value: the shared key of body credentials) is in the plan the
    template puts it in; any other key must be the one on the record of the client the authorizer named
    (principalId = client id): that client's own plan when its record has a rate and a burst, else the template's
    default plan."""

    def __init__(
        self,
        default: UsagePlanSpec | None,
        clients: ClientLookup,
        template_keys: dict[str, UsagePlanSpec] | None = None,
    ) -> None:
        self._default = default
        self._clients = clients
        self._template_keys = dict(template_keys or {})

    def __call__(self, api_key: str, principal_id: str) -> UsagePlanSpec | None:
        if api_key in self._template_keys:
            return self._template_keys[api_key]
        record = self._clients.get_client(principal_id)
        if record is None or not record.api_key or not hmac.compare_digest(record.api_key, api_key):
            return None
        if record.rate is not None and record.burst is not None:
            return UsagePlanSpec(rate=record.rate, burst=record.burst)  # own plans have no quota (admin CLI)
        return self._default


# Status of a usage-plan refusal when the template does not customise its gateway response.
USAGE_PLAN_REFUSALS = {"INVALID_API_KEY": 403, "THROTTLED": 429, "QUOTA_EXCEEDED": 429}


@dataclass(frozen=True)
class Authorized:
    context: dict[str, Any]  # what the integration sees as requestContext.authorizer
    api_key: str | None  # the authorizer's usageIdentifierKey


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
    def __init__(self, template: Template, usage_plans: UsagePlans | None = None) -> None:
        self.template = template
        self.stage = template.stage_name()
        self.binary_media_types = template.binary_media_types()
        self.routes: list[Route] = template.routes()
        self.responses = template.gateway_responses()
        specs = template.functions()
        for spec in specs.values():
            os.environ.update(spec.environment)  # every function of the stack shares this process
        self.function_specs = specs
        self.functions: dict[str, Invocable] = {logical_id: LocalFunction(spec) for logical_id, spec in specs.items()}
        if any(route.api_key_required for route in self.routes) and template.api_key_source() != "AUTHORIZER":
            raise TemplateError("the local gateway emulates only API keys named by the authorizer (source AUTHORIZER)")
        if usage_plans is None:
            plans = ClientUsagePlans(template.default_usage_plan(), self._clients(), template.api_key_plans())
            usage_plans = UsagePlans(plans)
        self.usage_plans = usage_plans

    def _clients(self) -> ClientLookup:
        """The client records, read as the default authorizer reads them (its CLIENT_SECRET_PREFIX)."""
        from beacon.store.clients import SecretsManagerClientStore

        authorizer = self.template.default_authorizer()
        environment: dict[str, str] = {}
        if authorizer is not None:
            environment = self.function_specs[self.template.authorizer_function(authorizer)].environment
        # No cache here: UsagePlans keeps each key's plan once found.
        return SecretsManagerClientStore(environment.get("CLIENT_SECRET_PREFIX", ""), cache_seconds=0)

    # -- gateway responses -------------------------------------------------------------------------
    def gateway_response(
        self, kind: str, default_status: int, request_id: str, request: MethodRequest | None = None
    ) -> HttpResult:
        spec = self.responses.get(kind)
        fallback = self.responses.get("DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX")
        chosen = spec or fallback
        status = (chosen.status if chosen and chosen.status else None) or default_status
        body = chosen.body if chosen else json.dumps({"message": kind})
        body = body.replace("$context.requestId", request_id)
        request = request or MethodRequest(headers=[])
        content_type = "application/json"
        headers = [("x-amzn-RequestId", request_id)]
        for name, expression in (chosen.headers if chosen else {}).items():
            value = request.value(expression)
            if value is None:
                continue
            if name.lower() == "content-type":
                content_type = value
            else:
                headers.append((name, value))
        headers = [("Content-Type", content_type), *headers, ("x-amzn-ErrorType", kind)]
        return HttpResult(status, headers, body.encode())

    def mock_response(self, route: Route, request: MethodRequest, request_id: str) -> HttpResult:
        """SAM's CORS preflight: a mock integration that answers 200 with the `Cors` block's headers."""
        headers = [("Content-Type", "application/json")]
        headers += [(name, value) for name, expression in route.mock_headers if (value := request.value(expression))]
        headers.append(("x-amzn-RequestId", request_id))
        return HttpResult(200, headers, b"")

    def refusal(self, kind: str, status: int) -> HttpResult:
        """The gateway response that refuses a request before it is routed (its body unread or unreadable)."""
        return self.gateway_response(kind, status, str(uuid.uuid4()))

    # -- request handling --------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResult:
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        path = split.path or "/"
        request = MethodRequest(headers=headers, query=parse_qs(split.query, keep_blank_values=True))
        if len(body) > MAX_PAYLOAD_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", 413, request_id, request)
        for route in self.routes:
            path_parameters = route.match(method, path)
            if path_parameters is not None:
                break
        else:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, request_id, request)
        request = replace(request, path_parameters=path_parameters)

        event = self.proxy_event(
            route, method, path, split.query, headers, body, source_ip, request_id, path_parameters
        )
        authorized = Authorized(context={}, api_key=None)
        if route.authorizer is not None:
            outcome = self.authorize(route, event, request)
            if isinstance(outcome, HttpResult):
                return outcome
            authorized = outcome
            event["requestContext"]["authorizer"] = authorized.context
        if route.api_key_required:
            principal_id = str(authorized.context.get("principalId", ""))
            try:
                refusal = self.usage_plans.admit(authorized.api_key, principal_id)
            except Exception:  # noqa: BLE001 - the plan lookup failed (local Secrets Manager down): a 5xx
                import traceback

                traceback.print_exc()
                return self.gateway_response("DEFAULT_5XX", 500, request_id, request)
            if refusal is not None:
                return self.gateway_response(refusal, USAGE_PLAN_REFUSALS[refusal], request_id, request)
            event["requestContext"]["identity"]["apiKey"] = authorized.api_key
        if route.function is None:
            return self.mock_response(route, request, request_id)
        if invocation_payload_bytes(event) > LAMBDA_PAYLOAD_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", 413, request_id, request)  # Lambda refuses the event
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:  # noqa: BLE001 - a crashed function is a 5xx gateway answer, as in AWS
            import traceback

            traceback.print_exc()
            return self.gateway_response("DEFAULT_5XX", 502, request_id, request)
        return self.proxy_result(result, request_id, request)

    def authorize(self, route: Route, proxy_event: dict[str, Any], request: MethodRequest) -> Authorized | HttpResult:
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
                return self.gateway_response("UNAUTHORIZED", 401, request_id, request)
            return self.gateway_response("AUTHORIZER_FAILURE", 500, request_id, request)
        if not isinstance(answer, dict) or "policyDocument" not in answer:
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", 500, request_id, request)
        if not policy_allows(answer["policyDocument"], method_arn):
            return self.gateway_response("ACCESS_DENIED", 403, request_id, request)
        # API Gateway hands the context to a proxy integration with every value as a string; the key goes
        # to the usage plan (and to requestContext.identity.apiKey), not into the context.
        context = {key: _context_string(value) for key, value in (answer.get("context") or {}).items()}
        context["principalId"] = answer.get("principalId", "")
        return Authorized(context=context, api_key=answer.get("usageIdentifierKey") or None)

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
        # Like API Gateway: a body whose Content-Type matches a binary media type reaches the function base64.
        is_base64 = bool(body) and any(media_type_matches(content_type, kind) for kind in self.binary_media_types)
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
                    "apiKey": None,  # the key of a method that requires one (set after the usage plan)
                    "apiKeyId": None,  # no key ids locally: client records stand in for API keys
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

    def proxy_result(self, result: Any, request_id: str, request: MethodRequest | None = None) -> HttpResult:
        if not isinstance(result, dict) or "statusCode" not in result:
            return self.gateway_response("DEFAULT_5XX", 502, request_id, request)  # malformed proxy response
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


def make_handler(
    gateway: LocalGateway, body_seconds: float = BODY_SECONDS, idle_seconds: float = IDLE_SECONDS
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "BeaconLocalGateway"
        # Headers and body go out in two writes: with Nagle's algorithm on, a keep-alive client's delayed ACK
        # held every answer back about 40 ms.
        disable_nagle_algorithm = True
        timeout = idle_seconds  # a silent connection (between requests, or within its headers) is closed

        def _serve(self) -> None:
            length = content_length(self.headers.get_all("Content-Length") or [])
            if length is None:  # a length no one can read to the end of (say -1) must not hold this thread
                return self._answer_and_close(gateway.refusal("DEFAULT_4XX", 400))
            if length > MAX_PAYLOAD_BYTES:
                self._read_body(length, keep=False)  # drained (what comes in time), so the client reads the answer
                return self._answer_and_close(gateway.refusal("REQUEST_TOO_LARGE", 413))
            try:
                body = self._read_body(length)
            except (TimeoutError, EOFError):  # fewer bytes than announced, in time: answered, never waited on again
                return self._answer_and_close(gateway.refusal("DEFAULT_4XX", 400))
            headers = list(self.headers.items())
            self._answer(gateway.handle(self.command, self.path, headers, body, self.client_address[0]))

        def _read_body(self, length: int, keep: bool = True) -> bytes:
            """`length` bytes of body within `body_seconds` in all, however slowly they come; with keep False they
            are read and dropped (what arrives in time). TimeoutError or EOFError when they do not all come."""
            deadline = time.monotonic() + body_seconds
            chunks: list[bytes] = []
            remaining = length
            try:
                while remaining:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("the body did not arrive in time")
                    self.connection.settimeout(left)
                    chunk = self.rfile.read1(min(remaining, 1024 * 1024))
                    if not chunk:
                        raise EOFError("the connection closed before the announced body ended")
                    remaining -= len(chunk)
                    if keep:
                        chunks.append(chunk)
            except (TimeoutError, EOFError):
                if keep:
                    raise
            finally:
                self.connection.settimeout(self.timeout)
            return b"".join(chunks)

        def _answer(self, result: HttpResult, close: bool = False) -> None:
            self.send_response(result.status)
            for name, value in result.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(result.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(result.body)

        def _answer_and_close(self, result: HttpResult) -> None:
            self._answer(result, close=True)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, ...) goes through the gateway too and, matching no route, gets the
            # template's JSON gateway response rather than http.server's HTML 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if os.environ.get("BEACON_GATEWAY_QUIET") != "1":
                super().log_message(format, *args)

    return Handler


def serve(port: int, host: str = "127.0.0.1", template: Template | None = None) -> ThreadingHTTPServer:
    gateway = LocalGateway(template or read_template())
    from local.lambda_invoke import local_port, serve_lambda

    # The functions' asynchronous invokes of each other (the privacy function's erasure runs), in this process.
    lambda_port = local_port(os.environ.get("AWS_ENDPOINT_URL_LAMBDA", ""))
    if lambda_port is not None:
        serve_lambda(gateway.function_specs, lambda_port, host)
    server = ThreadingHTTPServer((host, port), make_handler(gateway))
    server.daemon_threads = True
    return server


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the local API Gateway emulator (needs the local stack's env).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args = parser.parse_args()
    from local.aws_calls import install_from_env
    from local.stack import parameter_overrides

    template = read_template(overrides=parameter_overrides(os.environ))  # BEACON_BODY_CREDENTIALS=true, …
    install_from_env(template)  # the test session asks for a record of the functions' AWS calls
    server = serve(args.port, template=template)
    print(f"Beacon local gateway on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
