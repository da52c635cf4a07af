"""Read template.yaml the way the local stack needs it: routes, authorizer, CORS, API keys, usage plans,
gateway responses, tables, env.

Intrinsic functions are resolved only as far as the local stack needs: parameters take their
defaults unless the stack overrides them (`Template.parameters`), conditions are evaluated on those values, tables are
named after their logical id, the stack is called "local".
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
LOCAL_STACK_NAME = "local"
LOCAL_REGION = "us-east-1"
ENDPOINT_VARIABLE_PREFIX = "AWS_ENDPOINT_URL_"


def is_endpoint_variable(name: str) -> bool:
    return name.startswith(ENDPOINT_VARIABLE_PREFIX)


LOCAL_ACCOUNT = "123456789012"
# The pseudo parameter AWS::StackId: the stack's ARN, whose last part is a UUID.
LOCAL_STACK_UUID = "00000000-0000-4000-8000-000000000000"
LOCAL_STACK_ID = f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stack/{LOCAL_STACK_NAME}/{LOCAL_STACK_UUID}"


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation short-form tags (!Ref X → {"Ref": X}, !GetAtt A.B → ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


def import_function(logical_id: str, module_path: Path) -> ModuleType:
    """A function's handler module imported as its cold start does, registered as `beacon_local_fn_<logical id>`
    (the name every local runner gives it: the gateway, the lake's poller, the reaper's timer)."""
    name = f"beacon_local_fn_{logical_id}"
    spec = importlib.util.spec_from_file_location(name, module_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {module_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    function_name: str = ""  # the deployed function's name: its FunctionName when the template sets one

    @property
    def name(self) -> str:
        """What Lambda calls it (AWS_LAMBDA_FUNCTION_NAME, the context's function_name, its ARN's last part)."""
        return self.function_name or self.logical_id

    @property
    def module_path(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0] + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


class TemplateError(ValueError):
    """template.yaml holds something API Gateway would reject, or that the local stack does not emulate."""


# API Gateway's mapping expressions for response headers (REST API parameter mapping): a static value in
# single quotes, or a parameter of the method request. Anything else is refused at deployment.
_REQUEST_PARAMETER = re.compile(
    r"method\.request\.(header|multivalueheader|querystring|multivaluequerystring|path)\.([A-Za-z0-9._$-]+)"
)
_STAGE_VARIABLE = re.compile(r"stageVariables\.([A-Za-z0-9._$-]+)")


@dataclass(frozen=True)
class MappingExpression:
    """A response header value: `static`, or the method request's parameter `name` from `source`
    (header, multivalueheader, querystring, multivaluequerystring, path or stageVariables)."""

    static: str | None = None
    source: str = ""
    name: str = ""


def parse_mapping_expression(value: str) -> MappingExpression:
    if len(value) >= 2 and value.startswith("'") and value.endswith("'"):
        return MappingExpression(static=value[1:-1])
    if found := _REQUEST_PARAMETER.fullmatch(value):
        return MappingExpression(source=found.group(1), name=found.group(2))
    if found := _STAGE_VARIABLE.fullmatch(value):
        return MappingExpression(source="stageVariables", name=found.group(1))
    raise TemplateError(f"invalid mapping expression {value!r} (a static value is quoted: \"'value'\")")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str | None  # None: a mock integration the gateway answers itself (SAM's CORS preflight)
    authorizer: str | None
    pattern: re.Pattern[str] = field(compare=False)
    api_key_required: bool = False
    mock_headers: tuple[tuple[str, MappingExpression], ...] = ()

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this method serves the request, else None. As API Gateway (REST) routes it, one
        trailing slash does not count (`/track/` is served by the `/track` resource; no resource path may end in a
        slash), and the integration still sees the path as sent."""
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        if found is None and len(path) > 1 and path.endswith("/"):
            found = self.pattern.fullmatch(path[:-1])
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    body: str
    headers: dict[str, MappingExpression]


@dataclass(frozen=True)
class CorsSpec:
    """The API's `Cors` block as SAM reads it; values are mapping expressions (static ones quoted)."""

    allow_origin: str
    allow_headers: str | None = None
    allow_methods: str | None = None  # None: SAM lists the path's own methods
    max_age: str | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class UsagePlanSpec:
    """What a usage plan holds an API key to: a token bucket (`rate` tokens/s, capacity `burst`; no
    throttle when None) and a quota of `quota_limit` requests per `quota_period` (none when None)."""

    rate: float | None = None
    burst: int | None = None
    quota_limit: int | None = None
    quota_period: str = "DAY"


# SAM's Access-Control-Allow-Methods for an ANY method (samtranslator SwaggerEditor._ALL_HTTP_METHODS).
_ALL_HTTP_METHODS = ("OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
_NO_VALUE = object()  # AWS::NoValue: the property is left out


@dataclass
class Template:
    data: dict[str, Any]
    root: Path = ROOT
    # Parameter values the local stack sets instead of their defaults (local/stack.py: parameter_overrides).
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.data.get("Parameters", {})
        for name, value in self.overrides.items():
            if name not in declared:
                raise TemplateError(f"no parameter {name} in the template")
            allowed = declared[name].get("AllowedValues")
            if allowed is not None and value not in [str(choice) for choice in allowed]:
                raise TemplateError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.data["Resources"]
        return resources

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec.get("Default", "")) for name, spec in self.data.get("Parameters", {}).items()}

    def parameters(self) -> dict[str, str]:
        """Every parameter's value for this stack: its default, unless overridden."""
        return {**self.parameter_defaults(), **self.overrides}

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics the local stack meets in environment variables and outputs."""
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::Sub" in value:
            text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                return str(self.resolve_all(variables[name]) if name in variables else self._ref(name))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"local:{logical_id}:{attribute}"
        if "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return self.resolve_all(when_true if self.condition(name) else when_false)
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return self.resolve_all(items)[int(index)]
        if "Fn::Split" in value:
            separator, text = value["Fn::Split"]
            return str(self.resolve_all(text)).split(separator)
        raise ValueError(f"unsupported intrinsic in local stack: {value}")

    def resolve_all(self, value: Any) -> Any:
        """`resolve` through nested mappings and lists, leaving out what resolves to AWS::NoValue."""
        if isinstance(value, dict) and len(value) == 1 and _is_intrinsic(next(iter(value))):
            return self.resolve_all(self.resolve(value))
        if isinstance(value, dict):
            resolved = {key: self.resolve_all(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve_all(item) for item in value) if item is not _NO_VALUE]
        return value

    def chosen(self, node: Any) -> list[Any]:
        """A list element as CloudFormation keeps it with the parameters' defaults: an Fn::If's chosen side, nothing
        for AWS::NoValue, anything else as it is."""
        if isinstance(node, dict) and set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return self.chosen(when_true if self.condition(name) else when_false)
        if node == {"Ref": "AWS::NoValue"}:
            return []
        return [node]

    def condition(self, name: str) -> bool:
        """A template condition, evaluated on the parameters' values (defaults unless overridden)."""
        conditions = self.data.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return self._truth(conditions[name])

    def _truth(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            [(function, arguments)] = expression.items()
            if function == "Fn::Equals":
                left, right = (self.resolve_all(argument) for argument in arguments)
                return str(left) == str(right)  # CloudFormation compares parameter values as strings
            if function == "Fn::Not":
                return not self._truth(arguments[0])
            if function == "Fn::And":
                return all(self._truth(argument) for argument in arguments)
            if function == "Fn::Or":
                return any(self._truth(argument) for argument in arguments)
            if function in ("Condition", "Fn::Condition"):
                return self.condition(str(arguments))
        raise TemplateError(f"unsupported condition in local stack: {expression}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": LOCAL_STACK_NAME,
            "AWS::StackId": LOCAL_STACK_ID,
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        parameters = self.parameters()
        if name in parameters:
            return parameters[name]
        if name in self.resources:
            return name  # tables (and other resources) are named after their logical id locally
        raise ValueError(f"unknown Ref {name}")

    def endpoint_variables(self) -> dict[str, list[str]]:
        """The AWS_ENDPOINT_URL_* variables each function declares (for `sam local invoke --env-vars env.json`)."""
        declared = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] == "AWS::Serverless::Function":
                variables = resource["Properties"].get("Environment", {}).get("Variables", {})
                declared[logical_id] = sorted(name for name in variables if is_endpoint_variable(name))
        return declared

    def functions(self) -> dict[str, FunctionSpec]:
        globals_env = self.data.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        specs = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            resolved = {key: str(self.resolve(value)) for key, value in env.items()}
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_dir=self.root / props["CodeUri"],
                handler=props["Handler"],
                # An endpoint declared empty is "AWS's own" (botocore ignores it): locally the stack's endpoint stays.
                environment={key: value for key, value in resolved.items() if value or not is_endpoint_variable(key)},
                function_name=str(self.resolve(props["FunctionName"])) if "FunctionName" in props else "",
            )
        return specs

    def _api(self) -> tuple[str, dict[str, Any]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == "AWS::Serverless::Api":
                return logical_id, resource["Properties"]
        raise ValueError("template has no AWS::Serverless::Api")

    def binary_media_types(self) -> list[str]:
        """The API's binary media types ("~1" stands for "/" in SAM and API Gateway)."""
        return [str(kind).replace("~1", "/") for kind in self._api()[1].get("BinaryMediaTypes", [])]

    def stage_name(self) -> str:
        return str(self.resolve(self._api()[1]["StageName"]))

    def default_authorizer(self) -> str | None:
        auth = self._api()[1].get("Auth", {})
        name = auth.get("DefaultAuthorizer")
        return None if name is None else str(name)

    def authorizer_function(self, name: str) -> str:
        """The logical id of the function behind an API authorizer."""
        spec = self._api()[1]["Auth"]["Authorizers"][name]
        arn = spec["FunctionArn"]
        if "Ref" in arn:  # !Ref Function.Alias: the function's published alias
            return str(arn["Ref"]).split(".", 1)[0]
        return str(arn["Fn::GetAtt"][0])

    def api_key_source(self) -> str:
        """Where API Gateway reads the API key of a method that requires one: HEADER (x-api-key) or AUTHORIZER."""
        return str(self._api()[1].get("ApiKeySourceType", "HEADER"))

    def routes(self) -> list[Route]:
        """The API's methods: one per Api event of a function, then SAM's CORS preflight of every path."""
        auth = self._api()[1].get("Auth", {})
        default = self.default_authorizer()
        keys_required = bool(auth.get("ApiKeyRequired", False))
        routes = []
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                event_auth = props.get("Auth", {})
                authorizer = event_auth.get("Authorizer", default)
                path = props["Path"]
                if path != "/" and path.endswith("/"):
                    # API Gateway serves /x/ with the /x resource already; a path part cannot end in a slash.
                    raise TemplateError(f"{logical_id}: the API path {path!r} ends in a slash")
                routes.append(
                    Route(
                        method=props["Method"].upper(),
                        path=path,
                        function=logical_id,
                        authorizer=None if authorizer in (None, "NONE") else authorizer,
                        pattern=_path_pattern(path),
                        api_key_required=bool(event_auth.get("ApiKeyRequired", keys_required)),
                    )
                )
        return routes + self._preflight_routes(routes)

    def cors(self) -> CorsSpec | None:
        cors = self._api()[1].get("Cors")
        if cors is None:
            return None
        if not isinstance(cors, dict):
            return CorsSpec(allow_origin=str(self.resolve(cors)))  # SAM: a string is the allowed origin

        def value(name: str) -> str | None:
            return None if cors.get(name) is None else str(self.resolve(cors[name]))

        return CorsSpec(
            allow_origin=value("AllowOrigin") or "",
            allow_headers=value("AllowHeaders"),
            allow_methods=value("AllowMethods"),
            max_age=value("MaxAge"),
            allow_credentials=cors.get("AllowCredentials") is True,
        )

    def _preflight_routes(self, routes: list[Route]) -> list[Route]:
        """What SAM adds for `Cors` (samtranslator SwaggerEditor.add_cors): an OPTIONS mock integration on
        every path that has no OPTIONS method of its own, answering the CORS headers with status 200."""
        cors = self.cors()
        if cors is None:
            return []
        if not cors.allow_origin:
            raise TemplateError("Cors needs AllowOrigin")
        auth = self._api()[1].get("Auth", {})
        authorizer = self.default_authorizer() if auth.get("AddDefaultAuthorizerToCorsPreflight", True) else None
        keys_required = bool(auth.get("ApiKeyRequired", False)) and auth.get("AddApiKeyRequiredToCorsPreflight", True)
        methods_by_path: dict[str, set[str]] = {}
        for route in routes:
            methods_by_path.setdefault(route.path, set()).add(route.method)
        preflights = []
        for path, methods in methods_by_path.items():
            if "OPTIONS" in methods:
                continue
            allow_methods = cors.allow_methods
            if allow_methods is None:
                listed = set(_ALL_HTTP_METHODS) if "ANY" in methods else {*methods, "OPTIONS"}
                allow_methods = "'" + ",".join(sorted(listed)) + "'"
            values = [
                ("Access-Control-Allow-Origin", cors.allow_origin),
                ("Access-Control-Allow-Headers", cors.allow_headers),
                ("Access-Control-Allow-Methods", allow_methods),
                ("Access-Control-Max-Age", cors.max_age),
                ("Access-Control-Allow-Credentials", "'true'" if cors.allow_credentials else None),
            ]
            headers = tuple(
                (name, _mapping(value, f"Cors {name}")) for name, value in values if value is not None and value != ""
            )
            preflights.append(
                Route(
                    method="OPTIONS",
                    path=path,
                    function=None,
                    authorizer=authorizer,
                    pattern=_path_pattern(path),
                    api_key_required=bool(keys_required),
                    mock_headers=headers,
                )
            )
        return preflights

    def gateway_responses(self) -> dict[str, GatewayResponse]:
        responses = {}
        for kind, spec in self._api()[1].get("GatewayResponses", {}).items():
            headers = spec.get("ResponseParameters", {}).get("Headers", {})
            responses[kind] = GatewayResponse(
                status=int(spec["StatusCode"]) if "StatusCode" in spec else None,
                body=spec.get("ResponseTemplates", {}).get("application/json", ""),
                headers={
                    name: _mapping(str(self.resolve(value)), f"gateway response {kind} header {name}")
                    for name, value in headers.items()
                },
            )
        return responses

    def usage_plans(self) -> dict[str, UsagePlanSpec]:
        """The usage plans that cover the API, by logical id (their Refs resolved to the parameters' defaults)."""
        api_id = self._api()[0]
        plans = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::ApiGateway::UsagePlan":
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            props = resource.get("Properties", {})
            if not any(stage.get("ApiId") == {"Ref": api_id} for stage in props.get("ApiStages", [])):
                continue
            throttle, quota = (self.resolve_all(props.get(name, {})) for name in ("Throttle", "Quota"))
            throttle, quota = ({} if value is _NO_VALUE else value for value in (throttle, quota))
            if quota.get("Offset"):
                raise TemplateError(f"{logical_id}: a quota Offset is not emulated by the local gateway")
            plans[logical_id] = UsagePlanSpec(
                rate=None if throttle.get("RateLimit") is None else float(throttle["RateLimit"]),
                burst=None if throttle.get("BurstLimit") is None else int(throttle["BurstLimit"]),
                quota_limit=int(quota["Limit"]) if quota.get("Limit") is not None else None,
                quota_period=str(quota.get("Period", "DAY")),
            )
        return plans

    def api_key_plans(self) -> dict[str, UsagePlanSpec]:
        """The template's own API keys (AWS::ApiGateway::ApiKey with a Value) by value, each with the usage plan an
        AWS::ApiGateway::UsagePlanKey puts it in; those the conditions leave out are not there."""
        plans = self.usage_plans()
        keys: dict[str, UsagePlanSpec] = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::ApiGateway::UsagePlanKey" or not self._kept(resource):
                continue
            props = resource["Properties"]
            key_id, plan_id = (props[name].get("Ref") for name in ("KeyId", "UsagePlanId"))
            key = self.resources.get(key_id, {})
            if key.get("Type") != "AWS::ApiGateway::ApiKey" or not self._kept(key) or plan_id not in plans:
                raise TemplateError(f"{logical_id}: KeyId and UsagePlanId must name an API key and a usage plan")
            if "Value" not in key.get("Properties", {}):
                raise TemplateError(f"{key_id}: the local gateway needs the key's Value (the authorizer names it)")
            keys[str(self.resolve_all(key["Properties"]["Value"]))] = plans[plan_id]
        return keys

    def _kept(self, resource: dict[str, Any]) -> bool:
        return "Condition" not in resource or self.condition(resource["Condition"])

    def default_usage_plan(self) -> UsagePlanSpec | None:
        """The plan a client's key joins unless the client has its own: the one the DefaultUsagePlanId
        output names (client provisioning reads the same output), else the API's only plan."""
        plans = self.usage_plans()
        output = self.data.get("Outputs", {}).get("DefaultUsagePlanId", {}).get("Value")
        if isinstance(output, dict) and output.get("Ref") in plans:
            return plans[output["Ref"]]
        if len(plans) > 1:
            raise TemplateError("several usage plans cover the API and no DefaultUsagePlanId output names one")
        return next(iter(plans.values()), None)

    def tables(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource["Properties"]
            for logical_id, resource in self.resources.items()
            if resource["Type"] == "AWS::DynamoDB::Table"
        }


def either_side(node: Any) -> list[Any]:
    """A list element as written, or every side of an Fn::If choosing it (AWS::NoValue: none): what a review of the
    template must check whatever the parameters are (a policy statement that only one condition grants)."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, when_true, when_false = node["Fn::If"]
        return either_side(when_true) + either_side(when_false)
    if node == {"Ref": "AWS::NoValue"}:
        return []
    return [node]


def _is_intrinsic(key: str) -> bool:
    return key == "Ref" or key.startswith("Fn::")


def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))


def _mapping(value: str, where: str) -> MappingExpression:
    try:
        return parse_mapping_expression(value)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from None


def read_template(path: Path = TEMPLATE_PATH, overrides: dict[str, str] | None = None) -> Template:
    return Template(load_template(path), root=path.parent, overrides=dict(overrides or {}))
