"""The dashboard's static files as the read function serves them (beacon/gateway/dashboard.py): hashed, immutable
assets and a revalidated page, a strict CSP with nothing inline, and a page weight within the issue's budget."""

from __future__ import annotations

import gzip
import re

import pytest

from admin.dashboard import PAGE, vendor
from beacon.gateway.dashboard import ASSET_CACHE, HTML_CACHE, Dashboard, hashed_name

PAGE_WEIGHT_BUDGET = 300 * 1024  # HTML + JS + CSS, gzip-compressed (issue 19)


@pytest.fixture(scope="module")
def dashboard() -> Dashboard:
    vendor()  # `make dashboard`: uPlot from node_modules (package.json pins it)
    return Dashboard.load(PAGE)


def test_the_page_and_its_assets_weigh_at_most_300_kb_compressed(dashboard):
    files = [dashboard.index, *dashboard.assets.values()]
    weight = sum(len(gzip.compress(file.body.encode(), compresslevel=9)) for file in files)
    print(f"\ndashboard page weight: {weight / 1024:.1f} KiB gzip ({len(files)} files)")
    assert weight <= PAGE_WEIGHT_BUDGET


def test_assets_are_named_by_content_hash_and_the_page_references_exactly_those(dashboard):
    referenced = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', dashboard.index.body))
    assert referenced == set(dashboard.assets)
    for name, file in dashboard.assets.items():
        assert re.fullmatch(r"[\w.]+\.[0-9a-f]{8}\.(js|css)", name)
        assert file.cache_control == ASSET_CACHE
    assert dashboard.index.cache_control == HTML_CACHE == "no-cache"
    # A change of content is a new name (what makes `immutable` safe)
    assert hashed_name("app.js", "a") != hashed_name("app.js", "b")


def test_nothing_inline_and_a_strict_policy(dashboard):
    html = dashboard.index.body
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    policy = dashboard.index.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy


def test_the_secret_is_kept_in_session_storage_only():
    script = (PAGE / "app.js").read_text()
    assert "sessionStorage" in script
    assert "localStorage" not in script and "document.cookie" not in script and "console." not in script


def test_an_unknown_asset_is_none(dashboard):
    assert dashboard.asset("app.js") is None  # only hashed names are served
    assert dashboard.asset("../app.py") is None
