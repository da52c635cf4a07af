"""The local stack with BodyCredentials (docs/DESIGN.md §50): a parameter set from the environment, the template's own
API key in its usage plan, and the local gateway's plans for it (no sockets)."""

from __future__ import annotations

import pytest

from local.gateway import ClientUsagePlans, UsagePlans
from local.stack import parameter_overrides
from local.template import LOCAL_STACK_UUID, TemplateError, UsagePlanSpec, read_template
from tests.constants import CLIENT_ID
from tests.unit.support.fakes import FakeClientLookup, FakeClock, client_record

SHARED_KEY = f"beacon-body-credentials-{LOCAL_STACK_UUID}"


def test_the_environment_sets_the_body_credentials_parameter_and_nothing_else() -> None:
    assert parameter_overrides({"BEACON_BODY_CREDENTIALS": "true", "BEACON_OTHER": "x"}) == {"BodyCredentials": "true"}
    assert parameter_overrides({"BEACON_BODY_CREDENTIALS": ""}) == {}
    assert parameter_overrides({}) == {}


def test_an_override_must_be_a_declared_parameter_with_an_allowed_value() -> None:
    with pytest.raises(TemplateError, match="BodyCredentials must be one of"):
        read_template(overrides={"BodyCredentials": "yes"})
    with pytest.raises(TemplateError, match="no parameter NoSuchParameter"):
        read_template(overrides={"NoSuchParameter": "1"})


def test_by_default_there_is_no_shared_key_and_the_functions_are_told_so() -> None:
    template = read_template()
    functions = template.functions()
    assert template.api_key_plans() == {}
    assert functions["AuthorizerFunction"].environment["BODY_CREDENTIALS_API_KEY"] == ""
    assert functions["TrackFunction"].environment["BODY_CREDENTIALS"] == "false"


def test_with_body_credentials_the_shared_key_is_in_its_own_plan_and_the_authorizer_names_it() -> None:
    # Given the template with BodyCredentials "true"
    template = read_template(overrides={"BodyCredentials": "true"})
    functions = template.functions()
    # Then the authorizer names the one key, derived from the stack id, that its plan holds
    assert functions["AuthorizerFunction"].environment["BODY_CREDENTIALS_API_KEY"] == SHARED_KEY
    assert template.api_key_plans() == {SHARED_KEY: UsagePlanSpec(rate=50.0, burst=100)}
    # And the track function authenticates bodies from the authorizer's client records and id key
    track, authorizer = functions["TrackFunction"].environment, functions["AuthorizerFunction"].environment
    assert track["BODY_CREDENTIALS"] == "true"
    for name in ("CLIENT_SECRET_PREFIX", "CLIENT_ID_KEY_SECRET", "CLIENT_CACHE_SECONDS"):
        assert track[name] == authorizer[name], name
    # And the default plan is still the clients' (DefaultUsagePlanId)
    assert template.default_usage_plan() == UsagePlanSpec(rate=50.0, burst=100)


def test_every_body_credential_request_shares_one_throttle_whoever_sent_it() -> None:
    # Given the gateway's plans with the shared key in a plan of burst 2, beside a stored client
    clients = FakeClientLookup(client_record(CLIENT_ID, "sec_x"))
    key_plans = ClientUsagePlans(None, clients, {SHARED_KEY: UsagePlanSpec(rate=0.001, burst=2)})
    plans = UsagePlans(key_plans, clock=FakeClock())
    # When three requests come under the shared key (the principal is the shared one, never a client)
    answers = [plans.admit(SHARED_KEY, "body-credentials") for _ in range(3)]
    # Then the third is throttled: one bucket for them all, found with no client lookup
    assert answers == [None, None, "THROTTLED"]
    assert clients.lookups == []
    # And a key that is neither the template's nor a client's is in no plan
    assert plans.admit("made-up-key-" + "x" * 20, "body-credentials") == "INVALID_API_KEY"
