"""Small transforms shared by the adapters: similarities, unit checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scans.errors import ScanError

HEAD_SIZE_RANGE_M = (0.05, 1.0)
"""A scan's largest bounding-box extent, in metres after conversion, must lie in this range."""


def similarity(scale: float = 1.0, rotation: np.ndarray | None = None,
               translation: np.ndarray | None = None) -> np.ndarray:
    """(4, 4) matrix of ``x -> scale * R x + t``."""
    out = np.eye(4)
    out[:3, :3] = scale * (np.eye(3) if rotation is None else np.asarray(rotation, np.float64))
    if translation is not None:
        out[:3, 3] = translation
    return out


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (n, 3) mapped by a (4, 4) matrix (affine part only)."""
    return points @ transform[:3, :3].T + transform[:3, 3]


def check_size_m(verts_m: np.ndarray, path: str | Path) -> None:
    """Raise ScanError when a converted scan is implausibly large or small (wrong units)."""
    extent = float((verts_m.max(axis=0) - verts_m.min(axis=0)).max())
    low, high = HEAD_SIZE_RANGE_M
    if not low <= extent <= high:
        raise ScanError(path, f"scan is {extent:.4g} m across after conversion to metres "
                              f"(expected {low}-{high} m): wrong units?")


def w2c_from_rt(rt: np.ndarray) -> np.ndarray:
    """(4, 4) from a (3, 4) world-to-camera ``[R | t]``."""
    out = np.eye(4)
    out[:3, :4] = rt
    return out
