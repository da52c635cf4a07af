"""The README's configuration tables name everything the template lets an operator set or a function read."""

from __future__ import annotations

import re

from local.template import load_template
from tests.constants import ROOT, TEMPLATE

README = (ROOT / "README.md").read_text()


def _table_names(heading: str) -> set[str]:
    """The `code` names in the first column of the table under `heading`."""
    section = README.split(heading, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Za-z0-9_]+)`", row.split("|")[1])}


def test_every_template_parameter_is_in_the_readme_parameter_table():
    # Given the template's parameters and the README's table
    parameters = set(load_template(TEMPLATE)["Parameters"])
    # Then each is documented
    assert parameters - _table_names("### Template parameters") == set()


def test_every_functions_environment_variable_is_in_the_readme_environment_table():
    # Given every variable the template sets on a function (the platform's AWS_* excepted)
    variables = {
        name
        for resource in load_template(TEMPLATE)["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for name in resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    } | set(load_template(TEMPLATE).get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    # Then each is documented
    assert variables - _table_names("### Function environment") == set()


def test_the_client_cache_default_is_the_templates_wherever_the_readme_gives_it():
    # Given the authorizer's cache as the template sets it
    seconds = load_template(TEMPLATE)["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"][
        "CLIENT_CACHE_SECONDS"
    ]
    # Then the README's environment table and limits give that figure
    env_row = next(line for line in README.splitlines() if line.startswith("| `CLIENT_CACHE_SECONDS`"))
    assert f"{seconds} in the template" in env_row
    limit_row = next(line for line in README.splitlines() if line.startswith("| client-record cache"))
    assert limit_row.startswith(f"| client-record cache | {seconds} s")
