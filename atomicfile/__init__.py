"""Atomic file writes shared by every stage: write a temporary file beside the target, then
rename it onto the target (``os.replace``: atomic within one file system), so a reader never
sees a half-written file and a killed writer leaves at most a hidden temporary behind.

Temporary names are ``.<name>.tmp-<random>-<pid>`` in the target's folder: hidden, unique per
writer, and naming the process that writes them (``keep_suffix`` appends the target's suffix,
for writers that choose a format by it or append their own, like ``np.savez``).
Depends on the standard library only, so any stage package may import it (it never imports
``pipeline``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FILE_MODE = 0o644
"""Permissions of finished files."""


def temporary_name(path: str | Path, keep_suffix: bool = False) -> Path:
    """A fresh temporary path beside ``path`` (not created)."""
    path = Path(path)
    suffix = path.suffix if keep_suffix else ""
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}-{os.getpid()}{suffix}")


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (its folder is created); when the block
    succeeds the file written there is renamed onto ``path``, otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path, keep_suffix)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: str | Path, write: Callable[[Path], Any],
                 keep_suffix: bool = False) -> Path:
    """Call ``write(temporary_path)`` and move the file it wrote onto ``path``; returns
    ``path``."""
    with atomic_path(path, keep_suffix) as temporary:
        write(temporary)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomic(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, value: Any, **dumps: Any) -> Path:
    """Write ``json.dumps(value, **dumps)`` and a final newline to ``path`` atomically
    (default ``indent=2, sort_keys=True``)."""
    options = {"indent": 2, "sort_keys": True, **dumps}
    return write_text(path, json.dumps(value, **options) + "\n")
