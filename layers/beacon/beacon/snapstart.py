"""Lambda SnapStart (template parameter EnableSnapStart): work done before the snapshot is never repeated by
a cold start that restores it.

Only work with no per-instance state belongs here: building parsers and clients is fine; creating ids,
random seeds or secrets' values is not, since every restored instance would share them (Beacon makes all of
those per request, from os.urandom). `snapshot_restore_py` ships with Lambda's managed Python runtimes;
elsewhere (tests, the local stack) there is no snapshot and nothing is registered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def before_snapshot(*hooks: Callable[[], object]) -> bool:
    """Run these when Lambda takes the snapshot (never without SnapStart); whether the runtime offers hooks."""
    try:
        runtime = importlib.import_module("snapshot_restore_py")
    except ImportError:
        return False
    for hook in hooks:
        runtime.register_before_snapshot(hook)
    return True
