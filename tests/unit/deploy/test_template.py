"""Checks on template.yaml that a deployer relies on (no AWS, no SAM translation)."""

import json

import pytest

from local.template import either_side, load_template, read_template
from tests.constants import TEMPLATE


def _statements(function, conditional=True):
    """Every inline statement (both sides of a conditional one), or with conditional=False the unconditional ones."""
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict):
            for statement in policy.get("Statement", []):
                if conditional or "Fn::If" not in statement:
                    yield from either_side(statement)


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
    statements = list(_statements(resources["AuthorizerFunction"], conditional=False))
    prefix = function["Environment"]["Variables"]["CLIENT_SECRET_PREFIX"]["Fn::Sub"]
    # Then it has two read permissions: on the client prefix it is told to use, and on the key its client ids are
    # signed with (docs/DESIGN.md §4), the one secret its CLIENT_ID_KEY_SECRET names
    assert [s["Action"] for s in statements] == [["secretsmanager:GetSecretValue"]] * 2
    resource = statements[0]["Resource"]["Fn::Sub"]
    assert resource.endswith(f":secret:{prefix}*")
    assert prefix == "beacon/${AWS::StackName}/clients/"
    assert statements[1]["Resource"] == {"Ref": "ClientIdKeySecret"}
    assert function["Environment"]["Variables"]["CLIENT_ID_KEY_SECRET"] == {"Ref": "ClientIdKeySecret"}
    assert resources["ClientIdKeySecret"]["Properties"]["Name"] == {"Fn::Sub": "beacon/${AWS::StackName}/client-id-key"}
    # And the read function may never read that key
    assert {"Ref": "ClientIdKeySecret"} not in [s.get("Resource") for s in _statements(resources["ReadFunction"])]
    # And the track function, unconditionally, may read the device-salt secret only: never a client secret
    track_secret_statements = [
        s
        for s in _statements(resources["TrackFunction"], conditional=False)
        if any(a.startswith("secretsmanager:") for a in s["Action"])
    ]
    assert [(s["Action"], s["Resource"]) for s in track_secret_statements] == [
        (["secretsmanager:GetSecretValue"], {"Ref": "DeviceSaltSecret"})
    ]
    # And only under BodyCredentials (docs/DESIGN.md §50) the authorizer's two reads, on the same resources, and
    # nothing else on the other side of the condition
    conditional = [
        s["Fn::If"]
        for policy in resources["TrackFunction"]["Properties"]["Policies"]
        for s in policy["Statement"]
        if "Fn::If" in s
    ]
    assert [(condition, otherwise) for condition, _, otherwise in conditional] == [
        ("UseBodyCredentials", {"Ref": "AWS::NoValue"})
    ] * 2
    assert [(s["Action"], s["Resource"]) for _, s, _ in conditional] == [
        (["secretsmanager:GetSecretValue"], statements[0]["Resource"]),
        (["secretsmanager:GetSecretValue"], {"Ref": "ClientIdKeySecret"}),
    ]
    assert resources["TrackFunction"]["Properties"]["Environment"]["Variables"]["BODY_CREDENTIALS"] == {
        "Ref": "BodyCredentials"
    }


def test_with_cloudfront_the_distribution_proves_itself_with_a_secret_the_authorizer_alone_may_read(resources):
    # Given the distribution, its origin-verify secret and the authorizer
    origin = resources["BeaconDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    secret = resources["OriginVerifySecret"]
    authorizer = resources["AuthorizerFunction"]["Properties"]
    # Then the secret is generated per stack, and exists only with the distribution
    assert resources["BeaconDistribution"]["Condition"] == secret["Condition"] == "CreateCloudFront"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    # And the distribution sends it to API Gateway with every request, resolved at deploy time (never in plain text)
    assert origin["OriginCustomHeaders"] == [
        {
            "HeaderName": "X-Beacon-Origin-Verify",
            "HeaderValue": {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"},
        }
    ]
    # And the authorizer is told which secret it is, and may read it, only when the distribution exists
    assert authorizer["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"] == {
        "Fn::If": ["CreateCloudFront", {"Ref": "OriginVerifySecret"}, ""]
    }
    [conditional] = [s for s in authorizer["Policies"][0]["Statement"] if "Fn::If" in s]
    condition, granted, otherwise = conditional["Fn::If"]
    assert (condition, otherwise) == ("CreateCloudFront", {"Ref": "AWS::NoValue"})
    assert (granted["Action"], granted["Resource"]) == (
        ["secretsmanager:GetSecretValue"],
        {"Ref": "OriginVerifySecret"},
    )
    # And no other function may read it
    for name in ("TrackFunction", "ReadFunction"):
        assert {"Ref": "OriginVerifySecret"} not in [s.get("Resource") for s in _statements(resources[name])], name


def test_without_cloudfront_the_local_authorizer_checks_no_origin_header():
    # Given the template at its defaults (no distribution), as the local stack and the grants check read it
    from local.template import read_template

    template = read_template()
    # Then the authorizer has no origin-verify secret to require, and no grant to read one
    assert template.functions()["AuthorizerFunction"].environment["ORIGIN_VERIFY_SECRET"] == ""
    statements = template.resources["AuthorizerFunction"]["Properties"]["Policies"][0]["Statement"]
    kept = [chosen for statement in statements for chosen in template.chosen(statement)]
    assert "ReadOriginVerifySecret" not in {statement["Sid"] for statement in kept}
    assert len(kept) == len(statements) - 1


def test_rate_limits_are_usage_plans_keyed_by_the_authorizer(resources):
    # Given the API and its default usage plan
    api = resources["BeaconApi"]["Properties"]
    plan = resources["DefaultUsagePlan"]["Properties"]
    # Then the authorizer names each client's API key, and every method (not the preflight) needs one
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["AddApiKeyRequiredToCorsPreflight"] is False
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    # And the plan covers this API's stage with the rate and burst parameters, the quota being optional
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "BeaconApi"}, "Stage": {"Ref": "BeaconApi.Stage"}}]
    assert plan["Throttle"] == {"RateLimit": {"Ref": "DefaultRateLimit"}, "BurstLimit": {"Ref": "DefaultBurstLimit"}}
    assert plan["Quota"]["Fn::If"][0] == "HasDailyQuota"


@pytest.mark.parametrize(("kind", "retry_after"), [("THROTTLED", "'1'"), ("QUOTA_EXCEEDED", "'60'")])
def test_rate_limited_requests_get_a_json_429_with_retry_after(resources, kind, retry_after):
    response = resources["BeaconApi"]["Properties"]["GatewayResponses"][kind]
    assert response["StatusCode"] == 429
    assert json.loads(response["ResponseTemplates"]["application/json"]) == {
        "error": "Too Many Requests",
        "status": 429,
    }
    assert response["ResponseParameters"]["Headers"]["Retry-After"] == retry_after


def test_browsers_can_preflight_and_read_every_gateway_error(resources):
    api = resources["BeaconApi"]["Properties"]
    allowed_headers = api["Cors"]["AllowHeaders"].strip("'").split(",")
    for header in (
        "content-type",
        "openpanel-client-id",
        "openpanel-client-secret",
        "mixan-client-id",  # OpenPanel's legacy credential headers, still accepted
        "mixan-client-secret",
        "openpanel-sdk-name",
        "openpanel-sdk-version",
    ):
        assert header in allowed_headers
    for kind, response in api["GatewayResponses"].items():
        assert response["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == "'*'", kind


def test_alarms_watch_5xx_throttling_authorizer_errors_and_outages(resources):
    # Given the template's CloudWatch alarms
    alarms = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    metrics = {alarm["MetricName"] for alarm in alarms.values()}
    # Then each failure a deployer must hear about has one, and each notifies the alarm topic
    assert {"5XXError", "Throttles", "WriteThrottleEvents", "Errors", "DependencyUnavailable"} <= metrics
    authorizer = alarms["AuthorizerErrorsAlarm"]
    assert authorizer["MetricName"] == "Errors"
    assert authorizer["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "AuthorizerFunction"}}]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_every_data_table_survives_stack_deletion_with_point_in_time_recovery(resources):
    tables = {name: resource for name, resource in resources.items() if resource["Type"] == "AWS::DynamoDB::Table"}
    assert set(tables) == {
        "EventsTable",
        "EntitiesTable",
        "SessionsTable",
        "IdempotencyTable",
        "RejectedEventsTable",
        "ReplaysTable",
    }
    for name, table in tables.items():
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), name
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_snapstart_is_an_option_for_the_authorizer_and_track_function_and_api_gateway_invokes_aliases():
    # Given the template's globals and parameters
    template = load_template(TEMPLATE)
    # Then every deployment publishes a version behind an alias (SnapStart never applies to $LATEST)
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"
    assert template["Parameters"]["EnableSnapStart"]["Default"] == "false"
    resources = template["Resources"]
    for name in ("AuthorizerFunction", "TrackFunction"):
        # And SnapStart follows the parameter on the two functions on every request's path
        apply_on = resources[name]["Properties"]["SnapStart"]["ApplyOn"]
        assert apply_on == {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}, name
    # And the API calls the authorizer through its alias, not the unpublished $LATEST
    authorizer = resources["BeaconApi"]["Properties"]["Auth"]["Authorizers"]["BeaconAuthorizer"]
    assert authorizer["FunctionArn"] == {"Ref": "AuthorizerFunction.Alias"}


def test_every_route_but_the_public_files_needs_the_authorizer_and_an_api_key():
    # Given the API's methods (CORS preflights aside, which API Gateway answers itself)
    routes = [route for route in read_template().routes() if route.function is not None]
    # Then only GET /healthcheck, /openapi.json and /docs, answered by the track function without a dependency, and the
    # dashboard's static files (the read function answers them from memory, without a dependency or any data) are open
    open_routes = {
        ("GET", "/docs", "TrackFunction"),
        ("GET", "/healthcheck", "TrackFunction"),
        ("GET", "/openapi.json", "TrackFunction"),
        ("GET", "/dashboard", "ReadFunction"),
        ("GET", "/dashboard/{asset}", "ReadFunction"),
    }
    assert {(route.method, route.path, route.function) for route in routes if route.authorizer is None} == open_routes
    for route in routes:
        if (route.method, route.path, route.function) not in open_routes:
            assert route.authorizer == "BeaconAuthorizer" and route.api_key_required, route.path
        else:
            assert not route.api_key_required
