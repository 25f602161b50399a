"""Keyed outputs: a JSON file that counts as complete only when it names the current key.

A task's key hashes its inputs and the part of the config that matters to its stage; when
either changes, the old output is no longer "complete" and the task runs again.
"""

from __future__ import annotations

import json
from pathlib import Path

import luigi

from atomicfile import write_json


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
        write_json(Path(self.path), {**payload, "key": self.key}, default=str)

    def read(self) -> dict:
        return read_json(Path(self.path))
