"""The layers of the shared package (docs/ARCHITECTURE.md), checked on every import the code makes.

errors ← models ← domain ← {store, gateway} ← functions, local, admin. Imports inside functions and under
TYPE_CHECKING count too: a layer that needs a higher one is in the wrong place, whatever the import style.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.constants import ROOT

PACKAGE = ROOT / "layers" / "beacon"

# Each of the shared package's parts, and the parts of it that it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "beacon.errors": set(),
    "beacon.text": set(),
    "beacon.models": {"beacon.errors"},
    "beacon.domain": {"beacon.errors", "beacon.models"},
    "beacon.store": {"beacon.errors", "beacon.text", "beacon.domain", "beacon.config", "beacon.observability"},
    "beacon.gateway": {"beacon.errors", "beacon.text", "beacon.models", "beacon.domain", "beacon.observability"},
    "beacon.config": set(),
    "beacon.authorizer_config": set(),
    "beacon.observability": set(),
    "beacon.tracing": set(),
    "beacon.snapstart": set(),
}
# What the domain must never know about: the Lambda runtime, AWS SDKs, HTTP shapes.
DOMAIN_FORBIDDEN = ("aws_lambda_powertools", "boto3", "botocore", "mypy_boto3_dynamodb", "pydantic")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.glob("beacon/**/*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import statement in the file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def part(module: str) -> str:
    """The layer a module belongs to: beacon.<part>, or its top-level package for third-party code."""
    pieces = module.split(".")
    return ".".join(pieces[:2]) if pieces[0] == "beacon" else pieces[0]


MODULES = list(modules())


def test_every_part_of_the_package_has_a_place_in_the_layers() -> None:
    # Given the package's modules, when each is placed, then none is outside the layers the rule knows
    assert {part(module) for module, _ in MODULES} - {"beacon"} <= set(ALLOWED)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[module for module, _ in MODULES])
def test_a_module_imports_only_from_its_own_layer_and_the_ones_below(module: str, path: Path) -> None:
    # Given a module of the shared package, when its imports are read, then each is its layer's or one it may use
    own = part(module)
    wrong = [
        imported
        for imported, _ in imports(path)
        if imported.startswith("beacon.") and part(imported) != own and part(imported) not in ALLOWED.get(own, set())
    ]
    assert wrong == [], f"{module} ({own}) may not import {wrong}"


@pytest.mark.parametrize(
    ("module", "path"),
    [(module, path) for module, path in MODULES if part(module) == "beacon.domain"],
    ids=[module for module, _ in MODULES if part(module) == "beacon.domain"],
)
def test_the_domain_knows_nothing_of_lambda_aws_or_response_models(module: str, path: Path) -> None:
    # Given a domain module, when its imports are read
    found = list(imports(path))

    # Then it imports no runtime or SDK, takes wire models only as inputs (never a response), reads no environment
    assert [name for name, _ in found if part(name) in DOMAIN_FORBIDDEN] == []
    assert [name for name, _ in found if name == "beacon.models.responses"] == []
    models = [n for name, names in found if name.startswith("beacon.models") for n in names]
    assert [name for name in models if name.endswith("Response")] == []
    assert "os.environ" not in path.read_text()


def test_the_layers_import_each_other_without_a_cycle() -> None:
    # Given the graph of which layer imports which, as the code has it
    graph: dict[str, set[str]] = {name: set() for name in ALLOWED}
    for module, path in MODULES:
        for imported, _ in imports(path):
            if imported.startswith("beacon.") and part(imported) != part(module) and part(module) in graph:
                graph[part(module)].add(part(imported))

    # When it is walked depth first, then no layer is reached again from itself
    def cycle_from(node: str, trail: tuple[str, ...]) -> tuple[str, ...] | None:
        if node in trail:
            return (*trail, node)
        for nxt in sorted(graph.get(node, ())):
            found = cycle_from(nxt, (*trail, node))
            if found:
                return found
        return None

    assert [cycle for name in graph if (cycle := cycle_from(name, ()))] == []
