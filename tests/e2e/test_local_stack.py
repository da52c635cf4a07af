"""`make run`'s stack: it serves, refuses a second copy clearly, and Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from local.stack import free_port, port_in_use
from tests.constants import ROOT

pytestmark = pytest.mark.e2e


def start_stack(env: dict[str, str], port: int, dynamodb_port: int, secrets_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.stack",
            "run",
            "--port",
            str(port),
            "--dynamodb-port",
            str(dynamodb_port),
            "--secrets-port",
            str(secrets_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_run_serves_refuses_a_second_copy_and_stops_everything_on_ctrl_c(tmp_path, aws_env):
    # Given the stack started as `make run` starts it, with its state in a temporary folder
    # (left readable, with a readable secrets file, as an older version wrote them)
    env = {**aws_env, "BEACON_STATE_DIR": str(tmp_path), "BEACON_GATEWAY_QUIET": "1"}
    tmp_path.chmod(0o755)
    (tmp_path / "generated-secrets.json").write_text("{}")
    (tmp_path / "generated-secrets.json").chmod(0o644)
    ports = [free_port(), free_port(), free_port()]
    first = start_stack(env, *ports)
    try:
        wait_until(lambda: (tmp_path / "run.json").exists() and port_in_use(ports[0]))
        # Then its state is its owner's only: the directory 0700, the generated secrets 0600
        modes = [stat.S_IMODE(path.stat().st_mode) for path in (tmp_path, tmp_path / "generated-secrets.json")]
        assert modes == [0o700, 0o600]
        # When the API is called without credentials, Then the local gateway answers like API Gateway
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/track", data=b"{}", timeout=30)
        assert refused.value.code == 401
        state = json.loads((tmp_path / "run.json").read_text())

        # When a second copy is started, Then it says clearly that one is running, and exits
        second = start_stack(env, free_port(), free_port(), free_port())
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"already running (pid {state['pid']})" in output

        # When Ctrl-C reaches the first
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    # Then it stopped DynamoDB Local and the emulator, and forgot its pid file
    assert not port_in_use(ports[1]) and not port_in_use(ports[2])
    assert not (tmp_path / "run.json").exists()
    assert (tmp_path / "dynamodb").is_dir()  # the data directory stays for the next run
    assert os.path.exists(tmp_path / "logs" / "dynamodb.log")
