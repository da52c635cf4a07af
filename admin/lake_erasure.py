"""The lake's part of an erasure: a rewrite of the project's Parquet files without the person's rows.

The lake is plain Parquet partitioned by project and day (docs/LAKE.md), with no row-level deletes, so each file
of the project that holds a matching row is rewritten without it (DuckDB, zstd, as Firehose's conversion and the
local sink write it) and put back under the same name; a file left empty is deleted. Files without a match are
read (their matching-row count) but not written. A rewrite is atomic per file (a rename locally, one PutObject in
S3), and matching is by content, so a run killed halfway is completed by running it again.

It runs where DuckDB is installed: the operator's `./beacon profiles erase` (and the tests and the bench), over
`.local/lake` locally or the stack's lake bucket with `--stack-name` (ListObjectsV2, GetObject, PutObject and
DeleteObject on `events/project=<p>/`). The Lambda layer has no Parquet library (the package-size budget, §42).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from beacon.domain.erasure import ErasureScope
from beacon.domain.lake_sql import LakeScope


class LakeFiles(Protocol):
    """The lake's files of one project, by name relative to the lake root (`events/project=<p>/day=<d>/<f>`)."""

    def list(self, project_id: str) -> list[str]: ...
    def read(self, name: str, into: Path) -> int: ...
    def write(self, name: str, source: Path) -> int: ...
    def delete(self, name: str) -> None: ...


def project_prefix(project_id: str) -> str:
    return f"events/project={LakeScope(project_id).project_id}/"  # LakeScope validates the id: a path segment


@dataclass
class DirectoryLakeFiles:
    """The local lake (`.local/lake`, BEACON_LAKE_DIR)."""

    root: Path

    def list(self, project_id: str) -> list[str]:
        directory = self.root / project_prefix(project_id)
        return sorted(str(path.relative_to(self.root)) for path in directory.glob("day=*/*.parquet"))

    def read(self, name: str, into: Path) -> int:
        into.write_bytes((self.root / name).read_bytes())
        return into.stat().st_size

    def write(self, name: str, source: Path) -> int:
        target = self.root / name
        staged = target.with_name(f".erasure-{target.name}")
        staged.write_bytes(source.read_bytes())
        os.replace(staged, target)  # atomic: a reader sees the old file or the new one
        return target.stat().st_size

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)


@dataclass
class S3LakeFiles:
    """The stack's lake bucket (stack output `LakeBucketName`)."""

    bucket: str
    client: Any

    def list(self, project_id: str) -> list[str]:
        names: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=project_prefix(project_id)
        ):
            names.extend(entry["Key"] for entry in page.get("Contents", []) if entry["Key"].endswith(".parquet"))
        return sorted(names)

    def read(self, name: str, into: Path) -> int:
        self.client.download_file(self.bucket, name, str(into))
        return into.stat().st_size

    def write(self, name: str, source: Path) -> int:
        self.client.upload_file(str(source), self.bucket, name)
        return source.stat().st_size

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=name)


# The person's rows: identified events of one of the ids, and (link rule) anonymous events of the devices (the lake
# gives an anonymous event its device id as `profile_id`, so `identified` tells them apart). The ids are bound as
# parameters; a NULL never matches, so `NOT (…)` never drops another person's row.
MATCHING_ROWS = (
    "coalesce((identified AND list_contains($ids, profile_id))"
    " OR ($linked AND NOT identified AND list_contains($devices, device_id)), false)"
)


def match_parameters(scope: ErasureScope) -> dict[str, Any]:
    return {
        "ids": sorted(scope.profile_ids),
        "devices": sorted(scope.device_ids),
        "linked": scope.linked_devices,
    }


def _source(local: Path) -> str:
    # The partition columns live in the path, not in the file: read the file alone, as it is written.
    return f"read_parquet('{local}', hive_partitioning = false)"


@dataclass
class ParquetLakeEraser:
    """A StoreEraser over the lake. `bytes_read` / `bytes_written`: what the last run moved (the bench's figure)."""

    files: LakeFiles
    name: str = "lake"
    bytes_read: int = 0
    bytes_written: int = 0

    def _scan(self, scope: ErasureScope) -> Iterator[tuple[str, Path, int, Any]]:
        import duckdb

        with tempfile.TemporaryDirectory(prefix="beacon-erasure-") as work, duckdb.connect() as connection:
            for number, name in enumerate(self.files.list(scope.project_id)):
                local = Path(work) / f"{number}.parquet"
                self.bytes_read += self.files.read(name, local)
                source = _source(local)
                row = connection.execute(
                    f"SELECT count(*) FROM {source} WHERE {MATCHING_ROWS}",  # noqa: S608 - our own temporary path
                    match_parameters(scope),
                ).fetchone()
                matched = int(row[0]) if row else 0
                yield name, local, matched, connection
                local.unlink(missing_ok=True)

    def erase(self, scope: ErasureScope) -> Iterator[int]:
        self.bytes_read = self.bytes_written = 0
        for name, local, matched, connection in self._scan(scope):
            if not matched:
                continue
            source = _source(local)
            remaining = connection.execute(f"SELECT count(*) FROM {source}").fetchone()  # noqa: S608 - as above
            if remaining and int(remaining[0]) == matched:
                self.files.delete(name)
            else:
                rewritten = local.with_name(f"{local.stem}-rewritten.parquet")
                connection.execute(
                    f"COPY (SELECT * FROM {source} WHERE NOT {MATCHING_ROWS}) TO '{rewritten}' "  # noqa: S608
                    "(FORMAT parquet, COMPRESSION zstd)",
                    match_parameters(scope),
                )
                self.bytes_written += self.files.write(name, rewritten)
                rewritten.unlink(missing_ok=True)
            yield matched

    def count(self, scope: ErasureScope) -> int:
        return sum(matched for _, _, matched, _ in self._scan(scope))
