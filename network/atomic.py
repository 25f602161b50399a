"""Atomic writes for ``network``: the shared :mod:`atomicfile` helpers, under the names older
imports use (``faces/`` imports them from here)."""

from atomicfile import atomic_path, write_atomic, write_json

__all__ = ["atomic_path", "write_atomic", "write_json"]
