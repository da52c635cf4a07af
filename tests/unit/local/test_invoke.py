"""`make invoke` as a newcomer meets it: errors that say what to do, never a traceback (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

import local.invoke as invoke
import local.stack


@pytest.fixture
def no_stack_no_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No local stack running (no run.json) and no AWS configuration at all."""
    monkeypatch.setattr(local.stack, "RUN_FILE", tmp_path / "run.json")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # not the instance's region either
    # And no AWS client that an earlier test of this process made (with its region) cached in the layer
    import beacon.store.aws as aws

    for cached in (aws.dynamodb_client, aws.secretsmanager_client):
        cached.cache_clear()


def test_a_missing_event_file_names_the_shipped_events(no_stack_no_region: None) -> None:
    # When the event file does not exist
    with pytest.raises(SystemExit) as stopped:
        invoke.main(["track", "events/no-such-event.json"])
    # Then the error says so and lists the events to choose from
    message = str(stopped.value.code)
    assert message.startswith("error: no event file events/no-such-event.json")
    assert "events/track.json" in message and "events/authorizer.json" in message


def test_without_a_local_stack_or_a_region_it_says_to_start_make_run(no_stack_no_region: None) -> None:
    # When the track function is invoked with no stack running and no region configured
    with pytest.raises(SystemExit) as stopped:
        invoke.main(["track", "events/track.json"])
    # Then the error says to start `make run` (it was botocore's NoRegionError traceback)
    assert "start `make run`" in str(stopped.value.code)
