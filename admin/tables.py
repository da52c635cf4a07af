"""Where a Beacon table is: the running local stack's (from template.yaml) or a deployed stack's output."""

from __future__ import annotations

import os
from functools import cache


@cache
def stack_outputs(stack_name: str) -> dict[str, str]:
    """A deployed stack's outputs, read once per command (DescribeStacks has a low rate limit)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    from admin.aws import NO_REGION_HINT

    try:
        stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except NoRegionError as exc:
        raise SystemExit(f"error: stack {stack_name}: {NO_REGION_HINT}") from exc
    except (ClientError, BotoCoreError) as exc:
        raise SystemExit(f"error: stack {stack_name}: {exc}") from exc
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def table_name(env_var: str, output_key: str, stack_name: str | None) -> str:
    """The table the track function knows as `env_var`; in AWS, the stack output `output_key`."""
    if stack_name:
        outputs = stack_outputs(stack_name)
        if output_key not in outputs:
            raise SystemExit(
                f"error: stack {stack_name} has no output {output_key}; deploy this version of the template"
            )
        return outputs[output_key]
    from local.stack import _running_stack, local_aws_env
    from local.template import read_template

    state = _running_stack()
    if state is None:
        raise SystemExit("error: no local stack is running; start one with `make run` first")
    os.environ.update(local_aws_env(state["dynamodbPort"], state["secretsPort"]))
    return read_template().functions()["TrackFunction"].environment[env_var]
