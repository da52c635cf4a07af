"""Which AWS account and region a command on a deployed stack talks to: --region and --profile, as the AWS CLI
takes them, and a hint instead of botocore's "You must specify a region" when none is configured."""

from __future__ import annotations

import argparse
import os

NO_REGION_HINT = (
    "no AWS region: pass --region (e.g. --region eu-west-1), or set AWS_DEFAULT_REGION, or use a --profile that has one"
)


def deployed_stack_options() -> argparse.ArgumentParser:
    """The parent parser of every command that can act on a deployed stack."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--stack-name", default=None, help="a deployed stack; omit for the local stack (make run)")
    options.add_argument("--region", default=None, help="the deployed stack's region (with --stack-name)")
    options.add_argument("--profile", default=None, help="the AWS profile to use (with --stack-name)")
    return options


def use_aws_options(args: argparse.Namespace) -> None:
    """Point every AWS client the command creates from now on (boto3's and botocore's sessions both read these)
    at the chosen region and profile. The local stack sets its own endpoints and keys, so they apply to
    --stack-name only."""
    if not getattr(args, "stack_name", None):
        if getattr(args, "region", None) or getattr(args, "profile", None):
            raise SystemExit(
                "error: --region and --profile choose a deployed stack's account: use them with --stack-name"
            )
        return
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
        os.environ["AWS_REGION"] = args.region
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
