"""The local stack's state files that hold secrets, for their owner's eyes only.

`.local/generated-secrets.json` keeps the template's generated secrets (the stack secret behind device ids) and
`.local/clients.json` the clients' secret hashes. Each is written 0600 from the moment it exists (never readable by
others even briefly, whatever the umask), replaced atomically, in a 0700 directory; files an older version left
readable are made private when the stack starts and reads them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_directory(path: Path) -> None:
    """`path` created 0700, or an existing one made 0700 when it is a directory of its own: never a shared one
    such as /tmp (sticky) or one someone else owns (BEACON_STATE_DIR may point anywhere)."""
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
    except FileExistsError:
        info = path.stat()
        if info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid():
            return
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask; an existing directory keeps its own


def make_private(path: Path) -> None:
    """An existing state file made 0600, and its directory 0700 (what an older version left readable)."""
    private_directory(path.parent)
    if path.exists():
        path.chmod(PRIVATE_FILE_MODE)


def write_private(path: Path, text: str) -> None:
    """`text` written to `path` atomically (a crash mid-write never leaves half a file), 0600 from creation."""
    private_directory(path.parent)
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), PRIVATE_FILE_MODE)  # a leftover partial file keeps its old mode through O_CREAT
        file.write(text)
    os.replace(partial, path)
