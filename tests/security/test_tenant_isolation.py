"""Tenant isolation: nothing a client of project A sends, however it names project B (profile ids, groups,
B's own device id as __deviceId, projectId-looking properties and headers), writes anything to project B.
Every table of the template is searched for B's items afterwards."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.template import read_template
from tests.faults.private_stack import send

pytestmark = pytest.mark.e2e


def requests_naming(victim: str, victim_client: str, victim_device: str) -> list[dict[str, Any]]:
    spoof = {"projectId": victim, "__projectId": victim, "clientId": victim_client, "project": victim}
    return [
        {
            "type": "track",
            "projectId": victim,
            "payload": {
                "name": "spoofed",
                "profileId": "victim-user",
                "groups": ["victim-group"],
                "projectId": victim,
                "properties": {
                    **spoof,
                    "__deviceId": victim_device,
                    "__identify": {"profileId": "victim-user", "email": "victim@example.com"},
                },
            },
        },
        {"type": "identify", "payload": {"profileId": "victim-user", "firstName": "V", "properties": spoof}},
        {"type": "alias", "payload": {"profileId": "victim-user", "alias": "victim-alias"}},
        {"type": "increment", "payload": {"profileId": "victim-user", "property": "visits", "value": 1}},
        {"type": "group", "payload": {"id": "victim-group", "type": "company", "name": "V", "properties": spoof}},
        {"type": "assign_group", "payload": {"groupIds": ["victim-group"], "profileId": "victim-user"}},
    ]


def items_of(dynamodb: Any, project: str) -> list[dict[str, Any]]:
    """Every item, in every table of the template, keyed to or labelled with `project`."""
    found = []
    for table in read_template().tables():
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :prefix) OR pk = :project OR projectId = :project",
            ExpressionAttributeValues={":prefix": {"S": f"{project}#"}, ":project": {"S": project}},
            ConsistentRead=True,
        )
        found += [{"table": table, **item} for page in pages for item in page["Items"]]
    return found


def test_a_client_of_one_project_cannot_write_to_another(gateway_url, create_client, dynamodb, project_id):
    # Given a client of project A (the attacker) and of project B (the victim), and B's device id for this caller
    port = int(urlsplit(gateway_url).port or 0)
    victim = f"victim-{uuid.uuid4().hex[:12]}"
    attacker, victim_client = create_client(project_id), create_client(victim)

    def headers(client: dict[str, str]) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json"),
            ("openpanel-client-id", client["clientId"]),
            ("openpanel-client-secret", client["clientSecret"]),
            ("openpanel-project-id", victim),
            ("x-project-id", victim),
            ("User-Agent", "curl/8.5.0"),
        ]

    victim_ids = send(port, "GET", "/track/device-id", headers=headers(victim_client)).json()
    spoofed = requests_naming(victim, victim_client["clientId"], victim_ids["deviceId"])
    assert items_of(dynamodb, victim) == []  # reading B's ids stored nothing

    # When A sends every request type naming B, one by one and as a batch, and asks for its own ids
    answers = [send(port, "POST", "/track", json.dumps(body).encode(), headers=headers(attacker)) for body in spoofed]
    answers.append(
        send(port, "POST", "/track/batch", json.dumps({"batch": spoofed}).encode(), headers=headers(attacker))
    )
    answers.append(send(port, "GET", "/track/device-id", headers=headers(attacker)))

    # Then A's requests were accepted, in A's project
    assert [answer.status for answer in answers] == [200] * len(answers), [answer.body for answer in answers]
    assert {item["table"] for item in items_of(dynamodb, project_id)} >= {"EventsTable", "EntitiesTable"}
    # And project B holds nothing at all: no event, profile, alias, group, session or idempotency record
    assert items_of(dynamodb, victim) == []
