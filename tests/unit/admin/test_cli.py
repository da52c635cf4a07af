"""`./beacon` as a shell runs it: the version, and output piped into a command that stops reading."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

import beacon
from admin.__main__ import main as admin_main
from tests.constants import ROOT


def test_version_prints_the_release_that_pyproject_and_the_changelog_name(capsys: pytest.CaptureFixture[str]) -> None:
    # When the operator asks for the version
    admin_main(["--version"])
    # Then it is the package's, which is pyproject's and the changelog's newest release
    assert capsys.readouterr().out == f"beacon {beacon.__version__}\n"
    with (ROOT / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["project"]["version"] == beacon.__version__
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert releases and releases[0] == beacon.__version__


def test_output_into_a_closed_pipe_ends_quietly_without_a_traceback() -> None:
    # Given the CLI writing its usage into a pipe whose reader has already gone (`./beacon --help | head -0`)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers/beacon'}{os.pathsep}{ROOT}"}
    reader, writer = os.pipe()
    os.close(reader)
    try:
        # When it runs
        done = subprocess.run(
            [sys.executable, "-m", "admin", "--help"],
            stdout=writer,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    # Then it stops as a shell command cut short by a pipe does, with nothing on stderr
    assert done.stderr.decode() == ""
    assert done.returncode == 141


def test_make_help_expands_the_port_it_serves_on() -> None:
    # When the help is asked for with a port
    done = subprocess.run(
        ["make", "--no-print-directory", "help", "PORT=4567"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Then `make run`'s line names that port, not the Makefile variable
    run_line = next(line for line in done.stdout.splitlines() if line.strip().startswith("make run "))
    assert "http://127.0.0.1:4567" in run_line
    assert "$(" not in done.stdout
