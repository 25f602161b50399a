"""Scan topologies embedded in the ICT surface.

A :class:`Layout` is a triangle mesh whose every vertex is a fixed barycentric combination of
the ICT mesh's vertices, so for any identity and expression its vertices lie exactly on the
true surface (``verts = weights @ ict_verts``), while its topology and resolution differ from
the model's (ICT triangles subdivided to a target size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import trimesh

from flame.ict import IctModel

PART_IDS = {"face": 0, "head_and_neck": 1, "eyeball_left": 2, "eyeball_right": 2}
"""Part of each layout vertex: 0 face, 1 head and neck, 2 eyeball."""
ATLAS_TILE = {"face": 0, "head_and_neck": 1, "eyeball_left": 2, "eyeball_right": 3}
"""ICT uv uses UDIM tiles; the layout packs face, head and each eye side by side in u / 4."""
ATLAS_TILES = 5
"""Tile 4 holds solid colour blocks: hair (upper half) and clothing (lower half)."""


@dataclass(frozen=True)
class Layout:
    """A scan topology on the ICT surface.

    Attributes
    ----------
    weights : (N, V_ict) sparse float64, rows sum to 1
    faces : (M, 3) int64
    uv_corners : (M, 3, 2) float64 texture coordinates in [0, 1] (v up)
    part : (N,) int8, see :data:`PART_IDS`
    neutral : (N, 3) float64 metres, vertex positions on the ICT neutral mesh
    """

    weights: scipy.sparse.csr_matrix
    faces: np.ndarray
    uv_corners: np.ndarray
    part: np.ndarray
    neutral: np.ndarray

    def positions(self, ict_verts: np.ndarray) -> np.ndarray:
        """Layout vertices (N, 3) for ICT vertices (V_ict, 3)."""
        return self.weights @ ict_verts


def _kept_triangles(ict: IctModel, parts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """ICT triangle ids to keep and the part of each; eyeballs keep their front cap only."""
    normals = trimesh.triangles.normals(ict.vertices[ict.faces])[0]
    ids, part_of = [], []
    for name in parts:
        mask = ict.part_triangles(name)
        if name.startswith("eyeball"):
            mask &= normals[:, 2] > 0.5
        ids.append(np.nonzero(mask)[0])
        part_of.append(np.full(mask.sum(), ATLAS_TILE[name]))
    return np.concatenate(ids), np.concatenate(part_of)


def build_layout(ict: IctModel, target_vertices: int,
                 parts: tuple[str, ...] = tuple(PART_IDS)) -> Layout:
    """Subdivide the chosen ICT parts until about ``target_vertices`` vertices.

    Below the parts' own vertex count the ICT triangles are kept as they are.
    """
    tri_ids, tile = _kept_triangles(ict, parts)
    base = ict.vertices
    # vertex count ~ 41.5k at 4 mm max edge on these parts, scaling as edge^-1.9 (measured)
    max_edge = 0.004 * (41500.0 / max(target_vertices, 1)) ** (1 / 1.9)
    verts, faces, src = trimesh.remesh.subdivide_to_size(base, ict.faces[tri_ids], max_edge,
                                                         max_iter=12, return_index=True)
    used, faces = np.unique(faces, return_inverse=True)
    faces = faces.reshape(-1, 3).astype(np.int64)
    verts = verts[used]
    orig = tri_ids[src]
    corner_bary = trimesh.triangles.points_to_barycentric(
        np.repeat(base[ict.faces[orig]], 3, axis=0), verts[faces.ravel()])
    corner_bary = np.clip(corner_bary, 0, 1)
    corner_bary /= corner_bary.sum(axis=1, keepdims=True)
    corner_bary = corner_bary.reshape(-1, 3, 3)
    uv_src = ict.uv[ict.faces_uv[orig]]                          # (M, 3, 2)
    uv = np.einsum("mck,mkd->mcd", corner_bary, uv_src)
    uv[..., 0] = (uv[..., 0] - np.floor(uv_src[:, :1, 0]) + tile[src, None]) / ATLAS_TILES
    # one corner per vertex defines its weights
    first = np.full(len(verts), -1)
    first[faces.ravel()[::-1]] = np.arange(faces.size)[::-1]
    face_of, corner = first // 3, first % 3
    rows = np.repeat(np.arange(len(verts)), 3)
    cols = ict.faces[orig[face_of]].ravel()
    vals = corner_bary[face_of, corner].ravel()
    weights = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(len(verts), len(base)))
    part = np.minimum(tile[src[face_of]], 2).astype(np.int8)
    return Layout(weights, faces, uv, part, weights @ base)
