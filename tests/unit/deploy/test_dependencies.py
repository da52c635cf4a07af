"""The layer's lock: complete, hashed, in step with requirements.txt, and no older than the minimum safe versions."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from admin.dependencies import (
    LOCK,
    MINIMUMS,
    PLATFORMS,
    REQUIREMENTS,
    DependencyError,
    main,
    problems,
    read_lock,
    read_minimums,
    read_top_level,
    resolve,
)

LAYER_MAKEFILE = REQUIREMENTS.parent / "Makefile"


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["check", *args])
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out + captured.err


def files(tmp_path: Path, lock: str, minimums: str, requirements: str = "") -> list[str]:
    (tmp_path / "requirements.lock").write_text(lock)
    (tmp_path / "minimum-versions.txt").write_text(minimums)
    (tmp_path / "requirements.txt").write_text(requirements)
    return [
        f"--lock={tmp_path / 'requirements.lock'}",
        f"--minimums={tmp_path / 'minimum-versions.txt'}",
        f"--requirements={tmp_path / 'requirements.txt'}",
    ]


HASH_A = "a" * 64
HASH_B = "b" * 64
SMALL_LOCK = f"""\
# a comment
urllib3==2.5.0 \\
    --hash=sha256:{HASH_A}
    # via botocore
idna==3.20 \\
    --hash=sha256:{HASH_A} \\
    --hash=sha256:{HASH_B}
"""


# ---- the committed files -----------------------------------------------------------------------------------------


def test_the_real_lock_passes_the_check(capsys):
    # Given the committed lock, table and requirements, when checked offline, then all is well
    code, output = run_check(capsys)
    assert code == 0, output
    assert "locked packages" in output


def test_the_lock_pins_every_top_level_requirement_at_requirements_txt_version():
    # The dev venv installs requirements.txt, the layer the lock: both must mean the same top-level versions
    locked = read_lock(LOCK.read_text())
    top = read_top_level(REQUIREMENTS.read_text())
    assert top, "requirements.txt names no package"
    for name, requirement in top.items():
        assert name in locked, f"{name} is in requirements.txt but not in the lock: run `make lock`"
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        assert pins == [str(locked[name].version)], (
            f"{name}: requirements.txt {requirement.specifier}, lock {locked[name].version}"
        )


def test_every_locked_package_has_one_exact_version_and_a_hash_per_platform_at_most():
    locked = read_lock(LOCK.read_text())
    for entry in locked.values():
        assert 1 <= len(entry.hashes) <= len(PLATFORMS), entry


def test_the_table_names_only_locked_packages_and_each_line_says_why():
    locked = read_lock(LOCK.read_text())
    for minimum in read_minimums(MINIMUMS.read_text()).values():
        assert minimum.name in locked
        assert minimum.why


def test_the_layer_build_installs_the_lock_with_hashes_and_nothing_else():
    recipe = LAYER_MAKEFILE.read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in recipe
    assert "-r requirements.txt" not in recipe


# ---- the check on made-up files ----------------------------------------------------------------------------------


def test_a_locked_version_older_than_its_minimum_fails(tmp_path, capsys):
    args = files(tmp_path, SMALL_LOCK, "urllib3>=2.8.0  # CVE-2026-97688, 2026-09-29\n")
    code, output = run_check(capsys, *args)
    assert code == 1
    assert "urllib3 2.5.0 is locked, older than the minimum safe 2.8.0 (CVE-2026-97688, 2026-09-29)" in output


def test_a_locked_version_at_or_above_its_minimum_passes(tmp_path, capsys):
    args = files(tmp_path, SMALL_LOCK, "urllib3>=2.5.0  # at the minimum\nidna>=3.15  # above it\n")
    assert run_check(capsys, *args)[0] == 0


def test_versions_compare_as_versions_not_text():
    # 3.20 is newer than 3.15 (as text it sorts before), and a post-release is newer than its release
    lock = SMALL_LOCK + f"python-dateutil==2.9.0.post0 \\\n    --hash=sha256:{HASH_A}\n"
    assert problems(lock, "idna>=3.15  # x\npython-dateutil>=2.9.0  # y\n", "") == []
    assert problems(lock, "idna>=3.100  # x\n", "") != []


def test_a_minimum_for_a_package_the_lock_does_not_hold_fails(tmp_path, capsys):
    args = files(tmp_path, SMALL_LOCK, "certifi>=2024.7.4  # CVE-2024-39689\n")
    code, output = run_check(capsys, *args)
    assert code == 1
    assert "names certifi, which the lock does not hold" in output


def test_names_match_whatever_their_spelling():
    lock = f"Typing_Extensions==4.16.0 \\\n    --hash=sha256:{HASH_A}\n"
    assert problems(lock, "typing.extensions>=4.16  # x\n", "") == []


@pytest.mark.parametrize(
    "line",
    ["urllib3>=2.8.0", "urllib3==2.8.0  # pinned", "urllib3>=  # no version", "urllib3>=two  # bad version"],
)
def test_a_table_line_without_a_reason_or_a_minimum_is_refused(line):
    found = problems(SMALL_LOCK, line + "\n", "")
    assert len(found) == 1
    assert "minimum-versions line 1" in found[0]


@pytest.mark.parametrize(
    ("lock", "expected"),
    [
        ("idna==3.20\n", "needs --hash=sha256"),
        (f"idna>=3.20 \\\n    --hash=sha256:{HASH_A}\n", "not pinned with =="),
        (f"idna==3.* \\\n    --hash=sha256:{HASH_A}\n", "not pinned with =="),
        ("idna==3.20 \\\n    --hash=sha256:abc\n", "malformed sha256"),
        (f"idna==3.20 --hash=sha256:{HASH_A}\nIDNA==3.20 --hash=sha256:{HASH_A}\n", "locked twice"),
    ],
)
def test_a_lock_entry_without_one_exact_pin_and_hashes_is_refused(lock, expected):
    found = problems(lock, "", "")
    assert len(found) == 1
    assert expected in found[0]


def test_a_top_level_pin_the_lock_disagrees_with_fails(tmp_path, capsys):
    args = files(tmp_path, SMALL_LOCK, "", "# top\nidna==3.21\nmaxminddb==3.2.0\n")
    code, output = run_check(capsys, *args)
    assert code == 1
    assert "requirements.txt wants idna==3.21, the lock has 3.20" in output
    assert "requirements.txt names maxminddb, which the lock does not hold" in output


# ---- the lock's generation, from made-up wheels ------------------------------------------------------------------


def wheel(directory: Path, name: str, version: str, tag: str, requires: Sequence[str] = (), content: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{stem}-{tag}.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {requirement}\n" for requirement in requires
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{stem}.dist-info/METADATA", metadata)
        archive.writestr(f"{name.replace('-', '_')}/__init__.py", content or tag)
    return path


def made_up_tree(root: Path, core_version_on_x86: str = "2.0") -> dict[str, list[Path]]:
    platforms: dict[str, list[Path]] = {}
    for platform in PLATFORMS:
        directory = root / platform
        core = core_version_on_x86 if platform.endswith("x86_64") else "2.0"
        platforms[platform] = [
            wheel(directory, "app", "1.0", "py3-none-any", ["core>=2", 'mail; extra == "email"'], content="same"),
            wheel(directory, "core", core, f"cp313-cp313-{platform}", ['legacy; python_version < "3.12"']),
            wheel(directory, "mail", "0.5", "py3-none-any", content="same"),
        ]
    return platforms


def test_the_lock_holds_every_package_with_each_platforms_hash(tmp_path):
    text = resolve(made_up_tree(tmp_path), [Requirement("app[email]==1.0")])
    locked = read_lock(text)
    assert {name: str(entry.version) for name, entry in locked.items()} == {"app": "1.0", "core": "2.0", "mail": "0.5"}
    # A pure-Python wheel is one file for both platforms; a binary one has a wheel (and a hash) per platform
    assert len(locked[canonicalize_name("app")].hashes) == 1
    assert len(locked[canonicalize_name("core")].hashes) == 2
    assert "    # via app" in text
    assert problems(text, "core>=2.0  # x\n", "app[email]==1.0\n") == []


def test_platforms_resolving_different_versions_stop_the_lock(tmp_path):
    with pytest.raises(DependencyError, match=r"resolve differently \(core\)"):
        resolve(made_up_tree(tmp_path, core_version_on_x86="2.1"), [Requirement("app[email]==1.0")])


def test_a_package_only_the_build_pythons_markers_wanted_stops_the_lock(tmp_path):
    # Given pip run by an older Python fetched `legacy` (needed below 3.12 only), when locked for 3.13, then it stops
    tree = made_up_tree(tmp_path)
    for platform, paths in tree.items():
        paths.append(wheel(tmp_path / platform, "legacy", "1.0", "py3-none-any"))
    with pytest.raises(DependencyError, match=r"pip fetched legacy, which CPython 3\.13 does not need"):
        resolve(tree, [Requirement("app[email]==1.0")])


def test_a_package_the_target_needs_but_pip_did_not_fetch_stops_the_lock(tmp_path):
    tree = made_up_tree(tmp_path)
    for paths in tree.values():
        paths[:] = [path for path in paths if not path.name.startswith("mail-")]
    with pytest.raises(DependencyError, match="needs mail"):
        resolve(tree, [Requirement("app[email]==1.0")])
