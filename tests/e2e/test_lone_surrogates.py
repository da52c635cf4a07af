"""Lone surrogates (`"\\ud800"`, what a JavaScript string cut inside an emoji becomes under JSON.stringify) over
HTTP: one policy on every entry point (each becomes U+FFFD before anything is stored), and reads that survive
what was stored before that policy existed. Issue 15, findings 1 and 4."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from beacon.store.dynamodb import serialize_item
from beacon.store.events import event_to_item
from tests.e2e.test_read_api import Answer, call, credentials

pytestmark = pytest.mark.e2e

LONE = "\\ud800"  # as it travels in JSON: an escape of half a surrogate pair
REPLACEMENT = "\ufffd"


def post(gateway_url: str, client: dict[str, str], path: str, raw: str) -> Answer:
    headers = {**credentials(client), "Content-Type": "application/json"}
    return call(f"{gateway_url}{path}", "POST", raw, headers)


def exported(gateway_url: str, reader: dict[str, str]) -> list[dict[str, Any]]:
    answer = call(f"{gateway_url}/export/events", headers=credentials(reader))
    assert answer.status == 200, answer.body
    return [event for event in answer.body["data"] if event["name"] != "session_start"]


def test_a_lone_surrogate_is_stored_as_the_replacement_character_on_track_and_batch_alike(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given a write client and a read client
    writer, reader = create_client(project_id, "write"), create_client(project_id, "read")

    # When the same lone surrogate arrives in a value and in a property name, on /track and in a batch
    single = '{"type":"track","payload":{"name":"one","properties":{"k":"a' + LONE + '","' + LONE + 'n":1}}}'
    item = '{"type":"track","payload":{"name":"two","properties":{"k":"a' + LONE + '","' + LONE + 'n":1}}}'
    track = post(gateway_url, writer, "/track", single)
    batch = post(gateway_url, writer, "/track/batch", '{"batch":[' + item + "]}")

    # Then both are accepted, and both events hold U+FFFD where the surrogate was, in keys and values alike
    assert (track.status, batch.status) == (200, 200), (track.body, batch.body)
    assert batch.body["accepted"] == 1
    events = {event["name"]: event["properties"] for event in exported(gateway_url, reader)}
    assert events["one"] == events["two"] == {"k": "a" + REPLACEMENT, REPLACEMENT + "n": 1}


def test_every_request_type_stores_the_replacement_and_the_profile_stays_readable(
    gateway_url: str, create_client: Callable[..., dict[str, str]], project_id: str
) -> None:
    # Given identify, group and a batch item whose __identify carries lone surrogates (once a 503 for the batch)
    writer, reader = create_client(project_id, "write"), create_client(project_id, "read")
    identify = '{"type":"identify","payload":{"profileId":"u1","firstName":"J' + LONE + '"}}'
    group = '{"type":"group","payload":{"id":"g1","type":"company","name":"Acme' + LONE + '"}}'
    marked = '{"__identify":{"profileId":"u2","properties":{"' + LONE + '":"' + LONE + '"}}}'
    item = '{"type":"track","payload":{"name":"signed_up","properties":' + marked + "}}"

    # When each is sent
    answers = [
        post(gateway_url, writer, "/track", identify),
        post(gateway_url, writer, "/track", group),
        post(gateway_url, writer, "/track/batch", '{"batch":[' + item + "]}"),
    ]

    # Then each is accepted and what it stored reads back with U+FFFD
    assert [answer.status for answer in answers] == [200, 200, 200], [answer.body for answer in answers]
    assert answers[2].body["accepted"] == 1
    profile = call(f"{gateway_url}/profile/u1?projectId={project_id}", headers=credentials(reader))
    assert profile.status == 200 and profile.body["firstName"] == "J" + REPLACEMENT
    second = call(f"{gateway_url}/profile/u2", headers=credentials(reader))
    assert second.status == 200 and second.body["properties"] == {REPLACEMENT: REPLACEMENT}
    company = call(f"{gateway_url}/group/g1", headers=credentials(reader))
    assert company.status == 200 and company.body["name"] == "Acme" + REPLACEMENT


def test_what_was_stored_before_the_policy_still_reads_as_200(
    gateway_url: str,
    create_client: Callable[..., dict[str, str]],
    project_id: str,
    dynamodb: Any,
    template_env: dict[str, str],
) -> None:
    # Given an event and a profile stored with lone surrogates in their values, as an earlier Beacon let a batch
    # store them (DynamoDB Local refuses them in attribute names and map keys, so only values can be there)
    from beacon.domain.entities import Event

    reader = create_client(project_id, "read")
    now = datetime.now(UTC)
    event = Event(
        id=f"{int(now.timestamp() * 1000):012x}00000000deadbeef",
        project_id=project_id,
        client_id="c",
        name="legacy",
        properties={"k": "\ud800", "l": ["x\ud83d"]},
        profile_id="u9",
        groups=None,
        device_id="d",
        session_id="s",
        created_at=now,
        received_at=now,
    )
    dynamodb.put_item(TableName=template_env["EVENTS_TABLE"], Item=event_to_item(event, 30))
    profile = {"pk": f"{project_id}#profile#u9", "firstName": "\udbff", "p:v": "\ud800"}
    dynamodb.put_item(TableName=template_env["ENTITIES_TABLE"], Item=serialize_item(profile))

    # When the project's events and the profile are read
    events = exported(gateway_url, reader)
    answer = call(f"{gateway_url}/profile/u9", headers=credentials(reader))

    # Then both answer 200, the surrogates read as U+FFFD
    assert [e["properties"] for e in events] == [{"k": REPLACEMENT, "l": ["x" + REPLACEMENT]}]
    assert answer.status == 200, answer.body
    assert (answer.body["firstName"], answer.body["properties"]) == (REPLACEMENT, {"v": REPLACEMENT})
