"""OpenPanel's own cURL examples, replayed over HTTP through the local gateway in the order of their docs,
with what they stored read straight from DynamoDB Local.

Each test replays its document from the first example up to the one it checks, in a fresh project,
so a failure names the example that broke and every example runs after the ones the doc puts before it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from beacon.store.profiles import DynamoDBProfileStore

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Example:
    section: str  # the doc's heading above the cURL command
    body: str  # the `-d '...'` JSON, as in the doc
    status: int = 200


# OpenPanel's apps/public/content/docs/api/track.mdx, "Usage".
# Bodies verbatim from each section's cURL command.
TRACK_MDX = [
    Example(
        "Tracking Events",
        """{
"type": "track",
"payload": {
"name": "my_event",
"properties": {
"foo": "bar"
}
}
}""",
    ),
    Example(
        "Identifying Users",
        """{
"type": "identify",
"payload": {
"profileId": "123",
"firstName": "Joe",
"lastName": "Doe",
"email": "joe@doe.com",
"properties": {
"tier": "premium"
}
}
}""",
    ),
    Example(
        "Incrementing Properties",
        """{
"type": "increment",
"payload": {
"profileId": "1",
"property": "visits",
"value": 1
}
}""",
    ),
    Example(
        "Decrementing Properties",
        """{
"type": "decrement",
"payload": {
"profileId": "1",
"property": "visits",
"value": 1
}
}""",
    ),
    Example(
        "Creating or updating a group",
        """{
"type": "group",
"payload": {
"id": "org_acme",
"type": "company",
"name": "Acme Inc",
"properties": {
"plan": "enterprise",
"seats": 25
}
}
}""",
    ),
    Example(
        "Assigning a user to a group",
        """{
"type": "assign_group",
"payload": {
"profileId": "user_123",
"groupIds": ["org_acme"]
}
}""",
    ),
    Example(
        "Tracking events with groups",
        """{
"type": "track",
"payload": {
"name": "report_exported",
"profileId": "user_123",
"groups": ["org_acme"],
"properties": {
"format": "pdf"
}
}
}""",
    ),
]

# The rendered "OpenPanel REST API with cURL" page, sections
# "Tracking Events" … "Decrementing Properties". The scrape cut each body after its innermost value; the
# closing braces are restored, nothing else is changed. Its identify carries "[email protected]", Cloudflare's
# email-obfuscation placeholder, sent verbatim: not an address, so the API answers 400.
REST_PAGE = [
    Example(
        "Tracking Events",
        """{
  "type": "track",
  "payload": {
    "name": "my_event",
    "properties": {
      "foo": "bar"
    }
  }
}""",
    ),
    Example(
        "Identifying Users",
        """{
  "type": "identify",
  "payload": {
    "profileId": "123",
    "firstName": "Joe",
    "lastName": "Doe",
    "email": "[email protected]",
    "properties": {
      "tier": "premium"
    }
  }
}""",
        status=400,
    ),
    Example(
        "Creating Aliases",
        """{
  "type": "alias",
  "payload": {
    "profileId": "1",
    "alias": "a1"
  }
}""",
    ),
    Example(
        "Incrementing Properties",
        """{
  "type": "increment",
  "payload": {
    "profileId": "1",
    "property": "visits",
    "value": 1
  }
}""",
    ),
    Example(
        "Decrementing Properties",
        """{
  "type": "decrement",
  "payload": {
    "profileId": "1",
    "property": "visits",
    "value": 1
  }
}""",
    ),
]


def through(doc: list[Example], section: str) -> list[Example]:
    """The doc's examples from the first up to and including `section`."""
    sections = [example.section for example in doc]
    return doc[: sections.index(section) + 1]


def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


Send = Callable[[str], tuple[int, Any]]
Replay = Callable[[list[Example]], list[Any]]


@pytest.fixture
def send(gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str) -> Send:
    """POST /track as the cURL examples do: JSON body, a client id and its secret (curl's user agent)."""
    client = create_client(project_id)
    headers = {
        "Content-Type": "application/json",
        "openpanel-client-id": client["clientId"],
        "openpanel-client-secret": client["clientSecret"],
        "User-Agent": "curl/8.5.0",
    }
    return lambda body: post(f"{gateway_url}/track", body, headers)


@pytest.fixture
def replay(send: Send) -> Replay:
    """Sends examples in order, checks each got the status the doc's example gets, returns the answers."""

    def run(examples: list[Example]) -> list[Any]:
        answers = []
        for example in examples:
            status, answer = send(example.body)
            assert status == example.status, (example.section, answer)
            if status == 200:
                assert set(answer) == {"deviceId", "sessionId"}, (example.section, answer)
            answers.append(answer)
        return answers

    return run


@pytest.fixture
def profiles(dynamodb: Any, template_env: dict[str, str]) -> DynamoDBProfileStore:
    return DynamoDBProfileStore(template_env["ENTITIES_TABLE"], client=dynamodb)


def only_profile(profiles: DynamoDBProfileStore, project_id: str, profile_id: str) -> dict[str, Any]:
    profile = profiles.get_profile(project_id, profile_id)
    assert profile is not None, f"profile {profile_id!r} was not stored"
    return profile


# -- track.mdx (seed 000) ---------------------------------------------------------------------------------------


def test_mdx_track_example_stores_my_event_with_its_properties(replay, project_id, stored_events):
    # Given a client of a fresh project, When the doc's track example is sent
    [answer] = replay(through(TRACK_MDX, "Tracking Events"))
    # Then one anonymous event is stored with the example's properties and the answered ids
    [event] = stored_events(project_id)
    assert (event["name"], event["properties"]) == ("my_event", {"foo": "bar"})
    assert (event["deviceId"], event["sessionId"]) == (answer["deviceId"], answer["sessionId"])
    assert "profileId" not in event and "groups" not in event


def test_mdx_identify_example_creates_profile_123(replay, project_id, profiles, stored_events):
    # Given the doc's examples up to identify, When they are sent
    replay(through(TRACK_MDX, "Identifying Users"))
    # Then profile 123 holds the example's fields and properties, and identify stored no event of its own
    profile = only_profile(profiles, project_id, "123")
    assert (profile["firstName"], profile["lastName"], profile["email"]) == ("Joe", "Doe", "joe@doe.com")
    assert profile["properties"] == {"tier": "premium"}
    assert [event["name"] for event in stored_events(project_id)] == ["my_event"]


def test_mdx_increment_example_starts_visits_of_profile_1_at_1(replay, project_id, profiles):
    # Given the doc's examples up to increment (profile 1 does not exist before), When they are sent
    replay(through(TRACK_MDX, "Incrementing Properties"))
    # Then profile 1 was created with visits counted from 0
    assert only_profile(profiles, project_id, "1")["properties"] == {"visits": 1}


def test_mdx_decrement_example_brings_visits_back_to_0(replay, project_id, profiles):
    # Given the doc's examples up to decrement, When they are sent
    replay(through(TRACK_MDX, "Decrementing Properties"))
    # Then the increment and the decrement cancel out
    assert only_profile(profiles, project_id, "1")["properties"] == {"visits": 0}


def test_mdx_group_example_creates_org_acme(replay, project_id, profiles):
    # Given the doc's examples up to the group, When they are sent
    replay(through(TRACK_MDX, "Creating or updating a group"))
    # Then the group is stored with its type, name and properties
    group = profiles.get_group(project_id, "org_acme")
    assert group is not None
    assert (group["type"], group["name"]) == ("company", "Acme Inc")
    assert group["properties"] == {"plan": "enterprise", "seats": 25}


def test_mdx_assign_group_example_puts_org_acme_in_user_123s_groups(replay, project_id, profiles):
    # Given the doc's examples up to assign_group, When they are sent
    replay(through(TRACK_MDX, "Assigning a user to a group"))
    # Then user_123's profile lists the group
    assert only_profile(profiles, project_id, "user_123")["groups"] == ["org_acme"]


def test_mdx_track_with_groups_example_stores_the_groups_exactly_as_sent(replay, project_id, stored_events):
    # Given every example of the doc, When they are sent in order
    replay(TRACK_MDX)
    # Then report_exported carries its profile and exactly the groups it was sent with,
    # and the earlier event got none filled in (groups are never auto-populated)
    my_event, report = stored_events(project_id)
    assert (report["name"], report["profileId"]) == ("report_exported", "user_123")
    assert report["groups"] == ["org_acme"]
    assert report["properties"] == {"format": "pdf"}
    assert my_event["name"] == "my_event" and "groups" not in my_event


# -- the REST page (seed 001) -----------------------------------------------------------------------------------


def test_rest_page_track_example_stores_my_event_with_its_properties(replay, project_id, stored_events):
    # Given a client of a fresh project, When the page's track example is sent
    replay(through(REST_PAGE, "Tracking Events"))
    # Then the event is stored with the example's properties
    [event] = stored_events(project_id)
    assert (event["name"], event["properties"]) == ("my_event", {"foo": "bar"})


def test_rest_page_identify_with_the_obfuscated_email_is_400_and_stores_nothing(
    send, replay, project_id, profiles, stored_events
):
    # Given the page's examples before identify
    replay(through(REST_PAGE, "Tracking Events"))
    # When its identify is sent verbatim, "[email protected]" placeholder included
    status, answer = send(through(REST_PAGE, "Identifying Users")[-1].body)
    # Then it is refused naming the email field, and neither a profile nor an event is stored.
    # (The track.mdx seed carries the real address, joe@doe.com, and is accepted above.)
    assert (status, answer["status"]) == (400, 400)
    assert "payload.email" in [detail["field"] for detail in answer["details"]]
    assert profiles.get_profile(project_id, "123") is None
    assert [event["name"] for event in stored_events(project_id)] == ["my_event"]


def test_rest_page_alias_example_resolves_a1_to_profile_1(replay, project_id, profiles):
    # Given the page's examples up to the alias, When they are sent
    replay(through(REST_PAGE, "Creating Aliases"))
    # Then a1 resolves to profile 1, which lists it
    assert profiles.resolve_profile_id(project_id, "a1") == "1"
    assert only_profile(profiles, project_id, "1")["aliases"] == ["a1"]


def test_rest_page_increment_example_counts_on_profile_1(replay, project_id, profiles):
    replay(through(REST_PAGE, "Incrementing Properties"))
    assert only_profile(profiles, project_id, "1")["properties"] == {"visits": 1}


def test_rest_page_decrement_example_brings_visits_back_to_0(replay, project_id, profiles):
    replay(through(REST_PAGE, "Decrementing Properties"))
    assert only_profile(profiles, project_id, "1")["properties"] == {"visits": 0}


def test_increment_sent_under_an_alias_lands_on_the_aliased_profile(send, replay, project_id, profiles):
    # Given every example of the page (a1 is an alias of 1, whose visits are back at 0)
    replay(REST_PAGE)
    # When an increment is sent with profileId a1
    status, _ = send(json.dumps({"type": "increment", "payload": {"profileId": "a1", "property": "visits"}}))
    # Then it counts on profile 1, and no profile a1 is created
    assert status == 200
    assert only_profile(profiles, project_id, "1")["properties"] == {"visits": 1}
    assert profiles.get_profile(project_id, "a1") is None


# -- reserved properties and aliases on track events ------------------------------------------------------------


def test_track_event_under_an_alias_is_stored_under_the_aliased_profile(send, replay, project_id, stored_events):
    # Given a1 aliased to 1 (the page's alias example)
    replay([example for example in REST_PAGE if example.section == "Creating Aliases"])
    # When an event is tracked with profileId a1
    status, _ = send(json.dumps({"type": "track", "payload": {"name": "login", "profileId": "a1"}}))
    # Then it is stored under profile 1
    assert status == 200
    [event] = stored_events(project_id)
    assert (event["name"], event["profileId"]) == ("login", "1")


def test_identify_property_on_a_track_event_updates_the_profile_and_is_not_stored(
    send, project_id, profiles, stored_events
):
    # Given a client of a fresh project
    body = {
        "type": "track",
        "payload": {"name": "signup", "profileId": "p-1", "properties": {"__identify": {"firstName": "Ada"}, "x": 1}},
    }
    # When an event carrying __identify is tracked
    status, _ = send(json.dumps(body))
    # Then profile p-1 is created with the name, and the event is stored without the reserved key
    assert status == 200
    assert only_profile(profiles, project_id, "p-1")["firstName"] == "Ada"
    [event] = stored_events(project_id)
    assert event["profileId"] == "p-1"
    assert event["properties"] == {"x": 1}


def test_identify_property_on_a_track_event_merges_into_an_existing_profile(send, project_id, profiles, stored_events):
    # Given profile p-1 identified with a last name and a property
    identify = {"type": "identify", "payload": {"profileId": "p-1", "lastName": "Lovelace", "properties": {"a": 1}}}
    assert send(json.dumps(identify))[0] == 200
    # When an event carrying __identify with a first name is tracked for it
    body = {
        "type": "track",
        "payload": {"name": "login", "profileId": "p-1", "properties": {"__identify": {"firstName": "Ada"}}},
    }
    assert send(json.dumps(body))[0] == 200
    # Then the profile holds both names and keeps its property
    profile = only_profile(profiles, project_id, "p-1")
    assert (profile["firstName"], profile["lastName"]) == ("Ada", "Lovelace")
    assert profile["properties"] == {"a": 1}
    [event] = stored_events(project_id)
    assert event["properties"] == {}


def test_revenue_sent_with_a_secret_is_stored_as_the_events_revenue(send, project_id, stored_events):
    # Given a client authenticating with its secret (as every request here does)
    body = {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": 100, "sku": "a"}}}
    # When a `revenue` event with __revenue is tracked
    status, _ = send(json.dumps(body))
    # Then the revenue is the event's own attribute, not one of its properties
    assert status == 200
    [event] = stored_events(project_id)
    assert event["revenue"] == 100
    assert event["properties"] == {"sku": "a"}


def test_revenue_on_an_event_not_named_revenue_is_not_counted(send, project_id, stored_events):
    # Given a server sending __revenue on an event of another name (OpenPanel counts only `revenue` events)
    body = {"type": "track", "payload": {"name": "purchase", "properties": {"__revenue": 100, "sku": "a"}}}
    # When it is tracked
    status, _ = send(json.dumps(body))
    # Then the event is stored without revenue, and __revenue is not kept as a property either
    assert status == 200
    [event] = stored_events(project_id)
    assert event.get("revenue") is None
    assert event["properties"] == {"sku": "a"}
