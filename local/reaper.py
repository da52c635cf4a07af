"""`make run`'s session reaper: functions/reaper/app.py every SESSION_REAPER_SECONDS (default 60), as EventBridge's
schedule runs it in AWS every minute, on a daemon thread. SESSION_TIMEOUT_SECONDS shortens the timeout itself."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from beacon.observability import logger
from local.template import import_function

REAPER_FUNCTION = Path(__file__).resolve().parent.parent / "functions" / "reaper" / "app.py"


def reaper_seconds() -> float:
    return float(os.environ.get("SESSION_REAPER_SECONDS", "60"))


def load_reaper_function(environment: dict[str, str] | None = None) -> ModuleType:
    """functions/reaper/app.py under the template's environment for it (one warm container)."""
    loaded = sys.modules.get("beacon_local_fn_ReaperFunction")
    if loaded is not None:
        return loaded
    for key, value in (environment or {}).items():
        os.environ.setdefault(key, value)
    return import_function("ReaperFunction", REAPER_FUNCTION)


@dataclass
class LocalReaper:
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, environment: dict[str, str]) -> None:
        module = load_reaper_function(environment)
        interval = reaper_seconds()

        def loop() -> None:
            while not self.stop.wait(interval):
                try:
                    module.run_reaper()
                except Exception:  # noqa: BLE001 - the next run repeats what this one did not finish, as in AWS
                    logger.exception("session reaper run failed")

        self.thread = threading.Thread(target=loop, name="session-reaper", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
