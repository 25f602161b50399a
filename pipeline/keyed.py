"""Keyed outputs: a JSON file that counts as complete only when it names the current key.

A task's key hashes its inputs and the part of the config that matters to its stage; when
either changes, the old output is no longer "complete" and the task runs again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import luigi


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as stream:
        json.dump(payload, stream, indent=2, sort_keys=True, default=str)
        stream.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    with open(path) as stream:
        return json.load(stream)


class KeyedJsonTarget(luigi.LocalTarget):
    """A JSON file with a ``"key"`` entry; it exists for Luigi only when the key matches."""

    def __init__(self, path: str | Path, key: str) -> None:
        super().__init__(str(path))
        self.key = key

    def exists(self) -> bool:
        if not super().exists():
            return False
        try:
            return read_json(Path(self.path)).get("key") == self.key
        except (OSError, ValueError):
            return False

    def write(self, payload: dict) -> None:
        write_json_atomic(Path(self.path), {**payload, "key": self.key})

    def read(self) -> dict:
        return read_json(Path(self.path))
