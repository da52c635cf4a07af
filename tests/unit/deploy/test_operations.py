"""Running a deployed stack: safe deploys, alarm mail, per-stack metrics, logs, tracing, the dashboard (DESIGN §39)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from local.template import Template, read_template
from tests.constants import ROOT

FUNCTIONS = ("AuthorizerFunction", "TrackFunction", "ReadFunction")


def _with_parameters(**values: str) -> Template:
    """template.yaml as CloudFormation would evaluate it with these parameter values."""
    template = read_template()
    data = copy.deepcopy(template.data)
    for name, value in values.items():
        data["Parameters"][name]["Default"] = value
    return Template(data=data, root=template.root)


def _globals(template: Template) -> dict[str, Any]:
    function_globals: dict[str, Any] = template.data["Globals"]["Function"]
    return function_globals


def _emitted_metric_names() -> set[str]:
    """Every custom metric the code can emit: add_metric(name=...), the error policy's counters and refused_metric."""
    patterns = (r'add_metric\(name="(\w+)"', r'count\("(\w+)"\)', r'refused_metric="(\w+)"')
    names: set[str] = set()
    for path in [*ROOT.glob("functions/*/app.py"), *(ROOT / "layers/beacon/beacon").rglob("*.py")]:
        text = path.read_text()
        for pattern in patterns:
            names.update(re.findall(pattern, text))
    return names


def test_every_function_shifts_its_live_alias_through_codedeploy_and_rolls_back_on_the_stacks_alarms():
    # Given the template's function globals
    template = read_template()
    preference = _globals(template)["DeploymentPreference"]
    # Then every deployment moves the alias `live` by the chosen strategy, a canary unless told otherwise
    assert _globals(template)["AutoPublishAlias"] == "live"
    assert preference["Type"] == {"Ref": "DeploymentStrategy"}
    strategy = template.data["Parameters"]["DeploymentStrategy"]
    assert strategy["Default"].startswith("Canary")
    assert "AllAtOnce" in strategy["AllowedValues"]
    # And no function opts out of it
    for name in FUNCTIONS:
        assert "DeploymentPreference" not in template.resources[name]["Properties"], name
    # And the rollback triggers are alarms of this stack, covering the API's 5xx and every function's failures
    triggers = {alarm["Ref"] for alarm in preference["Alarms"]}
    assert all(template.resources[name]["Type"] == "AWS::CloudWatch::Alarm" for name in triggers)
    assert "Api5xxAlarm" in triggers
    watched = {
        template.resources[name]["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for name in triggers
        if template.resources[name]["Properties"]["MetricName"] == "Errors"
    }
    assert watched == set(FUNCTIONS)


def test_an_alarm_email_is_subscribed_to_the_alarm_topic_only_when_given():
    # Given the alarm mail subscription
    subscription = read_template().resources["AlarmEmailSubscription"]
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    # When no address is given, no subscription is made; when one is, it is
    assert read_template().condition(subscription["Condition"]) is False
    assert _with_parameters(AlarmEmail="ops@example.com").condition(subscription["Condition"]) is True
    # And what is not an address is refused by the parameter's pattern
    pattern = re.compile(read_template().data["Parameters"]["AlarmEmail"]["AllowedPattern"])
    assert pattern.fullmatch("ops@example.com") and pattern.fullmatch("")
    assert not pattern.fullmatch("ops") and not pattern.fullmatch("a b@example.com")


def test_metrics_are_namespaced_per_stack_and_the_alarm_on_them_watches_that_namespace():
    # Given two stacks' view of the template (the local one is called "local")
    template = read_template()
    namespace = template.functions()["TrackFunction"].environment["POWERTOOLS_METRICS_NAMESPACE"]
    # Then the functions publish under a namespace carrying the stack's name
    assert namespace == "Beacon/local"
    # And every alarm on a custom metric reads that same namespace, not another stack's
    custom = [
        resource["Properties"]
        for resource in template.resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and not str(template.resolve_all(resource["Properties"]["Namespace"])).startswith("AWS/")
    ]
    assert custom, "the DependencyUnavailable alarm reads a custom metric"
    for alarm in custom:
        assert template.resolve_all(alarm["Namespace"]) == namespace
        assert alarm["MetricName"] in _emitted_metric_names()


def test_every_function_logs_json_platform_lines_into_a_log_group_that_expires():
    # Given the template
    template = read_template()
    # Then Lambda writes its own lines (START, REPORT, errors) as JSON, like Powertools' lines
    assert _globals(template)["LoggingConfig"] == {"LogFormat": "JSON"}
    for name in FUNCTIONS:
        assert "LoggingConfig" not in template.resources[name]["Properties"], name
        # And each function has a log group kept LogRetentionDays
        groups = [
            resource["Properties"]
            for resource in template.resources.values()
            if resource["Type"] == "AWS::Logs::LogGroup"
            and resource["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        ]
        assert groups == [
            {"LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{name}}}"}, "RetentionInDays": {"Ref": "LogRetentionDays"}}
        ]


@pytest.mark.parametrize(
    ("enabled", "mode", "stage_tracing", "powertools_disabled"),
    [("true", "Active", True, "false"), ("false", "PassThrough", False, "true")],
)
def test_tracing_is_switched_by_one_parameter(enabled, mode, stage_tracing, powertools_disabled):
    # Given the template with EnableTracing set
    template = _with_parameters(EnableTracing=enabled)
    # Then the functions, the stage and Powertools' Tracer all follow it
    assert template.resolve_all(_globals(template)["Tracing"]) == mode
    stage = template.resources["BeaconApi"]["Properties"]
    assert template.resolve_all(stage["TracingEnabled"]) is stage_tracing
    for spec in template.functions().values():
        assert spec.environment["POWERTOOLS_TRACE_DISABLED"] == powertools_disabled


def test_the_dashboard_shows_only_metrics_that_exist_and_covers_every_function_and_written_table():
    # Given the dashboard's body, as CloudFormation substitutes it
    template = read_template()
    body = json.loads(template.resolve(template.resources["BeaconDashboard"]["Properties"]["DashboardBody"]))
    metrics = [
        line
        for widget in body["widgets"]
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], str)  # a metric; a metric-math line starts with its {"expression": ...}
    ]
    api = template.resources["BeaconApi"]["Properties"]
    api_name, stage = template.resolve_all(api["Name"]), template.resolve_all(api["StageName"])
    namespace = template.functions()["TrackFunction"].environment["POWERTOOLS_METRICS_NAMESPACE"]
    # Then every custom metric shown is one the code emits, under this stack's namespace
    custom = {line[1] for line in metrics if not line[0].startswith("AWS/")}
    assert {line[0] for line in metrics if not line[0].startswith("AWS/")} == {namespace}
    assert custom <= _emitted_metric_names()
    assert {"EventsAccepted", "EventsRejected", "DependencyUnavailable", "EventsRead"} <= custom
    # And the API's lines name this stack's API and stage
    api_lines = [line for line in metrics if line[0] == "AWS/ApiGateway"]
    assert {line[1] for line in api_lines} >= {"Count", "4XXError", "5XXError", "Latency"}
    assert all(line[2:6] == ["ApiName", api_name, "Stage", stage] for line in api_lines)
    assert {line[-1]["stat"] for line in api_lines if line[1] == "Latency"} == {"p50", "p99"}
    # And every function's throttles and every table the track function writes show up
    throttled = {line[3] for line in metrics if line[:2] == ["AWS/Lambda", "Throttles"]}
    assert throttled == set(FUNCTIONS)
    written = {line[3] for line in metrics if line[:2] == ["AWS/DynamoDB", "WriteThrottleEvents"]}
    assert written >= {"EventsTable", "SessionsTable", "EntitiesTable", "IdempotencyTable"}
    # And the authorizer-cache line is computed from lines that exist
    ids = {line[-1]["id"] for line in metrics if isinstance(line[-1], dict) and "id" in line[-1]}
    expressions = [
        line[0]["expression"]
        for widget in body["widgets"]
        for line in widget["properties"]["metrics"]
        if not isinstance(line[0], str)
    ]
    assert expressions and all(set(re.findall(r"[a-z]\w*", expression)) <= ids for expression in expressions)


@pytest.mark.parametrize(("enable_lake", "names_the_lake"), [("true", True), ("false", False)])
def test_the_dashboard_shows_the_lakes_delivery_lag_and_the_reaper(enable_lake, names_the_lake):
    # Given the template as a stack with or without the lake sees it
    data = copy.deepcopy(read_template().data)
    data["Parameters"]["EnableLake"]["Default"] = enable_lake
    template = Template(data)
    body = json.loads(template.resolve(template.resources["BeaconDashboard"]["Properties"]["DashboardBody"]))
    lines = [line for widget in body["widgets"] for line in widget["properties"]["metrics"] if isinstance(line[0], str)]
    # Then the lag lines are the lake function's stream iterator age and the delivery stream's freshness
    age = next(line for line in lines if line[:2] == ["AWS/Lambda", "IteratorAge"])
    freshness = next(line for line in lines if line[:2] == ["AWS/Firehose", "DeliveryToS3.DataFreshness"])
    assert (age[3] == "LakeFunction") is names_the_lake and (freshness[3] == "LakeDeliveryStream") is names_the_lake
    # And the reaper's runs and errors are on it
    assert ["AWS/Lambda", "Errors", "FunctionName", "ReaperFunction"] in lines
