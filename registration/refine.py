"""Non-rigid refinement: smooth per-vertex offsets that carry the model fit onto the scan.

Each iteration matches every free model vertex to its nearest scan point, rejects the match
beyond a distance or past a normal angle, and targets the scan's tangent plane through that
point (so the offset moves the vertex along the normal). Where a correspondence signal says
where a vertex belongs (:class:`PointTargets`: a prior in model topology, landmarks), the
target also moves sideways, within the tangent plane, toward that point, so the surface stays
on the scan while the vertex slides to its place. The offsets solve

    min_D  sum_i w_i |x_i + d_i - q_i|^2 + sum_l u_l |b_l . (X + D) - p_l|^2
           + lambda tr(D^T L D) + epsilon |D|^2

with L the mesh's graph Laplacian (the membrane energy: squared offset differences along
every edge), b_l the barycentric row of target point l (one sparse LU per iteration, about
0.1 s for FLAME). Where the scan has holes, or outliers were rejected, the offsets are the
smooth continuation of their neighbours' (the model's shape stays); parts without edges to
the face (the eyeballs) keep the fit's rigid placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from geometry import vertex_normals
from registration.scan_surface import ScanSurface
from registration.settings import RegistrationSettings


@dataclass(frozen=True)
class PointTargets:
    """Where points of the model mesh belong on the scan.

    Attributes
    ----------
    corners : (L, 3) int, model vertices of each point's triangle (``[i, i, i]`` for vertex i)
    bary : (L, 3) float, barycentric weights of each point in its triangle
    points_m : (L, 3) float, scan frame, metres: where each point belongs
    weights : (L,) float, each target's weight relative to one vertex's scan term
    """

    corners: np.ndarray
    bary: np.ndarray
    points_m: np.ndarray
    weights: np.ndarray

    @classmethod
    def for_vertices(cls, vertex_ids: np.ndarray, points_m: np.ndarray,
                     weight: float) -> PointTargets:
        """Targets (k,) for whole vertices ``vertex_ids`` (k,) at ``points_m`` (k, 3)."""
        ids = np.asarray(vertex_ids, dtype=np.int64)
        bary = np.zeros((len(ids), 3))
        bary[:, 0] = 1.0
        return cls(np.repeat(ids[:, None], 3, axis=1), bary, np.asarray(points_m, float),
                   np.full(len(ids), float(weight)))

    def matrix(self, n_vertices: int) -> scipy.sparse.csr_matrix:
        """(L, V) rows of barycentric weights: ``matrix @ verts`` gives the points."""
        rows = np.repeat(np.arange(len(self.corners)), 3)
        return scipy.sparse.csr_matrix((self.bary.ravel(), (rows, self.corners.ravel())),
                                       shape=(len(self.corners), n_vertices))

    @staticmethod
    def concatenate(parts: list[PointTargets]) -> PointTargets | None:
        """All targets of ``parts`` in one (None when there are none)."""
        parts = [p for p in parts if p is not None and len(p.corners)]
        if not parts:
            return None
        return PointTargets(*(np.concatenate([getattr(p, name) for p in parts])
                              for name in ("corners", "bary", "points_m", "weights")))


def graph_laplacian(faces: np.ndarray, n_vertices: int) -> scipy.sparse.csr_matrix:
    """Uniform graph Laplacian (V, V): degree on the diagonal, -1 per mesh edge."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                        shape=(n_vertices, n_vertices))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - adjacency).tocsr()


def onto_scan(points_m: np.ndarray, surface: ScanSurface, max_distance_m: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point (n, 3) moved onto the scan's tangent plane at its nearest scan point, a
    bool mask (n,) of the points with a scan point within ``max_distance_m`` (the others stay),
    and the scan normals (n, 3) there (zero rows where none)."""
    dist, ids = surface.nearest(points_m, max_distance_m)
    found = np.isfinite(dist)
    out = points_m.copy()
    normals = np.zeros_like(points_m)
    normals[found] = surface.normals(ids[found])
    along = ((surface.points_m[ids[found]] - points_m[found]) * normals[found]).sum(axis=1)
    out[found] += along[:, None] * normals[found]
    return out, found, normals


def refine_offsets(fit_verts_m: np.ndarray, faces: np.ndarray, surface: ScanSurface,
                   free: np.ndarray, laplacian: scipy.sparse.csr_matrix,
                   settings: RegistrationSettings, targets: PointTargets | None = None,
                   ) -> tuple[np.ndarray, int]:
    """Per-vertex offsets (V, 3) metres, scan frame, and the vertices matched at the end.

    Parameters
    ----------
    fit_verts_m : (V, 3) the model fit in the scan frame
    faces : (F, 3) the model's triangles
    surface : the scan
    free : (V,) bool, vertices that may seek the scan (not eyeballs, not the mesh boundary)
    laplacian : (V, V) from :func:`graph_laplacian`
    targets : where points of the mesh belong (on the scan), or None; each iteration pulls
        the point toward its target's projection onto the scan's tangent plane at the
        point's current nearest scan point (sideways only: the scan sets the normal part)
    """
    n_vertices = len(fit_verts_m)
    smoothness = (settings.laplacian_weight * laplacian
                  + settings.offset_weight * scipy.sparse.identity(n_vertices)).tocsc()
    free_ids = np.flatnonzero(free)
    min_cosine = np.cos(np.deg2rad(settings.refine_max_normal_angle_deg))
    pull = targets.matrix(n_vertices) if targets is not None else None
    offsets = np.zeros_like(fit_verts_m)
    matched = 0
    for max_distance in settings.refine_max_distance_m:
        current = fit_verts_m + offsets
        normals = vertex_normals(current, faces)[free_ids]
        dist, ids = surface.nearest(current[free_ids], max_distance)
        found = np.flatnonzero(np.isfinite(dist))
        scan_normals = surface.normals(ids[found])
        cosine = (scan_normals * normals[found]).sum(axis=1)
        if not surface.oriented:
            cosine = np.abs(cosine)
        good = cosine > min_cosine
        found, scan_normals = found[good], scan_normals[good]
        vertex_ids = free_ids[found]
        along = ((surface.points_m[ids[found]] - current[vertex_ids]) * scan_normals).sum(axis=1)
        plane_targets = current[vertex_ids] + along[:, None] * scan_normals
        weights = np.zeros(n_vertices)
        weights[vertex_ids] = 1.0
        rhs = np.zeros_like(fit_verts_m)
        rhs[vertex_ids] = plane_targets - fit_verts_m[vertex_ids]
        system = smoothness + scipy.sparse.diags(weights)
        if pull is not None:
            at = pull @ current
            # sideways only: the target's offset from the point, less its part along the
            # scan normal at the point, added to the point's own foot on the scan
            foot, on_scan, n_t = onto_scan(at, surface, max_distance)
            wanted = targets.points_m - foot
            wanted -= (wanted * n_t).sum(axis=1, keepdims=True) * n_t
            goal = foot + wanted
            weight = np.where(on_scan, targets.weights, 0.0)
            weighted = pull.T @ scipy.sparse.diags(weight)
            system = system + weighted @ pull
            rhs += weighted @ (goal - pull @ fit_verts_m)
        solve = scipy.sparse.linalg.factorized(system.tocsc())
        offsets = np.stack([solve(rhs[:, c]) for c in range(3)], axis=1)
        matched = len(vertex_ids)
    return offsets, matched
