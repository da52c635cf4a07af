"""Where the operator's commands find a deployed stack's tables and buckets: its outputs, each naming the resource
the functions know by an environment variable (admin/tables.py). A command with --stack-name that asks for an
output the template does not declare fails in AWS only, which no local test would show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from admin import tables
from admin.privacy import erasure_tables
from local.template import read_template
from tests.constants import ROOT

# table_name("ENV_VAR", "OutputKey", ...) in the admin commands' source
TABLE_NAME_CALL = re.compile(r'table_name\(\s*"([A-Z_]+)",\s*"(\w*)"')


def test_every_output_a_command_asks_for_names_what_the_functions_use_under_that_variable() -> None:
    # Given every (variable, output) pair an admin command resolves
    calls = {pair for path in (ROOT / "admin").glob("*.py") for pair in TABLE_NAME_CALL.findall(path.read_text())}
    assert ("REPLAYS_TABLE", "ReplaysTableName") in calls and ("IDEMPOTENCY_TABLE", "IdempotencyTableName") in calls
    template = read_template()
    outputs = template.data["Outputs"]
    environment = template.functions()["TrackFunction"].environment
    for variable, output in sorted(calls):
        # Then the template outputs it, as the same resource the track function is given
        assert output in outputs, f"template.yaml has no output {output} (asked for {variable})"
        assert environment[variable] == template.resolve(outputs[output]["Value"]), output


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.calls = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls += 1
        entries = [{"OutputKey": key, "OutputValue": value} for key, value in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": entries}]}


DEPLOYED = {
    "EventsTableName": "prod-Events",
    "EntitiesTableName": "prod-Entities",
    "SessionsTableName": "prod-Sessions",
    "RejectedEventsTableName": "prod-Rejected",
    "ReplaysTableName": "prod-Replays",
    "ReplayBucketName": "prod-replay-bucket",
}


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudFormation]:
    fake = FakeCloudFormation(dict(DEPLOYED))
    monkeypatch.setattr("boto3.client", lambda service, *args, **kwargs: fake)
    tables.stack_outputs.cache_clear()
    yield fake
    tables.stack_outputs.cache_clear()


def test_an_erasure_on_a_deployed_stack_reaches_its_replays_table_and_bucket(cloudformation) -> None:
    # When the erasure's stores are resolved for a deployed stack
    found = erasure_tables("prod")
    # Then the replay chunks are among them, from the stack's outputs, read with one DescribeStacks
    assert (found.replays, found.replay_bucket) == ("prod-Replays", "prod-replay-bucket")
    assert (found.events, found.sessions) == ("prod-Events", "prod-Sessions")
    assert cloudformation.calls == 1


def test_a_stack_deployed_before_the_replay_outputs_is_refused_not_half_erased(cloudformation) -> None:
    # Given a stack of an older template, which outputs no replay table
    del cloudformation.outputs["ReplaysTableName"]
    # Then the command stops before erasing anything, and says what to do
    with pytest.raises(SystemExit, match="no output ReplaysTableName; deploy this version"):
        erasure_tables("old")
