"""Which AWS calls each function of the stack makes, as IAM sees them: recorded while the functions run locally.

tests/security/test_aws_grants.py compares what is recorded here with the functions' policies in template.yaml.
Nothing here runs unless asked: `install()` is called by the test session (tests/conftest.py) in the pytest process,
and by the local gateway's `main()` when BEACON_RECORD_AWS_CALLS names a file (the test session sets it, so every
gateway a test starts records too).

- Every botocore client created after `install()` (any session: the functions' shared one in
  beacon/store/aws.py, or a client a test hands in) gets a `provide-client-params` hook. It fires once per API
  call, in the calling thread, before the request is validated or sent, so a call that then fails (a
  condition, an outage) is recorded too: IAM checks the permission first.
- A call is attributed to the function whose code made it: the first frame on the calling thread's stack that
  belongs to a function's app.py (its CodeUri in template.yaml). Threads of a ThreadPoolExecutor (the batch pool,
  the read function's shard queries) carry the attribution of the thread that submitted the work. A call made
  by no function (the tests' own clients, the gateway's usage-plan lookups, the admin CLI) is not recorded.
- A call becomes what IAM evaluates: one (action, resource ARN) per table for a batch, per item for a
  transaction (TransactWriteItems is PutItem/UpdateItem/DeleteItem/ConditionCheckItem on each item's table; there
  is no IAM action of its own), the index ARN for a Query on an index.
- Each distinct (function, action, resource) is appended once per process to the file as a JSON line; several
  processes (pytest, its gateways) append to the same file.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from local.template import LOCAL_ACCOUNT, LOCAL_REGION, Template

RECORD_ENV = "BEACON_RECORD_AWS_CALLS"
# Secrets Manager appends 6 random characters to a secret's name in its ARN; a name is granted only by an ARN
# pattern that allows for them. The local stack stands for them with this fixed suffix.
SECRET_SUFFIX = "-AbCdEf"  # noqa: S105 - not a password: a stand-in for the random part of an ARN


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{name}"


def stream_arn(arn: str) -> str:
    """A stream's ARN in the local stack's region and account (DynamoDB Local names its own: ddblocal,
    000000000000), the table and stream label kept."""
    table = arn.split(":table/", 1)[1]
    return table_arn(table)


def firehose_arn(name: str) -> str:
    return f"arn:aws:firehose:{LOCAL_REGION}:{LOCAL_ACCOUNT}:deliverystream/{name}"


def lambda_function_arn(name_or_arn: str) -> str:
    """A function's ARN, unqualified when Invoke named it unqualified (IAM checks the ARN as named)."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name_or_arn}"


def athena_workgroup_arn(name: str) -> str:
    return f"arn:aws:athena:{LOCAL_REGION}:{LOCAL_ACCOUNT}:workgroup/{name}"


def secret_arn(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:{name_or_arn}{SECRET_SUFFIX}"


@dataclass(frozen=True, order=True)
class AwsCall:
    """One permission a function needed: `action` ("dynamodb:PutItem") on `resource` (an ARN)."""

    function: str  # the function's logical id in template.yaml
    action: str
    resource: str


# Transaction items → the IAM action each one needs on its own table.
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def glue_arn(kind: str, name: str = "") -> str:
    return f"arn:aws:glue:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{kind}" + (f"/{name}" if name else "")


def _bucket_and_prefix(location: Any) -> tuple[str, str] | None:
    """`s3://${Bucket}/prefix/` as the template writes it (a Sub on a bucket's logical id)."""
    text = location.get("Fn::Sub") if isinstance(location, dict) else location
    match = re.fullmatch(r"s3://\$\{(\w+)\}/(.*)", str(text))
    return (match.group(1), match.group(2)) if match else None


def _athena_on_behalf(template: Template, params: dict[str, Any], workgroup: str) -> list[tuple[str, str]]:
    """What Athena does with the caller's own permissions for a query (its documentation: the caller needs
    them): read the Glue database and each table the query names, list and read the tables' files, and write
    and read the results under the workgroup's output location."""
    pairs: list[tuple[str, str]] = []
    resources = template.resources
    group = resources.get(workgroup, {})
    if group.get("Type") == "AWS::Athena::WorkGroup":
        output = group["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
        located = _bucket_and_prefix(output)
        if located:
            bucket, prefix = located
            pairs += [("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"), ("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
            result = f"arn:aws:s3:::{bucket}/{prefix}query.csv"
            pairs += [("s3:PutObject", result), ("s3:GetObject", result), ("s3:AbortMultipartUpload", result)]
    database = params.get("QueryExecutionContext", {}).get("Database")
    if not database or "QueryString" not in params:
        return pairs
    pairs += [("glue:GetDatabase", glue_arn("catalog")), ("glue:GetDatabase", glue_arn("database", database))]
    for table in sorted(set(re.findall(rf'"{re.escape(database)}"\."(\w+)"', params["QueryString"]))):
        pairs += [
            ("glue:GetTable", glue_arn("catalog")),
            ("glue:GetTable", glue_arn("database", database)),
            ("glue:GetTable", glue_arn("table", f"{database}/{table}")),
        ]
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Glue::Table" or props.get("DatabaseName") != {"Ref": database}:
                continue
            if props["TableInput"]["Name"] != table:
                continue
            located = _bucket_and_prefix(props["TableInput"]["StorageDescriptor"]["Location"])
            if located:
                bucket, prefix = located
                pairs += [
                    ("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"),
                    ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
                    ("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}data.parquet"),
                ]
    return pairs


def iam_requests(
    service: str, operation: str, params: dict[str, Any], template: Template | None = None
) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM evaluates for one API call. A call this does not understand maps to its
    action on "*": no policy of the stack grants that, so it is reported rather than missed. With the template,
    an Athena query also needs what Athena does on the caller's behalf."""
    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table_arn(table)) for table in params.get("RequestItems", {})]
        if operation == "TransactWriteItems":
            pairs = []
            for item in params.get("TransactItems", []):
                for kind, action in _TRANSACT_WRITE.items():
                    if kind in item:
                        pairs.append((f"dynamodb:{action}", table_arn(item[kind]["TableName"])))
            return pairs
        if operation == "TransactGetItems":
            items = params.get("TransactItems", [])
            return [("dynamodb:GetItem", table_arn(item["Get"]["TableName"])) for item in items]
        if "TableName" in params:
            arn = table_arn(params["TableName"])
            if params.get("IndexName"):
                arn = f"{arn}/index/{params['IndexName']}"
            return [(f"dynamodb:{operation}", arn)]
    if service == "secretsmanager" and "SecretId" in params:
        return [(f"secretsmanager:{operation}", secret_arn(params["SecretId"]))]
    if service == "dynamodb" and operation in ("DescribeStream", "GetShardIterator") and "StreamArn" in params:
        return [(f"dynamodb:{operation}", stream_arn(params["StreamArn"]))]
    if service == "dynamodb" and operation == "GetRecords" and "|" in params.get("ShardIterator", ""):
        # A shard iterator starts with its stream's ARN.
        return [("dynamodb:GetRecords", stream_arn(params["ShardIterator"].split("|", 1)[0]))]
    if service == "s3" and operation in ("PutObject", "GetObject") and "Bucket" in params and "Key" in params:
        return [(f"s3:{operation}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if service == "s3" and operation == "DeleteObjects" and "Bucket" in params:
        # IAM has no DeleteObjects action: it checks s3:DeleteObject on each object named
        objects = params.get("Delete", {}).get("Objects", [])
        return [("s3:DeleteObject", f"arn:aws:s3:::{params['Bucket']}/{item['Key']}") for item in objects]
    if service == "lambda" and operation == "Invoke" and "FunctionName" in params:
        return [("lambda:InvokeFunction", lambda_function_arn(str(params["FunctionName"])))]
    if service == "firehose" and "DeliveryStreamName" in params:
        return [(f"firehose:{operation}", firehose_arn(params["DeliveryStreamName"]))]
    if service == "athena" and operation == "StartQueryExecution" and "WorkGroup" in params:
        implied = _athena_on_behalf(template, params, params["WorkGroup"]) if template is not None else []
        return [("athena:StartQueryExecution", athena_workgroup_arn(params["WorkGroup"])), *implied]
    if service == "athena" and "." in str(params.get("QueryExecutionId", "")):
        # The local Athena's query ids start with their workgroup (local/athena.py).
        workgroup = str(params["QueryExecutionId"]).split(".", 1)[0]
        pairs = [(f"athena:{operation}", athena_workgroup_arn(workgroup))]
        if operation == "GetQueryResults" and template is not None:
            pairs += [pair for pair in _athena_on_behalf(template, {}, workgroup) if pair[0] == "s3:GetObject"]
        return pairs
    return [(f"{service}:{operation}", "*")]


# -- attribution --------------------------------------------------------------------------------------------
_owner: contextvars.ContextVar[str | None] = contextvars.ContextVar("beacon_aws_call_owner", default=None)


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Calls made inside are the function's: what an AWS service does with the function's role (the event source
    mapping reading the stream for the lake function), emulated locally."""
    token = _owner.set(function)
    try:
        yield
    finally:
        _owner.reset(token)


class Attribution:
    """Which function a frame's code belongs to: a function's app.py, by its CodeUri in template.yaml."""

    def __init__(self, template: Template) -> None:
        self._by_file = {os.path.realpath(spec.module_path): name for name, spec in template.functions().items()}
        self._seen: dict[str, str | None] = {}

    def _function_of(self, filename: str) -> str | None:
        if filename not in self._seen:
            self._seen[filename] = self._by_file.get(os.path.realpath(filename))
        return self._seen[filename]

    def current(self, frame: FrameType | None) -> str | None:
        owner = _owner.get()
        if owner is not None:
            return owner
        while frame is not None:
            function = self._function_of(frame.f_code.co_filename)
            if function is not None:
                return function
            frame = frame.f_back
        return None


# -- recording ----------------------------------------------------------------------------------------------
class CallRecorder:
    def __init__(self, path: Path, template: Template) -> None:
        self.path = path
        self.template = template
        self.attribution = Attribution(template)
        self._written: set[AwsCall] = set()
        self._lock = threading.Lock()

    def on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = self.attribution.current(sys._getframe(1))
        if function is None:
            return
        service = str(model.service_model.signing_name or model.service_model.endpoint_prefix)
        requests = iam_requests(service, model.name, params, self.template)
        calls = {AwsCall(function, action, arn) for action, arn in requests}
        with self._lock:
            new = sorted(calls - self._written)
            self._written |= calls
        if new:
            lines = "".join(json.dumps(call.__dict__) + "\n" for call in new).encode()
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, lines)  # one write: processes sharing the file never interleave their lines
            finally:
                os.close(descriptor)


_installed: CallRecorder | None = None


def install(path: Path, template: Template) -> CallRecorder:
    """Record, from now on in this process, every AWS call a function makes into `path` (idempotent)."""
    global _installed
    if _installed is not None:
        return _installed
    recorder = CallRecorder(path, template)
    _hook_clients(recorder)
    _carry_attribution_into_pools(recorder)
    _installed = recorder
    return recorder


def _hook_clients(recorder: CallRecorder) -> None:
    from botocore.session import Session

    create_client = Session.create_client

    def hooked(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params", recorder.on_call, unique_id="beacon-aws-call-recorder")
        return client

    Session.create_client = hooked  # type: ignore[method-assign]


def _carry_attribution_into_pools(recorder: CallRecorder) -> None:
    submit = ThreadPoolExecutor.submit

    def carried(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        owner = recorder.attribution.current(sys._getframe(1))
        if owner is None:
            return submit(self, fn, *args, **kwargs)

        def run() -> Any:
            token = _owner.set(owner)
            try:
                return fn(*args, **kwargs)
            finally:
                _owner.reset(token)

        return submit(self, run)

    ThreadPoolExecutor.submit = carried  # type: ignore[method-assign,assignment]


def record_path(path: Path, overrides: dict[str, str]) -> Path:
    """Where a stack whose parameters differ from the defaults records: a file of its own beside `path`, so its
    calls are checked against the grants of its own parameters (calls.jsonl → calls.BodyCredentials=true.jsonl)."""
    if not overrides:
        return path
    variant = "+".join(f"{name}={value}" for name, value in sorted(overrides.items()))
    return path.with_name(f"{path.stem}.{variant}{path.suffix}")


def install_from_env(template: Template) -> CallRecorder | None:
    """`install()` into the file BEACON_RECORD_AWS_CALLS names (for a template with parameter overrides, its
    record_path), if it names one."""
    path = os.environ.get(RECORD_ENV)
    return install(record_path(Path(path), template.overrides), template) if path else None


def read_calls(path: Path) -> set[AwsCall]:
    if not path.exists():
        return set()
    return {AwsCall(**json.loads(line)) for line in _lines(path)}


def _lines(path: Path) -> Iterator[str]:
    with path.open() as handle:
        yield from (line for line in handle if line.strip())
