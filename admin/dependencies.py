"""The layer's locked dependency tree, and an offline check of it against minimum safe versions.

python -m admin.dependencies lock     re-resolve layers/beacon/requirements.txt and rewrite requirements.lock
python -m admin.dependencies check    fail (exit 1) when the lock is older than layers/beacon/minimum-versions.txt

`lock` (`make lock`, needs PyPI) runs `pip download` of the top-level requirements once per platform the project
builds (manylinux2014_aarch64 for `sam build`, manylinux2014_x86_64 for bench/coldstart.py), cp313 wheels only, like
layers/beacon/Makefile. Both must resolve the same versions; the lock then lists every package with the sha256 of
each platform's wheel, and the Makefile installs it with `--require-hashes --no-deps`. pip evaluates environment
markers against the Python it runs on, not the target, so the tree is also walked again from the wheels' metadata
with the markers of CPython 3.13 on Linux: a package one side has and the other lacks stops the lock.

`check` (`make lint`) reads no network: pip-audit's advisory database is out of reach here, so the table of
minimum versions is maintained by hand from the packages' changelogs and advisories. It fails when a locked
package is older than its minimum, when the table names a package the lock does not hold, when a lock entry has no
hash or no exact pin, and when a top-level pin in requirements.txt differs from the lock.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

DESCRIPTION = "The layer's locked dependency tree, and an offline check of it against minimum safe versions."
ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "beacon"
REQUIREMENTS = LAYER / "requirements.txt"
LOCK = LAYER / "requirements.lock"
MINIMUMS = LAYER / "minimum-versions.txt"

# What layers/beacon/Makefile builds: sam build's platform first, then the cold-start benchmark's.
PLATFORMS = ("manylinux2014_aarch64", "manylinux2014_x86_64")
PYTHON_VERSION = "3.13"

HEADER = """\
# The layer's whole dependency tree: every package the build installs, pinned, with the sha256 of its cp{py}
# wheel for each of {platforms}.
# Generated from requirements.txt (the top-level pins) by `make lock` (python -m admin.dependencies lock): edit
# requirements.txt, then regenerate; do not edit by hand. layers/beacon/Makefile installs exactly this, with
# --require-hashes --no-deps. What the Makefile deletes after installing (botocore, dnspython) is here too: pip
# wants a hash for everything it installs. `make lint` checks it against minimum-versions.txt.
"""


class DependencyError(Exception):
    """The lock, the table or the resolution is not what it must be; the message says what to do."""


@dataclass(frozen=True)
class Locked:
    name: NormalizedName
    version: Version
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Minimum:
    name: NormalizedName
    version: Version
    why: str


@dataclass
class Wheel:
    name: NormalizedName
    version: Version
    sha256: str
    requires: list[Requirement] = field(default_factory=list)


# ---- reading the files -------------------------------------------------------------------------------------------


def logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, content) of each requirement line: continuations joined, comments and blanks dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        if joined:
            yield start, joined
    if pending and any(pending):
        yield start, " ".join(part for part in pending if part)


def read_lock(text: str) -> dict[NormalizedName, Locked]:
    locked: dict[NormalizedName, Locked] = {}
    for number, line in logical_lines(text):
        words = line.split()
        hashes = tuple(word.removeprefix("--hash=sha256:") for word in words[1:] if word.startswith("--hash=sha256:"))
        others = [word for word in words[1:] if not word.startswith("--hash=sha256:")]
        try:
            requirement = Requirement(words[0])
        except InvalidRequirement as error:
            raise DependencyError(f"lock line {number}: {error}") from None
        pins = [spec for spec in requirement.specifier if spec.operator == "=="]
        if len(pins) != 1 or len(requirement.specifier) != 1 or "*" in pins[0].version:
            raise DependencyError(f"lock line {number}: {words[0]} is not pinned with == to one version")
        if others or not hashes:
            raise DependencyError(f"lock line {number}: {words[0]} needs --hash=sha256:... options and nothing else")
        if any(not re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes):
            raise DependencyError(f"lock line {number}: {words[0]} has a malformed sha256")
        name = canonicalize_name(requirement.name)
        if name in locked:
            raise DependencyError(f"lock line {number}: {name} is locked twice")
        locked[name] = Locked(name, Version(pins[0].version), hashes)
    return locked


def read_minimums(text: str) -> dict[NormalizedName, Minimum]:
    minimums: dict[NormalizedName, Minimum] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        spec, _, why = raw.partition("#")
        match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*(\S+)\s*", spec)
        if match is None or not why.strip():
            raise DependencyError(
                f"minimum-versions line {number}: expected `package>=version  # why (advisory, date)`, got {raw!r}"
            )
        try:
            version = Version(match[2])
        except InvalidVersion:
            raise DependencyError(f"minimum-versions line {number}: {match[2]!r} is not a version") from None
        name = canonicalize_name(match[1])
        if name in minimums:
            raise DependencyError(f"minimum-versions line {number}: {name} is listed twice")
        minimums[name] = Minimum(name, version, why.strip())
    return minimums


def read_top_level(text: str) -> dict[NormalizedName, Requirement]:
    """requirements.txt's requirements, by name (each must be an exact pin: the lock is resolved from them)."""
    top: dict[NormalizedName, Requirement] = {}
    for number, line in logical_lines(text):
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise DependencyError(f"requirements.txt line {number}: {error}") from None
        top[canonicalize_name(requirement.name)] = requirement
    return top


# ---- check -------------------------------------------------------------------------------------------------------


def problems(lock_text: str, minimums_text: str, requirements_text: str) -> list[str]:
    """Everything wrong with the lock against the minimum versions and the top-level pins (empty: all is well)."""
    try:
        locked = read_lock(lock_text)
        minimums = read_minimums(minimums_text)
        top = read_top_level(requirements_text)
    except DependencyError as error:
        return [str(error)]
    found: list[str] = []
    for minimum in minimums.values():
        entry = locked.get(minimum.name)
        if entry is None:
            found.append(
                f"minimum-versions.txt names {minimum.name}, which the lock does not hold: "
                "drop the line, or fix the name"
            )
        elif entry.version < minimum.version:
            found.append(
                f"{minimum.name} {entry.version} is locked, older than the minimum safe {minimum.version} "
                f"({minimum.why}): raise it in requirements.txt (or pin it there) and run `make lock`"
            )
    for name, requirement in top.items():
        entry = locked.get(name)
        if entry is None:
            found.append(f"requirements.txt names {name}, which the lock does not hold: run `make lock`")
        elif not requirement.specifier.contains(entry.version, prereleases=True):
            found.append(
                f"requirements.txt wants {name}{requirement.specifier}, the lock has {entry.version}: run `make lock`"
            )
    return found


def check(lock: Path = LOCK, minimums: Path = MINIMUMS, requirements: Path = REQUIREMENTS) -> int:
    found = problems(lock.read_text(), minimums.read_text(), requirements.read_text())
    if found:
        sys.stderr.write(f"dependency check failed ({lock.name} against {minimums.name}):\n")
        sys.stderr.writelines(f"  - {problem}\n" for problem in found)
        return 1
    count = len(read_lock(lock.read_text()))
    listed = len(read_minimums(minimums.read_text()))
    sys.stdout.write(f"dependencies: {count} locked packages, {listed} at or above their minimum safe version\n")
    return 0


# ---- lock --------------------------------------------------------------------------------------------------------


def target_environment(platform: str) -> dict[str, str]:
    """The marker environment of the Lambda runtime's CPython on the platform's machine."""
    machine = platform.split("_", 1)[1]
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{PYTHON_VERSION}.0",
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{PYTHON_VERSION}.0",
        "python_version": PYTHON_VERSION,
        "sys_platform": "linux",
    }


def read_wheel(path: Path) -> Wheel:
    name, version, _, _ = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as archive:
        metadata_name = next(
            (item for item in archive.namelist() if item.count("/") == 1 and item.endswith(".dist-info/METADATA")),
            None,
        )
        if metadata_name is None:
            raise DependencyError(f"{path.name} has no .dist-info/METADATA")
        metadata = Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
    requires = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Wheel(name, version, digest, requires)


def applies(requirement: Requirement, environment: Mapping[str, str], extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    marker: Marker = requirement.marker
    return any(marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras))


def closure(
    top: Iterable[Requirement], wheels: Mapping[NormalizedName, Wheel], environment: Mapping[str, str]
) -> dict[NormalizedName, set[NormalizedName]]:
    """Every package the top-level requirements need on the target, each with the packages that need it."""
    needed_by: dict[NormalizedName, set[NormalizedName]] = {}
    extras: dict[NormalizedName, set[str]] = {}
    queue: list[tuple[Requirement, NormalizedName | None]] = [(requirement, None) for requirement in top]
    while queue:
        requirement, parent = queue.pop()
        if not applies(requirement, environment, extras.get(parent, set()) if parent else ()):
            continue
        name = canonicalize_name(requirement.name)
        wheel = wheels.get(name)
        if wheel is None:
            raise DependencyError(
                f"{parent or 'requirements.txt'} needs {requirement} on CPython {PYTHON_VERSION}, but pip (run by "
                f"Python {sys.version_info.major}.{sys.version_info.minor}) did not fetch it: its markers differ "
                f"for this Python; run `make lock` with a Python {PYTHON_VERSION}"
            )
        if not requirement.specifier.contains(wheel.version, prereleases=True):
            raise DependencyError(f"{parent or 'requirements.txt'} needs {requirement}, pip fetched {wheel.version}")
        new_extras = set(requirement.extras) - extras.get(name, set())
        first = name not in needed_by
        needed_by.setdefault(name, set())
        if parent is not None:
            needed_by[name].add(parent)
        if first or new_extras:
            extras.setdefault(name, set()).update(requirement.extras)
            queue.extend((dependency, name) for dependency in wheel.requires)
    return needed_by


def resolve(platform_wheels: Mapping[str, Iterable[Path]], top: Iterable[Requirement]) -> str:
    """The lock's text from each platform's downloaded wheels."""
    top = list(top)
    versions: dict[str, dict[NormalizedName, Version]] = {}
    hashes: dict[NormalizedName, set[str]] = {}
    needed_by: dict[NormalizedName, set[NormalizedName]] = {}
    for platform, paths in platform_wheels.items():
        wheels: dict[NormalizedName, Wheel] = {}
        for path in paths:
            wheel = read_wheel(path)
            if wheel.name in wheels:
                raise DependencyError(f"{platform}: two wheels of {wheel.name}")
            wheels[wheel.name] = wheel
        tree = closure(top, wheels, target_environment(platform))
        extra = sorted(set(wheels) - set(tree))
        if extra:
            raise DependencyError(
                f"{platform}: pip fetched {', '.join(extra)}, which CPython {PYTHON_VERSION} does not need: its "
                f"markers differ for Python {sys.version_info.major}.{sys.version_info.minor}; run `make lock` "
                f"with a Python {PYTHON_VERSION}"
            )
        versions[platform] = {name: wheel.version for name, wheel in wheels.items()}
        for name, wheel in wheels.items():
            hashes.setdefault(name, set()).add(wheel.sha256)
            needed_by.setdefault(name, set()).update(tree[name])
    first, *others = versions
    for platform in others:
        if versions[platform] != versions[first]:
            differing = sorted(
                name
                for name in set(versions[first]) | set(versions[platform])
                if versions[first].get(name) != versions[platform].get(name)
            )
            raise DependencyError(
                f"{first} and {platform} resolve differently ({', '.join(differing)}): pin those in "
                "requirements.txt so both platforms get the same versions"
            )
    top_names = {canonicalize_name(requirement.name) for requirement in top}
    lines = [HEADER.format(py=PYTHON_VERSION.replace(".", ""), platforms=" and ".join(platform_wheels))]
    for name in sorted(versions[first]):
        options = [f"--hash=sha256:{digest}" for digest in sorted(hashes[name])]
        lines.append(" \\\n    ".join([f"{name}=={versions[first][name]}", *options]))
        via = (["requirements.txt"] if name in top_names else []) + sorted(needed_by[name])
        lines.append(f"    # via {', '.join(via)}")
    return "\n".join(lines) + "\n"


def download(requirements: Path, platform: str, destination: Path) -> list[Path]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--quiet",
            "-r",
            str(requirements),
            "--platform",
            platform,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            "--dest",
            str(destination),
        ],
        check=True,
    )
    return sorted(destination.glob("*.whl"))


def lock(requirements: Path = REQUIREMENTS, output: Path = LOCK) -> int:
    top = list(read_top_level(requirements.read_text()).values())
    with tempfile.TemporaryDirectory(prefix="beacon-lock-") as scratch:
        wheels = {platform: download(requirements, platform, Path(scratch) / platform) for platform in PLATFORMS}
        text = resolve(wheels, top)
    output.write_text(text)
    sys.stdout.write(f"wrote {output} ({len(read_lock(text))} packages, {', '.join(PLATFORMS)})\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m admin.dependencies", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="offline: the lock against the minimum safe versions (make lint)")
    checking.add_argument("--lock", type=Path, default=LOCK)
    checking.add_argument("--minimums", type=Path, default=MINIMUMS)
    checking.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    locking = commands.add_parser("lock", help="re-resolve requirements.txt and rewrite the lock (needs PyPI)")
    locking.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    locking.add_argument("--output", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            code = check(args.lock, args.minimums, args.requirements)
        else:
            code = lock(args.requirements, args.output)
    except DependencyError as error:
        sys.stderr.write(f"error: {error}\n")
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
