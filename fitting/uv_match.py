"""2D targets for FLAME vertices from a uv map: nearest pixel in uv space (as Pixel3DMM).

A vertex on a uv seam has several uv coordinates (one per face corner); each is searched and
the closest pixel over all of them is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

MAX_SUBPIXEL_STEP_PX = 1.0
"""Largest sub-pixel correction, pixels: a vertex whose uv the local uv gradient places
farther from its nearest pixel is not seen there (typically hidden just behind a silhouette,
its uv a little beyond the visible uv range) and the match is dropped."""
SEAM_JUMP_UV = 0.05
"""Neighbouring pixels whose uv differ by more than this straddle a seam: no gradient there."""


@dataclass(frozen=True)
class VertexUV:
    """The uv coordinates of each vertex.

    Attributes
    ----------
    vertex : (C,) int64, the vertex of each distinct (vertex, uv) pair
    uv : (C, 2) float64, its uv in [0, 1]
    n_vertices : vertices of the mesh
    """

    vertex: np.ndarray
    uv: np.ndarray
    n_vertices: int

    @classmethod
    def from_mesh(cls, faces: np.ndarray, vt: np.ndarray, ft: np.ndarray,
                  n_vertices: int) -> VertexUV:
        """Distinct (vertex, uv) pairs of faces (F, 3), vt (T, 2), ft (F, 3)."""
        pairs = np.unique(np.stack([np.ravel(faces), np.ravel(ft)], axis=1), axis=0)
        return cls(vertex=pairs[:, 0].astype(np.int64), uv=np.asarray(vt, np.float64)[pairs[:, 1]],
                   n_vertices=int(n_vertices))

    def first_uv(self) -> np.ndarray:
        """(V, 2) one uv per vertex (its first corner's); NaN for a vertex without uv."""
        out = np.full((self.n_vertices, 2), np.nan)
        order = np.argsort(self.vertex, kind="stable")[::-1]
        out[self.vertex[order]] = self.uv[order]
        return out


@dataclass(frozen=True)
class UvMatches:
    """Vertices located in the image by the uv map.

    Attributes
    ----------
    vertex_ids : (k,) int64, matched vertices, ascending
    pixels_xy : (k, 2) float64, their 2D targets (x = column, y = row; pixel centres at ints)
    sq_dist : (k,) float64, uv distance squared of the match
    """

    vertex_ids: np.ndarray
    pixels_xy: np.ndarray
    sq_dist: np.ndarray

    def __len__(self) -> int:
        return int(self.vertex_ids.size)

    def take(self, keep: np.ndarray) -> UvMatches:
        """The matches where ``keep`` (k,) bool is True."""
        return UvMatches(self.vertex_ids[keep], self.pixels_xy[keep], self.sq_dist[keep])


def match_vertices(uv_map: np.ndarray, valid: np.ndarray, vertex_uv: VertexUV,
                   max_sq_dist: float = 5e-5, subpixel: bool = True) -> UvMatches:
    """Locate vertices in the image by nearest-neighbour search in uv space.

    Parameters
    ----------
    uv_map : (H, W, 2) float, uv per pixel
    valid : (H, W) bool, pixels searched
    vertex_uv : the mesh's vertex uv table
    max_sq_dist : keep a match when the uv distance squared is below this
    subpixel : move each match by the local inverse uv gradient (central differences) so the
        target is where the uv map interpolates to the vertex's uv; drop the match when that
        point lies more than ``MAX_SUBPIXEL_STEP_PX`` away (the vertex is not seen there)

    Returns
    -------
    UvMatches (empty when nothing matched)
    """
    uv_map = np.asarray(uv_map, dtype=np.float64)
    rows, cols = np.nonzero(valid)
    empty = UvMatches(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0))
    if rows.size == 0:
        return empty
    tree = cKDTree(uv_map[rows, cols])
    dist, nearest = tree.query(vertex_uv.uv, k=1, distance_upper_bound=np.sqrt(max_sq_dist))
    hit = np.isfinite(dist) & (dist * dist < max_sq_dist)
    if not hit.any():
        return empty
    corner_vertex, corner_dist, corner_pixel = vertex_uv.vertex[hit], dist[hit], nearest[hit]
    corner_uv = vertex_uv.uv[hit]
    # Best corner per vertex: sort by (vertex, distance) and keep each vertex's first.
    order = np.lexsort((corner_dist, corner_vertex))
    first = np.ones(order.size, dtype=bool)
    first[1:] = corner_vertex[order][1:] != corner_vertex[order][:-1]
    keep = order[first]
    pix_rows, pix_cols = rows[corner_pixel[keep]], cols[corner_pixel[keep]]
    pixels_xy = np.stack([pix_cols, pix_rows], axis=1).astype(np.float64)
    located = np.ones(keep.size, dtype=bool)
    if subpixel:
        offsets, located = _subpixel_offsets(uv_map, valid, pix_rows, pix_cols, corner_uv[keep])
        pixels_xy += offsets
    return UvMatches(vertex_ids=corner_vertex[keep][located], pixels_xy=pixels_xy[located],
                     sq_dist=corner_dist[keep][located] ** 2)


def _subpixel_offsets(uv_map: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                      target_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (k, 2) (dx, dy) px solving uv(p + d) = target with the local uv Jacobian,
    zero where the neighbourhood is invalid or straddles a seam; and (k,) bool, False where
    the solved step exceeds ``MAX_SUBPIXEL_STEP_PX``."""
    height, width = valid.shape
    inside = (rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)
    r, c = np.clip(rows, 1, height - 2), np.clip(cols, 1, width - 2)
    neighbours_valid = valid[r, c - 1] & valid[r, c + 1] & valid[r - 1, c] & valid[r + 1, c]
    centre = uv_map[r, c]
    one_sided = [uv_map[r, c + 1] - centre, centre - uv_map[r, c - 1],
                 uv_map[r + 1, c] - centre, centre - uv_map[r - 1, c]]
    smooth = np.all([np.abs(d).max(axis=1) < SEAM_JUMP_UV for d in one_sided], axis=0)
    du_dx = (one_sided[0] + one_sided[1]) / 2.0  # (k, 2)
    du_dy = (one_sided[2] + one_sided[3]) / 2.0
    jac = np.stack([du_dx, du_dy], axis=2)  # (k, 2 uv, 2 xy)
    det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
    ok = inside & neighbours_valid & smooth & (np.abs(det) > 1e-12)
    residual = target_uv - centre
    safe_det = np.where(ok, det, 1.0)
    step_x = (jac[:, 1, 1] * residual[:, 0] - jac[:, 0, 1] * residual[:, 1]) / safe_det
    step_y = (-jac[:, 1, 0] * residual[:, 0] + jac[:, 0, 0] * residual[:, 1]) / safe_det
    step = np.stack([step_x, step_y], axis=1)
    near = np.abs(step).max(axis=1) <= MAX_SUBPIXEL_STEP_PX
    return np.where((ok & near)[:, None], step, 0.0), ~ok | near
