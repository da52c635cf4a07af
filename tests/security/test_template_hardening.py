"""template.yaml's edge protection and logs (docs/DESIGN.md §33, §34): an optional AWS WAF per-IP rate limit on the
API stage or the CloudFront distribution, optional reserved concurrency, log groups that expire, JSON access logs.
Conditions are evaluated as the local stack evaluates them (local/template.py), on chosen parameter values."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from local.template import Template, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
FUNCTIONS = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function")
# CloudWatch Logs' accepted retention periods (PutRetentionPolicy).
LOG_RETENTIONS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288}
LOG_RETENTIONS |= {3653}


def deployed_with(**parameters: str) -> Template:
    """The template as a deployment with these parameter values sees it (the local stack's region: us-east-1)."""
    data = copy.deepcopy(TEMPLATE)
    for name, value in parameters.items():
        data["Parameters"][name]["Default"] = value
    return Template(data)


def created(template: Template, logical_id: str) -> bool:
    condition = template.resources[logical_id].get("Condition")
    return condition is None or template.condition(condition)


# -- AWS WAF ----------------------------------------------------------------------------------------------------
def test_waf_is_off_by_default():
    assert PARAMETERS["EnableWaf"]["Default"] == "false"
    template = deployed_with()
    assert not any(created(template, name) for name, r in RESOURCES.items() if r["Type"].startswith("AWS::WAFv2::"))


def rate_rule(web_acl: str) -> dict[str, Any]:
    [rule] = RESOURCES[web_acl]["Properties"]["Rules"]
    return dict(rule)


@pytest.mark.parametrize("web_acl", ["StageWebAcl", "CloudFrontWebAcl"])
def test_each_web_acl_blocks_an_address_over_the_rate_with_the_apis_json_429(web_acl):
    props = RESOURCES[web_acl]["Properties"]
    rule = rate_rule(web_acl)
    # Then its one rule counts requests per client address over 5 minutes, at the parameter's limit
    rate = {"Limit": {"Ref": "WafRateLimitPer5Min"}, "EvaluationWindowSec": 300, "AggregateKeyType": "IP"}
    assert rule["Statement"] == {"RateBasedStatement": rate}
    # And over it the answer is the API's error shape, 429; everything else is allowed
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    body = props["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert (body["ContentType"], json.loads(body["Content"])) == (
        "APPLICATION_JSON",
        {"error": "Too Many Requests", "status": 429},
    )
    assert props["DefaultAction"] == {"Allow": {}}
    assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_the_rate_limit_leaves_a_client_at_its_usage_plans_rate_alone():
    # A client at the default usage plan's steady rate for 5 minutes stays under WAF's per-address limit
    usage_plan_per_5_min = int(PARAMETERS["DefaultRateLimit"]["Default"]) * 300
    assert int(PARAMETERS["WafRateLimitPer5Min"]["Default"]) > usage_plan_per_5_min
    assert PARAMETERS["WafRateLimitPer5Min"]["MinValue"] >= 10  # WAF's smallest rate limit


def test_without_cloudfront_the_web_acl_is_on_the_api_stage():
    template = deployed_with(EnableWaf="true")
    assert created(template, "StageWebAcl") and created(template, "StageWebAclAssociation")
    assert not created(template, "CloudFrontWebAcl")
    web_acl = RESOURCES["StageWebAcl"]["Properties"]
    association = RESOURCES["StageWebAclAssociation"]["Properties"]
    assert web_acl["Scope"] == "REGIONAL"
    assert association["WebACLArn"] == {"Fn::GetAtt": ["StageWebAcl", "Arn"]}
    arn, names = association["ResourceArn"]["Fn::Sub"]
    assert arn == "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}"
    assert names == {"Api": {"Ref": "BeaconApi"}, "Stage": {"Ref": "BeaconApi.Stage"}}


def test_with_cloudfront_the_web_acl_is_on_the_distribution_from_us_east_1_or_given():
    # Behind CloudFront the stage sees CloudFront's addresses: the distribution gets the web ACL instead
    template = deployed_with(EnableWaf="true", EnableCloudFront="true", EndpointType="REGIONAL")
    assert created(template, "CloudFrontWebAcl") and not created(template, "StageWebAcl")
    assert RESOURCES["CloudFrontWebAcl"]["Properties"]["Scope"] == "CLOUDFRONT"
    web_acl_id = RESOURCES["BeaconDistribution"]["Properties"]["DistributionConfig"]["WebACLId"]
    assert template.resolve_all(web_acl_id) == "local:CloudFrontWebAcl:Arn"
    # And a web ACL made in us-east-1 can be given instead (the stack's own is then not created)
    given = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/beacon/0000"
    template = deployed_with(EnableWaf="true", EnableCloudFront="true", CloudFrontWebAclArn=given)
    assert not created(template, "CloudFrontWebAcl")
    assert template.resolve_all(web_acl_id) == given
    # And outside us-east-1 the stack cannot make one: the deployment is refused unless one is given
    rule = TEMPLATE["Rules"]["CloudFrontWafNeedsUsEast1OrAnArn"]
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]} in rule["RuleCondition"]["Fn::And"]
    assert rule["Assertions"] == [
        {
            "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "CloudFrontWebAclArn"}, ""]}]},
            "AssertDescription": rule["Assertions"][0]["AssertDescription"],
        }
    ]
    region = next(c for c in TEMPLATE["Conditions"]["CreateCloudFrontWaf"]["Fn::And"] if "Fn::Equals" in c)
    assert region == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


# -- reserved concurrency ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", FUNCTIONS)
def test_reserved_concurrency_is_a_parameter_per_function_unset_by_default(function):
    parameter = f"{function.removesuffix('Function')}ReservedConcurrency"
    spec = PARAMETERS[parameter]
    # Unset by default, and never 0 (a reservation of 0 stops the function)
    assert spec["Default"] == ""
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("25")
    assert not pattern.fullmatch("0") and not pattern.fullmatch("-1")
    # And applied only when set
    condition, when_set, unset = RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"]
    assert (when_set, unset) == ({"Ref": parameter}, {"Ref": "AWS::NoValue"})
    assert not deployed_with().condition(condition)
    assert deployed_with(**{parameter: "25"}).condition(condition)


# -- logs -------------------------------------------------------------------------------------------------------
def test_log_retention_is_a_parameter_of_cloudwatchs_periods():
    spec = PARAMETERS["LogRetentionDays"]
    assert set(spec["AllowedValues"]) <= LOG_RETENTIONS and spec["Default"] in spec["AllowedValues"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_a_group_of_the_stack_that_expires(function):
    # Given the log groups of the stack, by the name Lambda writes to
    groups = {
        json.dumps(r["Properties"]["LogGroupName"]): r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    # Then the function's own (/aws/lambda/<function name>) is one, kept LogRetentionDays
    group = groups[json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"})]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_api_access_logs_are_json_into_a_group_that_expires():
    setting = RESOURCES["BeaconApi"]["Properties"]["AccessLogSetting"]["Fn::If"]
    assert setting[0] == "UseApiAccessLogs" and setting[2] == {"Ref": "AWS::NoValue"}
    assert setting[1]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    # The format is JSON once API Gateway puts a value in each $context variable, and names the request
    line = re.sub(r"\$context\.[A-Za-z.]+", "v", setting[1]["Format"])
    fields = json.loads(line)
    assert {"requestId", "ip", "method", "path", "status", "errorType", "principalId"} <= set(fields)
    group = RESOURCES["ApiAccessLogGroup"]
    assert group["Condition"] == "UseApiAccessLogs"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # Off by default: it needs API Gateway's CloudWatch role in the account (docs/DESIGN.md §34)
    assert not deployed_with().condition("UseApiAccessLogs")
    assert deployed_with(EnableApiAccessLogs="true").condition("UseApiAccessLogs")


def test_the_alarm_topic_is_not_encrypted_with_the_aws_managed_key():
    # CloudWatch alarms cannot publish to a topic under alias/aws/sns (its key policy cannot admit CloudWatch):
    # that "fix" would silence every alarm (docs/DESIGN.md §34)
    assert RESOURCES["AlarmTopic"]["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"


# -- the local stack reads the template with its new resources ----------------------------------------------------
def test_the_local_stack_reads_a_template_with_every_option_on():
    template = deployed_with(EnableWaf="true", EnableApiAccessLogs="true", TrackReservedConcurrency="5")
    assert set(template.functions()) == set(FUNCTIONS)
    assert {route.path for route in template.routes()} >= {"/track", "/track/batch", "/export/events"}
    assert set(template.tables()) == {
        "EventsTable",
        "EntitiesTable",
        "SessionsTable",
        "IdempotencyTable",
        "RejectedEventsTable",
        "ReplaysTable",
    }
    assert template.default_usage_plan() is not None
    assert template.resolve({"Fn::Sub": ["${A}-${AWS::StackName}", {"A": "x"}]}) == "x-local"
