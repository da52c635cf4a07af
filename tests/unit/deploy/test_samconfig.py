"""samconfig.toml: what `sam validate`, `sam build` and `sam deploy` read before any flag (issue 20 item 1)."""

from __future__ import annotations

import tomllib

from tests.constants import ROOT


def _commands() -> dict[str, dict[str, object]]:
    with (ROOT / "samconfig.toml").open("rb") as handle:
        config = tomllib.load(handle)
    assert config["version"] == 0.1
    return {command: section["parameters"] for command, section in config["default"].items()}


def test_validate_lints_and_has_a_region_so_plain_sam_validate_works_without_aws_configuration():
    # Given samconfig.toml
    validate = _commands()["validate"]
    # Then `sam validate` lints, and finds a region without a profile (it failed with "AWS Region was not found")
    assert validate["lint"] is True
    assert isinstance(validate["region"], str) and validate["region"]


def test_deploys_confirm_the_changeset_may_create_roles_and_leave_the_region_to_the_first_guided_run():
    # Given samconfig.toml
    commands = _commands()
    deploy = commands["deploy"]
    # Then the functions' roles can be created, and nothing is deployed unseen
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True and commands["package"]["resolve_s3"] is True
    # And no region is imposed: the Makefile's deploy runs --guided until one is saved here
    assert "region" not in deploy
    assert commands["global"]["stack_name"] == "beacon"
    # And builds are cached and parallel
    assert commands["build"] == {"cached": True, "parallel": True}
