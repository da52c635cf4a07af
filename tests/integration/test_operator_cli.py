"""`beacon projects filters` and `beacon rejected list` against the running (test) stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from admin.__main__ import main as beacon
from beacon.domain.rejections import RejectedEvent
from beacon.store.rejected import DynamoDBRejectedEventStore

pytestmark = pytest.mark.integration


def test_filters_are_changed_and_shown(state_dir, project_id, capsys):
    # When an operator blocks a network and a profile, then unblocks the profile
    beacon(["projects", "filters", "--project", project_id, "--block-ip", "203.0.113.9/24", "--block-profile", "u1"])
    capsys.readouterr()
    beacon(["projects", "filters", "--project", project_id, "--unblock-profile", "u1"])
    # Then the filters as stored now are printed (networks normalized)
    shown = json.loads(capsys.readouterr().out)
    assert shown == {
        "projectId": project_id,
        "blockedIps": ["203.0.113.0/24"],
        "blockedProfileIds": [],
        "allowUnsafeRevenueTracking": False,
    }


def test_unsafe_revenue_tracking_is_switched_on_and_off(state_dir, project_id, capsys):
    # When an operator allows browser revenue for a project
    beacon(["projects", "filters", "--project", project_id, "--allow-unsafe-revenue-tracking"])
    # Then the switch is shown on, and the filters are untouched
    shown = json.loads(capsys.readouterr().out)
    assert (shown["allowUnsafeRevenueTracking"], shown["blockedIps"]) == (True, [])
    # And switching it off shows it off; a command without the option leaves it as it is
    beacon(["projects", "filters", "--project", project_id, "--no-allow-unsafe-revenue-tracking"])
    assert json.loads(capsys.readouterr().out)["allowUnsafeRevenueTracking"] is False
    beacon(["projects", "filters", "--project", project_id])
    assert json.loads(capsys.readouterr().out)["allowUnsafeRevenueTracking"] is False


def test_a_malformed_network_is_refused(state_dir, project_id):
    with pytest.raises(SystemExit):
        beacon(["projects", "filters", "--project", project_id, "--block-ip", "not-a-network"])


def test_rejected_events_are_listed_newest_first(state_dir, project_id, dynamodb, template_env, capsys):
    # Given two rejected events of the project
    store = DynamoDBRejectedEventStore(template_env["REJECTED_EVENTS_TABLE"], client=dynamodb)
    for second, reason in ((1, "older"), (2, "newer")):
        store.put_rejected(
            [
                RejectedEvent(
                    project_id=project_id,
                    client_id="c-1",
                    reason=reason,
                    status=400,
                    received_at=datetime(2026, 11, 22, 12, 0, second, tzinfo=UTC),
                    payload='{"type": "track"}',
                    details=[{"field": "payload.name", "message": "Field required", "type": "missing"}],
                )
            ]
        )
    # When the operator lists them
    beacon(["rejected", "list", "--project", project_id])
    listed = json.loads(capsys.readouterr().out)
    # Then they come newest first, with reason, details and payload
    assert [entry["reason"] for entry in listed] == ["newer", "older"]
    assert listed[0]["details"][0]["field"] == "payload.name"
    assert listed[0]["projectId"] == project_id and listed[0]["payload"] == '{"type": "track"}'
    # And its numbers print as JSON numbers, not strings
    assert listed[0]["status"] == 400


def test_invoking_the_authorizer_with_an_unknown_client_says_to_create_one(state_dir, monkeypatch):
    # Given the running (test) stack, and an environment the invocation may change (it sets the function's)
    import os

    import local.invoke

    saved = dict(os.environ)
    # When the shipped authorizer event (whose client is not one of this stack's) is invoked
    try:
        with pytest.raises(SystemExit) as stopped:
            local.invoke.main(["authorizer", "events/authorizer.json"])
    finally:  # the real environment restored (the function reads os.environ itself, so it cannot be swapped out)
        os.environ.clear()
        os.environ.update(saved)
    # Then the error explains the 401 and how to get a client, instead of a traceback ending in "Unauthorized"
    message = str(stopped.value.code)
    assert "401 Unauthorized" in message and "make client" in message


def test_make_events_writes_an_authorizer_event_the_running_stack_allows(state_dir, tmp_path, capsys):
    # Given the running (test) stack
    import os

    import local.invoke
    import local.sam_events

    env_file, event_file = tmp_path / "env.json", tmp_path / "events" / "authorizer.json"
    saved = dict(os.environ)
    # When `make events` runs, and the authorizer is invoked on the event it wrote
    try:
        local.sam_events.main(["--env-file", str(env_file), "--event-out", str(event_file)])
        capsys.readouterr()
        local.invoke.main(["authorizer", str(event_file)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # Then the new client is allowed, and env.json points each function at this stack's services
    policy = json.loads(capsys.readouterr().out)
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    state = json.loads((state_dir / "run.json").read_text())
    assert json.loads(env_file.read_text())["TrackFunction"]["AWS_ENDPOINT_URL_DYNAMODB"] == (
        f"http://127.0.0.1:{state['dynamodbPort']}"
    )
    assert oct(event_file.stat().st_mode & 0o777) == "0o600"  # it holds a secret
