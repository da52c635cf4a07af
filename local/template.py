"""Read template.yaml the way the local stack needs it: routes, authorizer, gateway responses, tables, env.

Intrinsic functions are resolved only as far as the local stack needs: parameters take their
defaults, tables are named after their logical id, the stack is called "local".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
LOCAL_STACK_NAME = "local"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"


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


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]

    @property
    def module_path(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0] + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorizer: str | None
    pattern: re.Pattern[str] = field(compare=False)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    body: str
    headers: dict[str, str]


@dataclass
class Template:
    data: dict[str, Any]
    root: Path = ROOT

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.data["Resources"]
        return resources

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec.get("Default", "")) for name, spec in self.data.get("Parameters", {}).items()}

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics the local stack meets in environment variables and outputs."""
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return re.sub(r"\$\{([^}!]+)\}", lambda match: str(self._ref(match.group(1))), text)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"local:{logical_id}:{attribute}"
        raise ValueError(f"unsupported intrinsic in local stack: {value}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": LOCAL_STACK_NAME,
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        parameters = self.parameter_defaults()
        if name in parameters:
            return parameters[name]
        if name in self.resources:
            return name  # tables (and other resources) are named after their logical id locally
        raise ValueError(f"unknown Ref {name}")

    def functions(self) -> dict[str, FunctionSpec]:
        globals_env = self.data.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        specs = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_dir=self.root / props["CodeUri"],
                handler=props["Handler"],
                environment={key: str(self.resolve(value)) for key, value in env.items()},
            )
        return specs

    def _api(self) -> tuple[str, dict[str, Any]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == "AWS::Serverless::Api":
                return logical_id, resource["Properties"]
        raise ValueError("template has no AWS::Serverless::Api")

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
        return str(arn["Fn::GetAtt"][0])

    def routes(self) -> list[Route]:
        default = self.default_authorizer()
        routes = []
        for logical_id, resource in self.resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                authorizer = props.get("Auth", {}).get("Authorizer", default)
                path = props["Path"]
                pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
                routes.append(
                    Route(
                        method=props["Method"].upper(),
                        path=path,
                        function=logical_id,
                        authorizer=None if authorizer in (None, "NONE") else authorizer,
                        pattern=pattern,
                    )
                )
        return routes

    def gateway_responses(self) -> dict[str, GatewayResponse]:
        responses = {}
        for kind, spec in self._api()[1].get("GatewayResponses", {}).items():
            headers = spec.get("ResponseParameters", {}).get("Headers", {})
            responses[kind] = GatewayResponse(
                status=int(spec["StatusCode"]) if "StatusCode" in spec else None,
                body=spec.get("ResponseTemplates", {}).get("application/json", ""),
                # Gateway response header values are static strings quoted with single quotes.
                headers={name: str(value).strip("'") for name, value in headers.items()},
            )
        return responses

    def tables(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource["Properties"]
            for logical_id, resource in self.resources.items()
            if resource["Type"] == "AWS::DynamoDB::Table"
        }


def read_template(path: Path = TEMPLATE_PATH) -> Template:
    return Template(load_template(path), root=path.parent)
