"""Reconstruction error as the benchmark measures it: 7-landmark alignment, then the distance
from ground-truth surface points to the reconstructed surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from fitting.align import ALIGNMENT_LANDMARKS, Similarity, umeyama

CANDIDATE_TRIANGLES = 16
"""Triangles (nearest centroids) searched per query point for the closest surface point."""


def point_segment_sq_dist(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distance (N,) of points (N, 3) to segments a-b (N, 3)."""
    ab = b - a
    t = np.einsum("ij,ij->i", points - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-30)
    closest = a + np.clip(t, 0.0, 1.0)[:, None] * ab
    return ((points - closest) ** 2).sum(axis=1)


def point_triangle_sq_dist(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Squared distance (N,) of points (N, 3) to triangles (N, 3 corners, 3)."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    normal = np.cross(b - a, c - a)
    area2 = np.einsum("ij,ij->i", normal, normal)
    unit = normal / np.sqrt(np.maximum(area2, 1e-30))[:, None]
    height = np.einsum("ij,ij->i", points - a, unit)
    foot = points - height[:, None] * unit
    # Inside test: the foot lies on the inner side of all three edges.
    inside = np.ones(len(points), dtype=bool)
    for p, q in ((a, b), (b, c), (c, a)):
        inside &= np.einsum("ij,ij->i", np.cross(q - p, foot - p), normal) >= 0
    edges = np.minimum.reduce([point_segment_sq_dist(points, a, b),
                               point_segment_sq_dist(points, b, c),
                               point_segment_sq_dist(points, c, a)])
    return np.where(inside & (area2 > 0), height**2, edges)


def point_to_surface(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Distance (N,) from points (N, 3) to the triangle mesh (verts (V, 3), faces (F, 3)),
    same unit as the input; exact over the ``CANDIDATE_TRIANGLES`` triangles whose centroids
    are nearest each point."""
    triangles = np.asarray(verts, dtype=np.float64)[faces]
    k = min(CANDIDATE_TRIANGLES, len(faces))
    _, candidates = cKDTree(triangles.mean(axis=1)).query(points, k=k)
    candidates = candidates.reshape(len(points), k)
    repeated = np.repeat(np.asarray(points, dtype=np.float64), k, axis=0)
    sq = point_triangle_sq_dist(repeated, triangles[candidates.ravel()]).reshape(-1, k)
    return np.sqrt(sq.min(axis=1))


def landmarks_of(verts: np.ndarray, faces: np.ndarray, lmk_faces: np.ndarray,
                 lmk_bary: np.ndarray) -> np.ndarray:
    """(L, 3) landmarks of a model-topology mesh (V, 3) from its embedding."""
    return np.einsum("lkc,lk->lc", np.asarray(verts)[faces[lmk_faces]], lmk_bary)


@dataclass(frozen=True)
class SurfaceError:
    """Ground truth -> reconstruction distances over the measured region, millimetres."""

    mean_mm: float
    median_mm: float
    alignment: Similarity


def aligned_error(recon_verts: np.ndarray, truth_verts: np.ndarray, faces: np.ndarray,
                  lmk_faces: np.ndarray, lmk_bary: np.ndarray, region: np.ndarray,
                  with_scale: bool = True) -> SurfaceError:
    """Align a reconstruction to the ground truth on the 7 landmarks and measure it.

    Parameters
    ----------
    recon_verts, truth_verts : (V, 3) metres, both in model topology (any frames)
    faces : (F, 3); lmk_faces (L,), lmk_bary (L, 3) : the model's landmark embedding
    region : (k,) vertex ids of the ground truth measured (e.g. the FLAME face mask)
    with_scale : similarity (True) or rigid (False) Umeyama alignment

    Returns
    -------
    SurfaceError: mean and median of the distance from each region vertex of the ground truth
    to the aligned reconstruction's surface, and the alignment applied to the reconstruction
    """
    lmk_ids = list(ALIGNMENT_LANDMARKS)
    recon_lmk = landmarks_of(recon_verts, faces, lmk_faces, lmk_bary)[lmk_ids]
    truth_lmk = landmarks_of(truth_verts, faces, lmk_faces, lmk_bary)[lmk_ids]
    transform = umeyama(recon_lmk, truth_lmk, with_scale=with_scale)
    distances_m = point_to_surface(np.asarray(truth_verts)[region],
                                   transform.apply(recon_verts), faces)
    return SurfaceError(mean_mm=float(1e3 * distances_m.mean()),
                        median_mm=float(1e3 * np.median(distances_m)), alignment=transform)
