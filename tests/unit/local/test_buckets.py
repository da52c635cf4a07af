"""The local stack creates the template's S3 buckets in moto, as it creates its tables in DynamoDB Local."""

from __future__ import annotations

from typing import Any

from local.stack import create_buckets, local_aws_env
from local.template import read_template


class FakeS3:
    def __init__(self, existing: list[str]) -> None:
        self.buckets = list(existing)

    def list_buckets(self) -> dict[str, Any]:
        return {"Buckets": [{"Name": name} for name in self.buckets]}

    def create_bucket(self, Bucket: str) -> None:
        self.buckets.append(Bucket)


def test_the_replay_bucket_is_created_under_its_logical_id_once():
    s3 = FakeS3([])
    assert "ReplayBucket" in create_buckets(read_template(), s3)
    assert create_buckets(read_template(), s3) == []  # a restart with the buckets there creates none
    assert s3.buckets.count("ReplayBucket") == 1


def test_the_functions_are_told_the_bucket_the_stack_creates():
    functions = read_template().functions()
    assert functions["TrackFunction"].environment["REPLAY_BUCKET"] == "ReplayBucket"
    assert functions["ReadFunction"].environment["REPLAY_BUCKET"] == "ReplayBucket"


def test_s3_is_reached_on_the_moto_server():
    env = local_aws_env(8000, 8001)
    assert env["AWS_ENDPOINT_URL_S3"] == env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "http://127.0.0.1:8001"
