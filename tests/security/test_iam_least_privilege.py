"""IAM in template.yaml is least privilege. Extends tests/unit/deploy/test_template.py (which refuses a literal "*"
resource for data actions): no wildcard actions, no NotAction/NotResource, no policy the test cannot read
(managed policies, SAM policy templates), every data resource a resource of this stack, a "*" only at the end
of a stack-scoped name prefix, and no destructive or enumerating action for any function."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.template import either_side, load_template

DATA_SERVICES = ("dynamodb:", "secretsmanager:", "kms:", "s3:")
# Nothing a request-serving function does needs these: schema changes, bulk reads, secret writes or listing.
NEVER_GRANTED = {
    "dynamodb:CreateTable",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:RestoreTableFromBackup",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLSelect",
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecret",
    "secretsmanager:ListSecrets",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:RotateSecret",
}
# A person's erasure (docs/PRIVACY.md) removes items by key: the privacy function alone, never on another resource.
ERASER = "PrivacyFunction"
ERASURE_ONLY = {"dynamodb:DeleteItem"}
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements() -> Iterator[tuple[str, Any]]:
    """(owner, statement) for every inline statement of every function, role and policy in the template."""
    for name, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in as_list(props.get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    for statement in as_list(policy["Statement"]):
                        for side in either_side(statement):  # a conditional statement: each side reviewed
                            yield name, side
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in as_list(policy["PolicyDocument"]["Statement"]):
                    yield name, statement
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in as_list(props["PolicyDocument"]["Statement"]):
                yield name, statement


STATEMENTS = list(policy_statements())


def statement_id(owner: str, statement: Any) -> str:
    return f"{owner}:{statement.get('Sid', '?')}"


def names_a_stack_resource(resource: Any) -> bool:
    """A Ref/GetAtt of one of this template's resources, or a Sub built on one or on the stack's name, with a
    wildcard (if any) only at the very end of a path prefix."""
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"] in RESOURCES
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        return (target[0] if isinstance(target, list) else str(target).split(".", 1)[0]) in RESOURCES
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        scoped = "${AWS::StackName}" in text or any(f"${{{logical}" in text for logical in RESOURCES)
        wildcard_ok = "*" not in text or (text.count("*") == 1 and text.endswith("/*"))
        return scoped and wildcard_ok
    return False  # a literal ARN or "*": not provably this stack's


@pytest.mark.parametrize(("owner", "statement"), STATEMENTS, ids=[statement_id(*pair) for pair in STATEMENTS])
def test_statement_grants_named_actions_on_named_resources(owner: str, statement: Any) -> None:
    # Then it allows (never "allows all but"), lists its actions without wildcards, and its resources explicitly
    assert statement["Effect"] in ("Allow", "Deny")
    assert "NotAction" not in statement and "NotResource" not in statement
    actions = as_list(statement["Action"])
    assert all("*" not in action for action in actions), actions
    never = NEVER_GRANTED - ERASURE_ONLY if owner == ERASER else NEVER_GRANTED
    assert not set(actions) & never, set(actions) & never
    # And data actions name resources of this stack only
    if any(action.startswith(DATA_SERVICES) for action in actions):
        for resource in as_list(statement["Resource"]):
            assert names_a_stack_resource(resource), resource


@pytest.mark.parametrize(
    "function", sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
)
def test_every_function_policy_is_an_inline_statement_list(function: str) -> None:
    # Managed policies and SAM policy templates hide their actions from review (and from this test)
    props = RESOURCES[function]["Properties"]
    assert "Role" not in props, "a role defined elsewhere escapes review"
    for policy in as_list(props.get("Policies", [])):
        assert isinstance(policy, dict) and "Statement" in policy, policy


def test_only_the_privacy_function_deletes_items_and_only_on_the_tables_it_erases() -> None:
    # Given every statement that grants DeleteItem
    deleting = [(owner, s) for owner, s in STATEMENTS if set(as_list(s["Action"])) & ERASURE_ONLY]
    # Then each is the privacy function's, on a table of the stack holding a person's data (never the idempotency
    # keys, the client secrets or a wildcard)
    assert deleting and {owner for owner, _ in deleting} == {ERASER}
    tables = [resource for _, s in deleting for resource in as_list(s["Resource"])]
    assert {str(table["Fn::GetAtt"][0]) for table in tables} <= {"EntitiesTable", "SessionsTable"}, tables


def test_no_role_or_policy_grants_administrator_or_full_access() -> None:
    for name, resource in RESOURCES.items():
        managed = resource.get("Properties", {}).get("ManagedPolicyArns", [])
        for arn in as_list(managed):
            assert "FullAccess" not in str(arn) and "AdministratorAccess" not in str(arn), (name, arn)


def test_the_wildcard_checks_catch_what_they_must() -> None:
    # The predicate itself, on what it must refuse and accept
    assert not names_a_stack_resource("*")
    assert not names_a_stack_resource("arn:aws:dynamodb:us-east-1:123456789012:table/*")
    assert not names_a_stack_resource({"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:*:secret:*"})
    assert not names_a_stack_resource({"Fn::Sub": "arn:aws:secretsmanager:*:*:secret:beacon/${AWS::StackName}*"})
    assert not names_a_stack_resource({"Ref": "SomethingElse"})
    assert names_a_stack_resource({"Fn::Sub": "arn:aws:secretsmanager:r:a:secret:beacon/${AWS::StackName}/clients/*"})
    assert names_a_stack_resource({"Fn::GetAtt": ["EventsTable", "Arn"]})
