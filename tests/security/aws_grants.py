"""The functions' IAM grants in template.yaml, resolved to the ARNs of the local stack, and IAM's evaluation of a
recorded call against them (test_aws_grants.py explains the whole check; local/aws_calls.py records the calls)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from local.aws_calls import SECRET_SUFFIX, AwsCall, firehose_arn, secret_arn, table_arn
from local.template import LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK_NAME, Template

_PSEUDO = {
    "AWS::Region": LOCAL_REGION,
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource pattern, as one statement of a function's policy says it."""

    function: str
    sid: str
    action: str
    resource: str  # an ARN, or an ARN pattern with IAM's wildcards (* and ?)
    effect: str = "Allow"

    def covers(self, call: AwsCall) -> bool:
        return (
            call.function == self.function
            and iam_match(self.action, call.action, case_sensitive=False)
            and iam_match(self.resource, call.resource)
        )

    def __str__(self) -> str:
        return f"{self.function} [{self.sid}] {self.effect} {self.action} on {self.resource}"


@cache
def _pattern(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def iam_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's matching of an Action or Resource element: `*` any run of characters, `?` any one; actions ignore
    case, resource ARNs do not."""
    return _pattern(pattern, case_sensitive).fullmatch(value) is not None


class GrantResolver:
    """Resolves policy resources the way CloudFormation would for the local stack: parameters at their defaults
    unless the template overrides them, conditions on those, tables and secrets named after their logical ids (as
    local/template.py names them)."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.resources = template.resources
        self.parameters = template.parameters()

    def _ref(self, name: str) -> str:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name == "AWS::StackName":
            return LOCAL_STACK_NAME
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::SecretsManager::Secret":
            return secret_arn(name)  # Ref of a secret is its ARN
        if kind == "AWS::DynamoDB::Table":
            return name  # Ref of a table is its name, never an ARN: a policy that uses it grants nothing
        if kind in ("AWS::Athena::WorkGroup", "AWS::Glue::Database", "AWS::S3::Bucket"):
            return name  # their Ref is their name, and the local stack names them after their logical id
        raise ValueError(f"the grants check cannot resolve Ref {name} ({kind})")

    def _get_att(self, name: str, attribute: str) -> str:
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return table_arn(name)
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"{table_arn(name)}/stream/*"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::KinesisFirehose::DeliveryStream" and attribute == "Arn":
            return firehose_arn(name)  # delivery streams are named after their logical id locally
        raise ValueError(f"the grants check cannot resolve GetAtt {name}.{attribute} ({kind})")

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return self.value(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self._get_att(logical, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def value(self, node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return self._ref(str(argument))
            if function == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
                return self._get_att(logical, attribute)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                return self._sub(text, variables)
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(self.value(part) for part in parts)
        raise ValueError(f"the grants check cannot resolve {node!r}")

    def values(self, node: Any) -> list[str]:
        """A statement's Action or Resource element: one value, a list of them, or an Fn::If choosing one."""
        if isinstance(node, dict) and "Fn::If" in node:
            condition, when_true, when_false = node["Fn::If"]
            return self.values(when_true if self.template.condition(condition) else when_false)
        if isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}:
            return []
        if isinstance(node, list):
            return [value for item in node for value in self.values(item)]
        return [self.value(node)]


def _statements(node: Any, template: Template) -> Iterator[dict[str, Any]]:
    """The inline statements in force with the parameters' defaults (a statement under Fn::If only when its
    condition holds)."""
    for policy in node if isinstance(node, list) else [node]:
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise ValueError(f"the grants check reads inline statement lists only, not {policy!r}")
        statements = policy["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            yield from template.chosen(statement)


def template_grants(template: Template) -> list[Grant]:
    """Every (action, resource) each function's inline policy allows or denies."""
    resolver = GrantResolver(template)
    grants = []
    for name, resource in template.resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for statement in _statements(resource["Properties"].get("Policies", []), template):
            if "Condition" in statement:
                raise ValueError(f"{name}: IAM conditions are not evaluated by the grants check")
            for action in resolver.values(statement["Action"]):
                for arn in resolver.values(statement["Resource"]):
                    grants.append(Grant(name, statement.get("Sid", "?"), action, arn, statement["Effect"]))
    return grants


def allowed(call: AwsCall, grants: Iterable[Grant]) -> bool:
    """IAM's answer for the function's own policy: some Allow covers the call and no Deny does."""
    covering = [grant for grant in grants if grant.covers(call)]
    return any(grant.effect == "Allow" for grant in covering) and not any(grant.effect == "Deny" for grant in covering)


def of_the_stack(call: AwsCall, template: Template) -> bool:
    """Whether the call names a resource of the local stack (a template table or secret, or a name under the
    stack's `beacon/local/` prefix), or one the recorder could not name ("*"). Any other name can only come from a
    test that loaded a function with an environment of its own making (tests/faults: `beacon/faults/clients/`,
    unreachable endpoints); a function run from the template's environment reaches only the stack's resources."""
    kinds = {name: resource["Type"] for name, resource in template.resources.items()}
    tables = {name for name, kind in kinds.items() if kind == "AWS::DynamoDB::Table"}
    secrets = {name for name, kind in kinds.items() if kind == "AWS::SecretsManager::Secret"}
    table_prefix = table_arn("")
    secret_prefix = f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:"
    if call.resource == "*":
        return True
    if call.resource.startswith(table_prefix):
        return call.resource.removeprefix(table_prefix).split("/", 1)[0] in tables
    if call.resource.startswith(secret_prefix):
        name = call.resource.removeprefix(secret_prefix)
        return name.startswith(f"beacon/{LOCAL_STACK_NAME}/") or name.removesuffix(SECRET_SUFFIX) in secrets
    return True


def ungranted(calls: Iterable[AwsCall], grants: list[Grant]) -> list[AwsCall]:
    return sorted(call for call in calls if not allowed(call, grants))


def unused(calls: Iterable[AwsCall], grants: list[Grant]) -> list[Grant]:
    made = list(calls)
    return sorted(g for g in grants if g.effect == "Allow" and not any(g.covers(call) for call in made))


@dataclass
class DriverRuns:
    """Which driver tests (marker `aws_grants_driver`) this run collected, and which of them passed."""

    collected: set[str]
    passed: set[str]

    def all_passed(self) -> bool:
        return bool(self.collected) and self.collected <= self.passed


DRIVERS_PASSED = pytest.StashKey[DriverRuns]()
