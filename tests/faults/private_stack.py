"""A local stack of a test's own (DynamoDB Local, Secrets Manager emulator, gateway), for tests that stop,
restart or measure its processes; and a small HTTP client that speaks only to 127.0.0.1.

The session's shared stack (tests/conftest.py) is never touched: a test that kills DynamoDB Local kills
its own copy. Every process started here is stopped by LocalStack.stop().
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.stack import LocalStack, create_tables, dynamodb_local_jar, free_port, seed_generated_secrets, wait_for_port
from local.template import read_template


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    project_id: str

    def headers(self, user_agent: str = "curl/8.5.0") -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json"),
            ("openpanel-client-id", self.client_id),
            ("openpanel-client-secret", self.secret),
            ("User-Agent", user_agent),
        ]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
    timeout: float = 30,
) -> Answer:
    """One request to the gateway on 127.0.0.1:port. Headers are a list, so a name may repeat."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers or []:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body or b"")
        response = connection.getresponse()
        data = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, answer_headers, data, time.monotonic() - started)
    finally:
        connection.close()


def track_body(name: str, properties: dict[str, Any] | None = None, **payload: Any) -> bytes:
    return json.dumps({"type": "track", "payload": {"name": name, "properties": properties or {}, **payload}}).encode()


class PrivateStack:
    def __init__(self, stack: LocalStack, gateway: subprocess.Popen[bytes], gateway_port: int) -> None:
        self.stack = stack
        self.gateway = gateway
        self.gateway_port = gateway_port
        template = read_template()
        self.template = template
        self.client_prefix = template.functions()["AuthorizerFunction"].environment["CLIENT_SECRET_PREFIX"]
        self.client_id_key_secret = template.functions()["AuthorizerFunction"].environment["CLIENT_ID_KEY_SECRET"]
        self._generated_secrets = stack.log_dir / "generated-secrets.json"

    # -- clients and requests ---------------------------------------------------------------------------
    def new_client(self, project_id: str, rate: float | None = None, burst: int | None = None) -> Client:
        from beacon.domain.auth import create_client
        from beacon.domain.entities import ClientType
        from beacon.store.clients import SecretsManagerClientStore, read_client_id_key

        secretsmanager = self.stack.boto3_client("secretsmanager")
        id_key = read_client_id_key(self.client_id_key_secret, secretsmanager)
        record, secret = create_client(
            project_id, ClientType.WRITE, datetime.now(UTC), rate=rate, burst=burst, id_key=id_key
        )
        store = SecretsManagerClientStore(self.client_prefix, 0, client=secretsmanager)
        store.put_client(record)
        return Client(record.client_id, secret, project_id)

    def send(self, method: str, path: str, body: bytes | None = None, **kwargs: Any) -> Answer:
        return send(self.gateway_port, method, path, body, **kwargs)

    def track(self, client: Client, body: bytes, extra: list[tuple[str, str]] | None = None) -> Answer:
        return self.send("POST", "/track", body, headers=[*client.headers(), *(extra or [])])

    # -- processes --------------------------------------------------------------------------------------
    def _process(self, marker: str) -> subprocess.Popen[bytes]:
        """The one running process whose command line contains `marker`."""
        running = [process for process in self.stack.processes if process.poll() is None and marker in command(process)]
        assert len(running) == 1, f"expected one running {marker} process"
        return running[0]

    def stop_dynamodb(self) -> None:
        process = self._process("DynamoDBLocal.jar")
        process.terminate()
        process.wait(timeout=20)

    def start_dynamodb(self) -> None:
        """A new, empty DynamoDB Local on the same port (in memory), with the template's tables."""
        jar = dynamodb_local_jar()
        args = ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar)]
        args += ["-sharedDb", "-inMemory", "-port", str(self.stack.dynamodb_port)]
        process = self._spawn("dynamodb-restarted", args, cwd=jar.parent)
        wait_for_port(self.stack.dynamodb_port, process, "DynamoDB Local (restarted)")
        create_tables(self.template, self.stack.boto3_client("dynamodb"))

    def stop_secrets_manager(self) -> None:
        # A restore brings the generated secrets back as they were (the stack key signs every client id): keep them.
        secretsmanager = self.stack.boto3_client("secretsmanager")
        generated = {
            logical_id: secretsmanager.get_secret_value(SecretId=logical_id)["SecretString"]
            for logical_id, resource in self.template.resources.items()
            if resource["Type"] == "AWS::SecretsManager::Secret" and "GenerateSecretString" in resource["Properties"]
        }
        self._generated_secrets.write_text(json.dumps(generated))
        process = self._process("moto.server")
        process.terminate()
        process.wait(timeout=20)

    def start_secrets_manager(self) -> None:
        """A new, empty Secrets Manager emulator on the same port, with the template's generated secrets as they were
        before the stop (client records are gone)."""
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.stack.secrets_port)]
        process = self._spawn("secretsmanager-restarted", args, env={**os.environ, **self.stack.env})
        wait_for_port(self.stack.secrets_port, process, "Secrets Manager emulator (restarted)")
        seed_generated_secrets(self.stack.boto3_client("secretsmanager"), self.template, self._generated_secrets)

    def _spawn(
        self, name: str, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.stack.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.stack.processes.append(process)  # stopped with the rest by LocalStack.stop()
        return process

    def gateway_rss_kb(self) -> int:
        """Resident memory of the gateway process, which runs the authorizer and the functions in-process."""
        for line in Path(f"/proc/{self.gateway.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def logs(self) -> str:
        """Everything the stack's processes printed (the gateway's file holds the functions' logs)."""
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.stack.log_dir.glob("*.log")))


def command(process: subprocess.Popen[bytes]) -> str:
    args: Any = process.args  # a list here: LocalStack starts every process from one
    return " ".join(map(str, args))


@contextmanager
def private_stack(log_dir: Path) -> Iterator[PrivateStack]:
    stack = LocalStack(data_dir=None, log_dir=log_dir)
    try:
        stack.start_services()
        stack.prepare(read_template())
        port = free_port()
        gateway = stack.start_gateway(port)
        yield PrivateStack(stack, gateway, port)
    finally:
        stack.stop()
