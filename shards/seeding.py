"""Per-sample random generators seeded by a stable hash of what the sample is."""

from __future__ import annotations

import hashlib

import numpy as np


def sample_seed(seed: int, dataset: str, scan_id: str, view: int) -> int:
    """A 128-bit integer from sha256 of ``seed|dataset|scan_id|view`` (stable across runs,
    processes and machines, unlike Python's ``hash``)."""
    key = f"{int(seed)}|{dataset}|{scan_id}|{int(view)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:16], "little")


def sample_rng(seed: int, dataset: str, scan_id: str, view: int) -> np.random.Generator:
    """The generator of every random choice of one sample (view, light, augmentation)."""
    return np.random.Generator(np.random.PCG64(sample_seed(seed, dataset, scan_id, view)))
