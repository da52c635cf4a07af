"""Package-size benchmark (issue 8, measurement 4): what `sam build` puts in the layer and each function.

Run from the repository root: PYTHONPATH=layers/beacon:. .venv/bin/python -m bench.package
Reuses .aws-sam/build when it is newer than every source it is built from (template.yaml, layers/beacon,
functions/), otherwise runs `make build` first (about 15 s with pip's cache, a few minutes the first time, when
it also creates .venv-sam). Reports, for the layer and each function: unzipped bytes and files, and the zip
that `sam deploy` would upload (deflated in memory the way SAM zips: every file, no exclusions); the layer's
largest top-level packages; and whether the layer is lean: no boto3/botocore/s3transfer (Lambda provides
them), no tests/ directories, no development packages, no console scripts, and no byte code other than the
runtime's (cpython-313); and that it ships the data files its code reads (beacon/data/referrers.json). Writes
bench/results/package.json. Takes a few seconds once built.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.report import machine, print_ratios, ratio, write_results
from local.template import ROOT, read_template

BUILD_DIR = ROOT / ".aws-sam" / "build"
SOURCES = [ROOT / "template.yaml", ROOT / "layers" / "beacon", ROOT / "functions"]
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, unzipped (AWS Lambda quotas)
MB = 1024 * 1024
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
DEV_PACKAGES = (
    "pytest",
    "_pytest",
    "pluggy",
    "hypothesis",
    "moto",
    "mypy",
    "mypyc",
    "mypy_extensions",
    "ruff",
    "coverage",
    "boto3_stubs",
    "botocore_stubs",
    "mypy_boto3_dynamodb",
    "mypy_boto3_secretsmanager",
    "mypy_boto3_cloudformation",
    "yaml",
    "mmdb_writer",
    "openapi_spec_validator",
    "pip_audit",
    "samcli",
    "pip",
    "setuptools",
    "wheel",
)
# Data files the layer's code reads at run time (a build that drops one fails at the first event that needs it).
LAYER_DATA_FILES = ("beacon/data/referrers.json",)
RUNTIME_BYTECODE = re.compile(r"\.cpython-313\.pyc$")


def newest_source_mtime() -> float:
    newest = 0.0
    for source in SOURCES:
        paths = [source] if source.is_file() else source.rglob("*")
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_build() -> str:
    """`sam build` output that reflects the sources: reused when newer than all of them, else rebuilt."""
    marker = BUILD_DIR / "template.yaml"  # sam build writes it last
    expected = {*read_template().functions(), "BeaconLayer"}
    built = {path.name for path in BUILD_DIR.iterdir() if path.is_dir()} if BUILD_DIR.is_dir() else set()
    if marker.exists() and marker.stat().st_mtime > newest_source_mtime() and expected <= built:
        return "reused .aws-sam/build (newer than its sources)"
    started = time.perf_counter()
    made = subprocess.run(["make", "build"], cwd=ROOT, capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise RuntimeError(f"make build failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")
    return f"ran make build ({time.perf_counter() - started:.0f} s)"


def files_of(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def zipped_size(folder: Path, files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder))
    return buffer.tell()


def measure_folder(folder: Path) -> dict[str, Any]:
    files = files_of(folder)
    return {
        "files": len(files),
        "unzipped_bytes": sum(path.stat().st_size for path in files),
        "zipped_bytes": zipped_size(folder, files),
    }


def top_level_package(site: Path, path: Path) -> str:
    """pydantic/… and pydantic-2.13.5.dist-info/… both count as pydantic; __pycache__/x.pyc as x."""
    first = path.relative_to(site).parts[0]
    if first == "__pycache__":
        return path.name.split(".")[0]
    return re.sub(r"-[^-]+\.dist-info$", "", first).removesuffix(".py").lower().replace("-", "_")


def layer_report(layer: Path) -> dict[str, Any]:
    site = layer / "python"
    sizes: dict[str, int] = defaultdict(int)
    bytecode = stubs = 0
    unwanted: list[str] = []
    for path in files_of(site):
        size = path.stat().st_size
        sizes[top_level_package(site, path)] += size
        relative = str(path.relative_to(site))
        if path.suffix == ".pyc":
            bytecode += size
            if not RUNTIME_BYTECODE.search(path.name):
                unwanted.append(f"foreign byte code: {relative}")
        if path.suffix == ".pyi":
            stubs += size
    for entry in sorted(site.iterdir()):
        name = top_level_package(site, entry / "x") if entry.is_dir() else top_level_package(site, entry)
        if name in RUNTIME_PROVIDED:
            unwanted.append(f"provided by the Lambda runtime: {entry.name}")
        elif name in DEV_PACKAGES or name.startswith("mypy_boto3"):
            unwanted.append(f"development package: {entry.name}")
        elif entry.name == "bin":
            unwanted.append("console scripts: bin/")
    unwanted += [f"test suite: {path.relative_to(site)}" for path in site.rglob("tests") if path.is_dir()]
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:12]
    missing = [name for name in LAYER_DATA_FILES if not (site / name).is_file()]
    return {
        "missing_data_files": missing,
        "largest_packages_bytes": dict(largest),
        "bytecode_bytes": bytecode,
        "typing_stub_bytes": stubs,
        "unwanted": unwanted,
    }


def run() -> dict[str, Any]:
    started = time.perf_counter()
    how = ensure_build()
    folders = {path.name: measure_folder(path) for path in sorted(BUILD_DIR.iterdir()) if path.is_dir()}
    layer = layer_report(BUILD_DIR / "BeaconLayer")
    biggest_function = max(size["unzipped_bytes"] for name, size in folders.items() if name != "BeaconLayer")
    total = folders["BeaconLayer"]["unzipped_bytes"] + biggest_function
    ratios = [
        ratio(
            "layer + largest function / Lambda's 250 MB unzipped limit",
            total / LAMBDA_UNZIPPED_LIMIT,
            1,
            "<=",
            f"{total / MB:.1f} MB of 250 MB",
        ),
        ratio(
            "unwanted files in the layer (boto3, tests, dev packages)",
            len(layer["unwanted"]),
            0,
            "<=",
            "; ".join(layer["unwanted"][:5]) or "none: no boto3/botocore/s3transfer, tests/, dev packages, bin/",
        ),
        ratio(
            "data files missing from the layer",
            len(layer["missing_data_files"]),
            0,
            "<=",
            ", ".join(layer["missing_data_files"]) or f"none: {', '.join(LAYER_DATA_FILES)} shipped",
        ),
    ]
    return {
        "machine": machine(),
        "build": how,
        "folders": folders,
        "layer": layer,
        "ratios": ratios,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    results = run()
    print(f"package sizes of `sam build` output ({results['build']}):")
    print(f"  {'':<20} {'files':>6} {'unzipped':>11} {'zipped':>10}")
    for name, size in results["folders"].items():
        print(
            f"  {name:<20} {size['files']:>6} {size['unzipped_bytes'] / MB:>8.2f} MB"
            f" {size['zipped_bytes'] / MB:>7.2f} MB"
        )
    layer = results["layer"]
    print(
        f"  layer byte code (cpython-313, shipped for cold starts): {layer['bytecode_bytes'] / MB:.1f} MB;"
        f" typing stubs (.pyi, dead weight that wheels ship): {layer['typing_stub_bytes'] / MB:.2f} MB"
    )
    print("  largest packages in the layer (unzipped):")
    for name, size in layer["largest_packages_bytes"].items():
        print(f"    {name:<28} {size / MB:>6.2f} MB")
    print_ratios(results["ratios"])
    path = write_results("package", results)
    print(f"written to {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
