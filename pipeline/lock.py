"""One build per output directory at a time: an exclusive ``flock`` on ``<out>/.build.lock``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

_held: dict[str, int] = {}


class BuildLockedError(RuntimeError):
    """Another build holds the output directory."""


def hold_build_lock(out_dir: Path) -> None:
    """Take the output directory's lock for the rest of this process (re-entrant).

    Raises :class:`BuildLockedError` at once, naming the holder's pid, if another process
    holds it: a second build refuses clearly instead of interleaving writes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ".build.lock"
    key = str(path.resolve())
    if key in _held:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise BuildLockedError(
            f"{path}: another build (pid {holder}) is running on this output directory; "
            "wait for it to finish or use another --build-out-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held[key] = fd
