"""Checks on template.yaml that a deployer relies on (no AWS, no SAM translation)."""

import json
from pathlib import Path

import pytest

from local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def resources():
    return load_template(TEMPLATE)["Resources"]


def _statements(function):
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict):
            yield from policy.get("Statement", [])


def test_every_gateway_response_is_json_whose_status_matches_the_http_code(resources):
    # Given the API's gateway responses
    responses = resources["BeaconApi"]["Properties"]["GatewayResponses"]
    for kind, response in responses.items():
        # When API Gateway renders one (its template is static: no $context variables)
        body = json.loads(response["ResponseTemplates"]["application/json"])
        # Then the body has the API's error shape, and "status" is the HTTP status sent
        assert set(body) == {"error", "status"} and body["error"], kind
        assert body["status"] == int(response["StatusCode"]), kind
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/json'", kind
        # And every 429/503 tells the client when to retry (static value, quoted)
        if body["status"] in (429, 503):
            assert headers["Retry-After"].strip("'").isdigit(), kind


def test_events_table_is_on_demand_durable_and_retained(resources):
    # Given the events table
    table = resources["EventsTable"]
    props = table["Properties"]
    # Then deleting or replacing the stack never deletes data
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    # And it is on demand, recoverable, encrypted, expiring and streamed
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    # And the name is generated, so two stacks never collide
    assert "TableName" not in props


def test_no_function_may_touch_dynamodb_or_secrets_on_every_resource(resources):
    # Given every function's inline IAM statements
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for name, function in functions.items():
        for statement in _statements(function):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            # Then no data action is granted on "*"
            if any(a.startswith(("dynamodb:", "secretsmanager:")) for a in actions):
                assert "*" not in targets, name


def test_authorizer_may_only_read_this_stacks_client_secrets(resources):
    # Given the authorizer's policy and environment
    function = resources["AuthorizerFunction"]["Properties"]
    statements = list(_statements(resources["AuthorizerFunction"]))
    prefix = function["Environment"]["Variables"]["CLIENT_SECRET_PREFIX"]["Fn::Sub"]
    # Then it has a single read permission, on the client prefix it is told to use
    assert [s["Action"] for s in statements] == [["secretsmanager:GetSecretValue"]]
    resource = statements[0]["Resource"]["Fn::Sub"]
    assert resource.endswith(f":secret:{prefix}*")
    assert prefix == "beacon/${AWS::StackName}/clients/"
    # And the track function may read the device-salt secret only: never a client secret
    track_secret_statements = [
        s for s in _statements(resources["TrackFunction"]) if any(a.startswith("secretsmanager:") for a in s["Action"])
    ]
    assert [(s["Action"], s["Resource"]) for s in track_secret_statements] == [
        (["secretsmanager:GetSecretValue"], {"Ref": "DeviceSaltSecret"})
    ]
