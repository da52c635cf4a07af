"""The dashboard's static files (docs/DASHBOARD.md), served by the read function under /dashboard/.

The directory holds index.html, the page's script and style, and vendor/ (uPlot, copied from node_modules by
`make dashboard`). At cold start every asset is read once and named by its content hash (`app.<hash>.js`), and
index.html's references are rewritten to those names: the HTML is revalidated on every load (no-cache), the
hashed assets are immutable for a year. Every answer carries a strict Content-Security-Policy: scripts, styles
and fetches from the page's own origin only, nothing inline, no frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HTML_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The page's own files, then uPlot's (the order index.html loads them in).
ASSETS = ("vendor/uPlot.min.css", "app.css", "vendor/uPlot.iife.min.js", "app.js")


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: str
    content_type: str
    cache_control: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Cache-Control": self.cache_control,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }


def hashed_name(path: str, body: str) -> str:
    """`vendor/uPlot.min.css` → `uPlot.min.<8 hex of its sha256>.css` (flat: one path segment)."""
    name = path.rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    digest = hashlib.sha256(body.encode()).hexdigest()[:8]
    return f"{stem}.{digest}{dot}{extension}"


@dataclass(frozen=True, slots=True)
class Dashboard:
    index: StaticFile
    assets: dict[str, StaticFile]  # by hashed name

    @classmethod
    def load(cls, root: Path) -> Dashboard:
        """The page and its assets from `root`; FileNotFoundError when a file is missing (`make dashboard`)."""
        html = (root / "index.html").read_text(encoding="utf-8")
        assets: dict[str, StaticFile] = {}
        for path in ASSETS:
            body = (root / path).read_text(encoding="utf-8")
            name = hashed_name(path, body)
            reference = f'"{path}"'
            if reference not in html:
                raise ValueError(f"index.html does not reference {path}")
            html = html.replace(reference, f'"{name}"')
            assets[name] = StaticFile(body, MEDIA_TYPES[Path(path).suffix], ASSET_CACHE)
        return cls(StaticFile(html, "text/html; charset=utf-8", HTML_CACHE), assets)

    def asset(self, name: str) -> StaticFile | None:
        return self.assets.get(name)
