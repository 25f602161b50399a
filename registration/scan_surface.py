"""The scan as a search structure: points, a k-d tree, and unit normals (from the triangles,
or estimated from neighbours for a point cloud)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from geometry import vertex_normals


class ScanSurface:
    """Nearest-point queries on a scan.

    Parameters
    ----------
    points_m : (N, 3) float64, metres, scan frame
    faces : (M, 3) int or None; with triangles the normals are the mesh's vertex normals
        (oriented), without them they are fitted to the ``k_normal`` nearest points
        (unoriented: callers orient them against the model's normals)
    """

    def __init__(self, points_m: np.ndarray, faces: np.ndarray | None = None,
                 k_normal: int = 10) -> None:
        self.points_m = points_m
        self.tree = cKDTree(points_m)
        self.k_normal = k_normal
        self.oriented = faces is not None
        self._normals = np.full_like(points_m, np.nan)
        if faces is not None:
            normals = vertex_normals(points_m, faces)
            has = np.linalg.norm(normals, axis=1) > 0
            self._normals[has] = normals[has]

    def subset(self, n_points: int, seed: int = 0) -> ScanSurface:
        """The same scan thinned to a random ``n_points`` (itself when it has no more): a
        cheaper search structure for coarse steps. Mesh normals carry over; a point cloud's
        are estimated anew from the thinned neighbours."""
        if len(self.points_m) <= n_points:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.points_m), n_points,
                                                          replace=False))
        thinned = ScanSurface(self.points_m[keep], None, self.k_normal)
        if self.oriented:
            thinned.oriented = True
            thinned._normals = self._normals[keep]
        return thinned

    def nearest(self, queries_m: np.ndarray,
                max_distance_m: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Distances (n,) metres (inf when none within ``max_distance_m``) and point indices
        (n,) (N when none)."""
        return self.tree.query(queries_m, distance_upper_bound=max_distance_m)

    def normals(self, point_ids: np.ndarray) -> np.ndarray:
        """Unit normals (n, 3) at scan points ``point_ids``; estimated once and cached."""
        missing = np.unique(point_ids[np.isnan(self._normals[point_ids, 0])])
        if missing.size:
            _, neighbours = self.tree.query(self.points_m[missing], k=self.k_normal)
            local = self.points_m[neighbours]
            local = local - local.mean(axis=1, keepdims=True)
            _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", local, local))
            self._normals[missing] = vectors[:, :, 0]
        return self._normals[point_ids]
