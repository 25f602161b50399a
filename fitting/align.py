"""Similarity / rigid alignment of point sets (Umeyama 1991)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGNMENT_LANDMARKS = (36, 39, 42, 45, 30, 48, 54)
"""Multi-PIE indices of the 7 benchmark landmarks: eye corners, nose tip, mouth corners."""


@dataclass(frozen=True)
class Similarity:
    """``x -> scale * rotation @ x + translation``; rotation (3, 3), translation (3,) metres."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform (N, 3) points."""
        return self.scale * np.asarray(points) @ self.rotation.T + self.translation


def umeyama(source: np.ndarray, target: np.ndarray, with_scale: bool = True) -> Similarity:
    """The similarity (or rigid, ``with_scale=False``) transform taking ``source`` onto
    ``target`` in the least-squares sense.

    Parameters
    ----------
    source, target : (N, 3) corresponding points, N >= 3 not collinear
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[0] < 3:
        raise ValueError(f"umeyama: need two (N, 3) sets with N >= 3, got {source.shape} "
                         f"and {target.shape}")
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - mean_s, target - mean_t
    covariance = dst.T @ src / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / (src**2).sum(axis=1).mean()) if with_scale else 1.0
    translation = mean_t - scale * rotation @ mean_s
    return Similarity(scale=scale, rotation=rotation, translation=translation)
