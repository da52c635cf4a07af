"""The newcomer's path: `make run` installs only what running needs, `make test` everything, and CI's `make test` on a
fresh clone still gets both stages."""

from __future__ import annotations

import re

from tests.constants import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
RUNNING = ("run", "client", "clients", "invoke", "events", "query")
DEVELOPING = ("test", "test-unit", "lint", "bench", "format", "lock")


def prerequisites(target: str) -> list[str]:
    found = re.search(rf"^{re.escape(target)}:([^#\n]*)", MAKEFILE, re.M)
    assert found, target
    return found.group(1).split()


def pins(path: str) -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    pinned = (line.split("#")[0].strip() for line in lines)
    return {re.split(r"[\[=]", line)[0].lower(): line for line in pinned if "==" in line}


def test_running_needs_only_the_run_stage_and_developing_needs_both():
    for target in RUNNING:
        assert "bootstrap-run" in prerequisites(target) and "bootstrap" not in prerequisites(target), target
    for target in DEVELOPING:
        assert "bootstrap" in prerequisites(target), target
    assert "bootstrap-run" in prerequisites("bootstrap") and "$(VENV)/.installed" in prerequisites("bootstrap")
    # The full stage builds on the run stage, so CI's `make test` on a fresh clone installs both
    assert "$(VENV)/.run-installed" in prerequisites("$(VENV)/.installed")


def test_the_dev_requirements_include_the_run_requirements_and_repin_nothing_differently():
    dev_lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements-run.txt" in dev_lines
    run, dev = pins("requirements-run.txt"), pins("requirements-dev.txt")
    for name in run.keys() & dev.keys():
        assert run[name].split("==")[1] == dev[name].split("==")[1], name
    assert "-r layers/beacon/requirements.txt" in (ROOT / "requirements-run.txt").read_text().splitlines()


def test_every_install_step_says_what_it_does():
    # No silent half-minute: each recipe line of the two stages that installs is preceded by a line it prints
    for stamp in ("$(VENV)/.run-installed:", "$(VENV)/.installed:"):
        recipe = MAKEFILE.split(stamp, 1)[1].split("\n\n", 1)[0].splitlines()[1:]
        installs = [index for index, line in enumerate(recipe) if "pip install" in line or "-m venv" in line]
        assert installs, stamp
        assert all(recipe[index - 1].strip().startswith("@echo") for index in installs), stamp
