"""The local gateway's CORS preflight, API keys and usage-plan limits, as API Gateway applies them (no sockets:
the functions are fakes, the clocks are injected)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from beacon.domain.auth import ClientRecord
from local.gateway import ClientUsagePlans, LocalGateway, PeriodQuota, TokenBucket, UsagePlans
from local.template import (
    MappingExpression,
    Template,
    TemplateError,
    UsagePlanSpec,
    load_template,
    parse_mapping_expression,
)
from tests.constants import CLIENT_ID
from tests.unit.support.fakes import FakeClientLookup, FakeClock, client_record

API_KEY = "key-of-the-client-" + "x" * 20
TRACK_BODY = json.dumps({"type": "track", "payload": {"name": "page_view"}}).encode()


class FakeFunction:
    """A Lambda function that answers `answer` (or raises it) and remembers its events."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def allow(usage_identifier_key: str | None = API_KEY) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": CLIENT_ID,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
        },
        "context": {"projectId": "project-a", "clientId": CLIENT_ID, "clientType": "write", "secretAuth": True},
    }
    if usage_identifier_key is not None:
        answer["usageIdentifierKey"] = usage_identifier_key
    return answer


TRACK_ANSWER = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@pytest.fixture
def template_data() -> dict[str, Any]:
    return copy.deepcopy(load_template())


@pytest.fixture
def template(template_data: dict[str, Any]) -> Template:
    return Template(template_data)


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """LocalGateway puts the functions' environment into the process, as the local stack wants; undo it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def gateway_with(
    template: Template, authorizer: FakeFunction, track: FakeFunction, usage_plans: UsagePlans
) -> LocalGateway:
    gateway = LocalGateway(template, usage_plans=usage_plans)
    gateway.functions["AuthorizerFunction"] = authorizer
    gateway.functions["TrackFunction"] = track
    return gateway


def one_plan(plan: UsagePlanSpec, clock: FakeClock | None = None) -> UsagePlans:
    return UsagePlans(lambda api_key, principal_id: plan, clock=clock or FakeClock())


def send(gateway: LocalGateway, method: str = "POST", path: str = "/track", **headers: str) -> Any:
    return gateway.handle(method, path, list(headers.items()), TRACK_BODY if method == "POST" else b"", "203.0.113.7")


def header(result: Any, name: str) -> str | None:
    values = [value for key, value in result.headers if key.lower() == name.lower()]
    return values[-1] if values else None


# -- token bucket --------------------------------------------------------------------------------------


def test_token_bucket_serves_its_burst_then_refuses():
    # Given a bucket of rate 2/s and burst 3 whose clock stands still
    bucket = TokenBucket(rate=2, burst=3, clock=FakeClock())
    # When four requests arrive at once
    answers = [bucket.take() for _ in range(4)]
    # Then the burst is served and the fourth is refused
    assert answers == [True, True, True, False]


def test_token_bucket_refills_at_its_rate():
    # Given an emptied bucket of rate 2/s
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock)
    assert [bucket.take(), bucket.take(), bucket.take()] == [True, True, False]
    # When a quarter of a second passes, half a token is back: still refused
    clock.advance(0.25)
    assert bucket.take() is False
    # When another quarter passes, one whole token is back: served once
    clock.advance(0.25)
    assert [bucket.take(), bucket.take()] == [True, False]


def test_token_bucket_never_holds_more_than_its_burst():
    # Given a bucket idle for a long time
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock)
    clock.advance(3600)
    # When requests arrive at once / Then only the burst is served
    assert [bucket.take() for _ in range(3)] == [True, True, False]


# -- quota ---------------------------------------------------------------------------------------------


def test_daily_quota_refuses_past_its_limit_until_the_next_utc_day():
    # Given a quota of 3 requests a day, late in a UTC day
    moment = [datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)]
    quota = PeriodQuota(3, "DAY", now=lambda: moment[0])
    # When four requests arrive that day / Then the fourth is refused
    assert [quota.take() for _ in range(4)] == [True, True, True, False]
    # When the UTC day changes / Then the count starts again
    moment[0] += timedelta(seconds=31)
    assert quota.take() is True


def test_daily_quota_starts_again_at_midnight_utc_not_at_local_midnight():
    # Given a quota of one request a day, used at 23:00 UTC on 1 March
    new_york = timezone(timedelta(hours=-5))
    moments = [datetime(2026, 3, 1, 23, 0, tzinfo=UTC), datetime(2026, 3, 1, 20, 0, tzinfo=new_york)]
    quota = PeriodQuota(1, "DAY", now=lambda: moments.pop(0))
    # When the next request comes at 20:00 on 1 March in New York, already 2 March in UTC
    answers = [quota.take(), quota.take()]
    # Then it is served: a new UTC day
    assert answers == [True, True]


def test_weekly_quota_starts_again_on_sunday():
    # Given a weekly quota of one request, used on a Saturday (2026-03-07)
    moment = [datetime(2026, 3, 7, 12, 0, tzinfo=UTC)]
    quota = PeriodQuota(1, "WEEK", now=lambda: moment[0])
    assert [quota.take(), quota.take()] == [True, False]
    # When Sunday comes / Then it is a new week
    moment[0] += timedelta(days=1)
    assert quota.take() is True


def test_unknown_quota_period_is_refused():
    with pytest.raises(TemplateError):
        PeriodQuota(10, "HOUR")


# -- usage plans per API key -----------------------------------------------------------------------------


def test_each_api_key_has_its_own_bucket():
    # Given a plan of burst 1 and two keys
    plans = one_plan(UsagePlanSpec(rate=1, burst=1))
    # When each key sends twice at once
    answers = [plans.admit(key, CLIENT_ID) for key in ("key-a", "key-a", "key-b", "key-b")]
    # Then each key is served once and throttled once
    assert answers == [None, "THROTTLED", None, "THROTTLED"]


def test_a_request_without_api_key_or_with_a_key_in_no_plan_is_invalid_api_key():
    plans = UsagePlans(lambda api_key, principal_id: None, clock=FakeClock())
    assert plans.admit(None, CLIENT_ID) == "INVALID_API_KEY"
    assert plans.admit("", CLIENT_ID) == "INVALID_API_KEY"
    assert plans.admit("unknown-key", CLIENT_ID) == "INVALID_API_KEY"


def test_quota_exceeded_once_the_plans_quota_is_used():
    # Given a plan with a daily quota of 2 and a generous throttle
    plans = one_plan(UsagePlanSpec(rate=100, burst=100, quota_limit=2, quota_period="DAY"))
    # When a key sends three requests / Then the third exceeds the quota
    assert [plans.admit("key-a", CLIENT_ID) for _ in range(3)] == [None, None, "QUOTA_EXCEEDED"]


def test_throttled_requests_do_not_use_the_quota():
    # Given a plan of burst 1 with a daily quota of 2
    clock = FakeClock()
    plans = one_plan(UsagePlanSpec(rate=1, burst=1, quota_limit=2), clock)
    # When the key is throttled in between two served requests
    first, throttled = plans.admit("key-a", CLIENT_ID), plans.admit("key-a", CLIENT_ID)
    clock.advance(1)
    second = plans.admit("key-a", CLIENT_ID)
    # Then both served requests fit the quota, and only then is it exceeded
    assert (first, throttled, second) == (None, "THROTTLED", None)
    clock.advance(1)
    assert plans.admit("key-a", CLIENT_ID) == "QUOTA_EXCEEDED"


def test_a_keys_plan_is_looked_up_once():
    # Given a plan lookup that counts its calls
    calls: list[str] = []

    def plan_of(api_key: str, principal_id: str) -> UsagePlanSpec:
        calls.append(api_key)
        return UsagePlanSpec(rate=100, burst=100)

    plans = UsagePlans(plan_of, clock=FakeClock())
    # When one key sends three requests / Then its plan was looked up once
    for _ in range(3):
        plans.admit("key-a", CLIENT_ID)
    assert calls == ["key-a"]


# -- which plan holds a key, locally ---------------------------------------------------------------------


def stored_client(rate: float | None = None, burst: int | None = None, api_key: str = API_KEY) -> ClientRecord:
    return replace(client_record(CLIENT_ID, "sec_x"), rate=rate, burst=burst, api_key=api_key)


DEFAULT_PLAN = UsagePlanSpec(rate=50, burst=100, quota_limit=1000)


def test_a_client_with_its_own_rate_and_burst_has_its_own_plan():
    plans = ClientUsagePlans(DEFAULT_PLAN, FakeClientLookup(stored_client(rate=2, burst=2)))
    assert plans(API_KEY, CLIENT_ID) == UsagePlanSpec(rate=2, burst=2)


def test_a_client_without_its_own_limits_is_in_the_default_plan():
    plans = ClientUsagePlans(DEFAULT_PLAN, FakeClientLookup(stored_client()))
    assert plans(API_KEY, CLIENT_ID) == DEFAULT_PLAN


@pytest.mark.parametrize(
    ("records", "api_key"),
    [
        pytest.param((), API_KEY, id="unknown-client"),
        pytest.param((stored_client(),), "another-clients-key-" + "y" * 20, id="not-the-clients-key"),
        pytest.param((stored_client(api_key=""),), API_KEY, id="client-without-key"),
    ],
)
def test_a_key_that_is_not_the_named_clients_is_in_no_plan(records, api_key):
    plans = ClientUsagePlans(DEFAULT_PLAN, FakeClientLookup(*records))
    assert plans(api_key, CLIENT_ID) is None


# -- template: usage plans, CORS, gateway responses ------------------------------------------------------


def test_default_usage_plan_comes_from_the_templates_parameters(template, template_data):
    # Given the template's default plan parameters
    defaults = template.parameter_defaults()
    # When the default plan is read / Then it has their values, and no quota while DefaultDailyQuota is 0
    assert template.default_usage_plan() == UsagePlanSpec(
        rate=float(defaults["DefaultRateLimit"]), burst=int(defaults["DefaultBurstLimit"])
    )
    # And a daily quota once the parameter is set
    template_data["Parameters"]["DefaultDailyQuota"]["Default"] = 1000
    plan = template.default_usage_plan()
    assert plan is not None and (plan.quota_limit, plan.quota_period) == (1000, "DAY")


def test_preflight_routes_answer_the_cors_block_of_the_api(template, template_data):
    # Given the API's Cors block
    cors = template_data["Resources"]["BeaconApi"]["Properties"]["Cors"]
    # When the routes are read
    preflights = [route for route in template.routes() if route.method == "OPTIONS"]
    # Then every path with methods has a mock preflight, without authorizer or API key
    assert {route.path for route in preflights} == {route.path for route in template.routes()}
    for route in preflights:
        assert (route.function, route.authorizer, route.api_key_required) == (None, None, False)
        # And its headers are the Cors values, unquoted
        assert dict(route.mock_headers) == {
            "Access-Control-Allow-Origin": MappingExpression(static=cors["AllowOrigin"].strip("'")),
            "Access-Control-Allow-Headers": MappingExpression(static=cors["AllowHeaders"].strip("'")),
            "Access-Control-Allow-Methods": MappingExpression(static=cors["AllowMethods"].strip("'")),
            "Access-Control-Max-Age": MappingExpression(static=cors["MaxAge"].strip("'")),
        }


def test_preflight_gets_the_default_authorizer_and_api_key_unless_told_otherwise(template, template_data):
    # Given SAM's defaults for the preflight (AddDefaultAuthorizer/AddApiKeyRequiredToCorsPreflight: true)
    auth = template_data["Resources"]["BeaconApi"]["Properties"]["Auth"]
    del auth["AddDefaultAuthorizerToCorsPreflight"], auth["AddApiKeyRequiredToCorsPreflight"]
    # When the routes are read / Then the preflight needs the authorizer and an API key, like SAM makes it
    [preflight, *_] = [route for route in template.routes() if route.method == "OPTIONS"]
    assert (preflight.authorizer, preflight.api_key_required) == ("BeaconAuthorizer", True)


def test_preflight_lists_the_paths_methods_when_cors_names_none(template, template_data):
    # Given a Cors block without AllowMethods
    del template_data["Resources"]["BeaconApi"]["Properties"]["Cors"]["AllowMethods"]
    # When the routes are read / Then each preflight allows its path's methods and OPTIONS, as SAM lists them
    headers = {route.path: dict(route.mock_headers) for route in template.routes() if route.method == "OPTIONS"}
    assert headers["/track"]["Access-Control-Allow-Methods"] == MappingExpression(static="OPTIONS,POST")
    assert headers["/track/device-id"]["Access-Control-Allow-Methods"] == MappingExpression(static="GET,OPTIONS")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'*'", MappingExpression(static="*")),
        ("''", MappingExpression(static="")),
        ("method.request.header.Origin", MappingExpression(source="header", name="Origin")),
        ("method.request.querystring.q", MappingExpression(source="querystring", name="q")),
        ("stageVariables.origin", MappingExpression(source="stageVariables", name="origin")),
    ],
)
def test_mapping_expressions_are_static_quoted_values_or_request_parameters(value, expected):
    assert parse_mapping_expression(value) == expected


@pytest.mark.parametrize("value", ["*", "\\\"'*'\\\"", "'*", "method.response.header.Origin", "application/json"])
def test_an_unquoted_or_unknown_mapping_expression_is_refused_as_api_gateway_does(value):
    with pytest.raises(TemplateError):
        parse_mapping_expression(value)


def test_a_template_whose_gateway_response_has_an_invalid_header_value_is_refused(template, template_data):
    responses = template_data["Resources"]["BeaconApi"]["Properties"]["GatewayResponses"]
    responses["THROTTLED"]["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] = "\\\"'*'\\\""
    with pytest.raises(TemplateError, match="THROTTLED"):
        template.gateway_responses()


# -- the gateway: preflight, then authorizer → usage plan → integration --------------------------------


@pytest.mark.usefixtures("restored_environ")
def test_preflight_is_answered_by_the_gateway_without_authorizer_or_integration(template, template_data):
    # Given the gateway, with an authorizer that would refuse everyone
    authorizer, track = FakeFunction(Exception("Unauthorized")), FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, authorizer, track, one_plan(UsagePlanSpec(rate=1, burst=1)))
    cors = template_data["Resources"]["BeaconApi"]["Properties"]["Cors"]
    # When a browser preflights POST /track without credentials
    result = send(
        gateway, "OPTIONS", "/track", Origin="https://app.example.com", **{"Access-Control-Request-Method": "POST"}
    )
    # Then the gateway answers 200 with an empty body and the Cors headers, calling no function
    assert (result.status, result.body) == (200, b"")
    assert header(result, "Access-Control-Allow-Origin") == cors["AllowOrigin"].strip("'")
    assert header(result, "Access-Control-Allow-Headers") == cors["AllowHeaders"].strip("'")
    assert header(result, "Access-Control-Allow-Methods") == cors["AllowMethods"].strip("'")
    assert header(result, "Access-Control-Max-Age") == cors["MaxAge"].strip("'")
    assert authorizer.events == [] and track.events == []


@pytest.mark.usefixtures("restored_environ")
def test_preflight_of_an_unknown_path_is_the_missing_authentication_token_response(template):
    gateway = gateway_with(template, FakeFunction(allow()), FakeFunction(TRACK_ANSWER), one_plan(UsagePlanSpec()))
    result = send(gateway, "OPTIONS", "/nope")
    expected = template.gateway_responses()["MISSING_AUTHENTICATION_TOKEN"]
    assert (result.status, result.body.decode()) == (expected.status, expected.body)


@pytest.mark.usefixtures("restored_environ")
def test_requests_over_the_plans_burst_get_the_throttled_response_and_never_reach_the_function(template):
    # Given a client whose plan allows a burst of 1
    track = FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, FakeFunction(allow()), track, one_plan(UsagePlanSpec(rate=1, burst=1)))
    throttled = template.gateway_responses()["THROTTLED"]
    # When it sends two requests at once
    first, second = send(gateway), send(gateway)
    # Then the first reaches the function, with the key where API Gateway puts it
    assert first.status == 200 and len(track.events) == 1
    context = track.events[0]["requestContext"]
    assert context["identity"]["apiKey"] == API_KEY and "usageIdentifierKey" not in context["authorizer"]
    # And the second is the template's THROTTLED response, every header included
    assert (second.status, second.body.decode()) == (throttled.status, throttled.body)
    for name, expression in throttled.headers.items():
        assert header(second, name) == expression.static, name
    assert header(second, "Retry-After") is not None


@pytest.mark.usefixtures("restored_environ")
def test_an_authorizer_that_names_no_api_key_gets_the_invalid_api_key_response(template):
    track = FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, FakeFunction(allow(None)), track, one_plan(UsagePlanSpec(rate=1, burst=1)))
    result = send(gateway)
    expected = template.gateway_responses()["INVALID_API_KEY"]
    assert (result.status, result.body.decode()) == (expected.status, expected.body) == (403, expected.body)
    assert track.events == []


@pytest.mark.usefixtures("restored_environ")
def test_refused_credentials_use_no_token_of_the_usage_plan(template):
    # Given a plan of burst 1 and an authorizer that first refuses, then allows
    authorizer = FakeFunction(Exception("Unauthorized"))
    gateway = gateway_with(template, authorizer, FakeFunction(TRACK_ANSWER), one_plan(UsagePlanSpec(rate=1, burst=1)))
    # When a refused request comes first
    assert send(gateway).status == 401
    authorizer.answer = allow()
    # Then the next, authorized one still has its token
    assert send(gateway).status == 200


@pytest.mark.usefixtures("restored_environ")
def test_gateway_response_headers_may_echo_a_request_header(template, template_data):
    # Given a gateway response that maps its Access-Control-Allow-Origin from the request's Origin
    headers = template_data["Resources"]["BeaconApi"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]
    headers["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] = "method.request.header.Origin"
    gateway = gateway_with(
        template, FakeFunction(Exception("Unauthorized")), FakeFunction(TRACK_ANSWER), one_plan(UsagePlanSpec())
    )
    # When a refused request carries an Origin / Then the response echoes it; without one, it has none
    assert header(send(gateway, Origin="https://app.example.com"), "Access-Control-Allow-Origin") == (
        "https://app.example.com"
    )
    assert header(send(gateway), "Access-Control-Allow-Origin") is None


# -- a trailing slash, and the route without credentials -----------------------------------------------------------
@pytest.mark.usefixtures("restored_environ")
@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        ("POST", "/track/", "/track"),
        ("POST", "/track/batch/", "/track/batch"),
        ("GET", "/track/device-id/", "/track/device-id"),
        ("GET", "/profile/user_1/", "/profile/{profileId}"),
        ("GET", "/healthcheck/", "/healthcheck"),
    ],
)
def test_one_trailing_slash_is_served_by_the_resource_without_it_and_the_function_sees_the_path_as_sent(
    template, method, path, resource
):
    # Given the gateway
    track = FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, FakeFunction(allow()), track, one_plan(UsagePlanSpec()))
    gateway.functions["ReadFunction"] = track
    # When a request's path ends in a slash
    result = send(gateway, method, path)
    # Then the resource without it serves the request, as API Gateway routes it, with the path as it was sent
    assert result.status == 200
    [event] = track.events
    assert (event["resource"], event["path"], event["requestContext"]["resourcePath"]) == (resource, path, resource)
    if resource == "/profile/{profileId}":
        assert event["pathParameters"] == {"profileId": "user_1"}


@pytest.mark.usefixtures("restored_environ")
@pytest.mark.parametrize("path", ["/track//", "/trac/", "/track/batch/x/", "//"])
def test_only_one_trailing_slash_is_forgiven(template, path):
    track = FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, FakeFunction(allow()), track, one_plan(UsagePlanSpec()))
    result = send(gateway, "POST", path)
    expected = template.gateway_responses()["MISSING_AUTHENTICATION_TOKEN"]
    assert (result.status, result.body.decode()) == (expected.status, expected.body)
    assert track.events == []


def test_a_template_path_that_ends_in_a_slash_is_refused_as_api_gateway_refuses_it(template, template_data):
    # Given an extra event for /track/ (API Gateway already serves it with /track; a path part cannot end in /)
    events = template_data["Resources"]["TrackFunction"]["Properties"]["Events"]
    events["TrackSlash"] = copy.deepcopy(events["Track"])
    events["TrackSlash"]["Properties"]["Path"] = "/track/"
    # When the routes are read, Then the template is refused
    with pytest.raises(TemplateError, match="ends in a slash"):
        template.routes()


@pytest.mark.usefixtures("restored_environ")
def test_the_healthcheck_reaches_the_function_without_the_authorizer_or_an_api_key(template):
    # Given an authorizer that would refuse everyone, and a plan that would refuse every key
    authorizer, track = FakeFunction(Exception("Unauthorized")), FakeFunction(TRACK_ANSWER)
    gateway = gateway_with(template, authorizer, track, UsagePlans(lambda api_key, principal_id: None))
    # When GET /healthcheck comes without credentials
    result = send(gateway, "GET", "/healthcheck")
    # Then the track function answers it, and the authorizer never ran
    assert result.status == 200 and authorizer.events == []
    [event] = track.events
    assert "authorizer" not in event["requestContext"] and event["requestContext"]["identity"]["apiKey"] is None
    # And every other route still needs the authorizer
    assert send(gateway, "POST", "/track").status == 401
