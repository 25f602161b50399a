"""Release-density scan surfaces: every triangle split into ``n * n`` on a curved patch.

A scan scanned at NPHM's release density (~3.5M faces a scan, NPHM paper) is drawn here from
a coarser synthetic scan: each triangle is cut into ``n * n`` smaller ones on its PN triangle
(Vlachos et al. 2001, curved point-normal triangles: a cubic Bezier patch through the three
vertices, tangent to their vertex normals), so the dense surface is smooth and curved, not the
coarse facets cut into pieces. An edge's points depend only on its two vertices and their
normals, so neighbouring triangles share them and the dense mesh stays watertight where the
coarse one was. Texture coordinates are interpolated linearly per corner.
"""

from __future__ import annotations

import math

import numpy as np

from synthetic.surface import vertex_normals


def splits_for(n_faces: int, target_faces: int) -> int:
    """The smallest ``n`` (>= 1) with ``n_faces * n * n >= target_faces``."""
    if target_faces <= n_faces:
        return 1
    return int(math.ceil(math.sqrt(target_faces / n_faces)))


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric grid of one triangle split ``n`` ways along each edge.

    Returns ``ijk`` (P, 3) int, P = (n + 1)(n + 2) / 2, the points as integer weights of the
    corners (summing to ``n``), and ``tris`` (n * n, 3) int, triangles over those points wound
    like the corners (0, 1, 2).
    """
    index = {}
    ijk = []
    for i in range(n + 1):
        for j in range(n + 1 - i):
            index[i, j] = len(ijk)
            ijk.append((i, j, n - i - j))
    tris = []
    for i in range(n):
        for j in range(n - i):
            tris.append((index[i, j], index[i + 1, j], index[i, j + 1]))
            if j <= n - 2 - i:
                tris.append((index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]))
    return np.array(ijk), np.array(tris)


def _pn_points(corners: np.ndarray, normals: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Points (F, P, 3) of the PN triangles of ``corners`` (F, 3, 3) with unit vertex
    ``normals`` (F, 3, 3) at barycentric coordinates ``bary`` (P, 3)."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    na, nb, nc = normals[:, 0], normals[:, 1], normals[:, 2]

    def ctrl(p, q, n_p):  # the control point a third of the way from p to q, on p's plane
        w = np.einsum("fi,fi->f", q - p, n_p)[:, None]
        return (2 * p + q - w * n_p) / 3

    b210, b120 = ctrl(a, b, na), ctrl(b, a, nb)
    b021, b012 = ctrl(b, c, nb), ctrl(c, b, nc)
    b102, b201 = ctrl(c, a, nc), ctrl(a, c, na)
    e = (b210 + b120 + b021 + b012 + b102 + b201) / 6
    b111 = e + (e - (a + b + c) / 3) / 2
    u, v, w = bary[:, 0], bary[:, 1], bary[:, 2]
    terms = ((a, u ** 3), (b, v ** 3), (c, w ** 3),
             (b210, 3 * u * u * v), (b120, 3 * u * v * v), (b201, 3 * u * u * w),
             (b021, 3 * v * v * w), (b102, 3 * u * w * w), (b012, 3 * v * w * w),
             (b111, 6 * u * v * w))
    out = np.zeros((len(a), len(u), 3))
    for point, weight in terms:
        out += point[:, None, :] * weight[None, :, None]
    return out


def subdivide_pn(verts: np.ndarray, faces: np.ndarray, uv_corners: np.ndarray | None,
                 n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Split every triangle into ``n * n`` on its PN triangle.

    Parameters
    ----------
    verts : (V, 3) float, metres; faces : (F, 3) int, counter-clockwise outside
    uv_corners : (F, 3, 2) float per-corner texture coordinates, or None
    n : splits along each edge (1: the mesh unchanged)

    Returns
    -------
    verts (V', 3) float32, faces (F * n * n, 3) int32, uv_corners (F * n * n, 3, 2) float32 or
    None (with ``n`` <= 1 the inputs as given). The first V vertices are the input's; edge
    points are shared by both triangles of an edge.
    """
    if n <= 1:
        return verts, faces, uv_corners
    verts = np.asarray(verts, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    ijk, tris = _grid(n)
    n_verts, n_faces = len(verts), len(faces)
    # unique edges, each with n - 1 inner points stored from its lower to its higher vertex
    edges = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]], axis=2).reshape(-1, 2)
    _, edge_id = np.unique(edges, axis=0, return_inverse=True)
    edge_id = edge_id.reshape(n_faces, 3)
    n_edges = int(edge_id.max()) + 1
    interior_count = (n - 1) * (n - 2) // 2
    # the global index of each grid point of each face
    local = np.empty((n_faces, len(ijk)), dtype=np.int64)
    interior = 0
    for p, (i, j, k) in enumerate(ijk):
        if n in (i, j, k):  # a corner
            local[:, p] = faces[:, (i, j, k).index(n)]
        elif 0 in (i, j, k):  # an edge: (0,1) where k == 0, (1,2) where i == 0, (2,0) where j == 0
            slot, frm, to, step = ((0, 0, 1, j) if k == 0 else (1, 1, 2, k) if i == 0
                                   else (2, 2, 0, i))
            forward = faces[:, frm] < faces[:, to]
            along = np.where(forward, step, n - step)
            local[:, p] = n_verts + edge_id[:, slot] * (n - 1) + along - 1
        else:
            local[:, p] = n_verts + n_edges * (n - 1) + np.arange(n_faces) * interior_count \
                + interior
            interior += 1
    normals = vertex_normals(verts, faces)
    out = np.empty((n_verts + n_edges * (n - 1) + n_faces * interior_count, 3), np.float32)
    out[:n_verts] = verts
    for chunk in range(0, n_faces, 200_000):  # bounded temporaries
        part = slice(chunk, chunk + 200_000)
        points = _pn_points(verts[faces[part]], normals[faces[part]], ijk / n)
        out[local[part].ravel()] = points.reshape(-1, 3)
    new_faces = local[:, tris].reshape(-1, 3).astype(np.int32)
    new_uv = None
    if uv_corners is not None:
        uv = np.asarray(uv_corners, dtype=np.float32)
        grid_uv = np.einsum("pc,fcu->fpu", (ijk / n).astype(np.float32), uv)
        new_uv = grid_uv[:, tris].reshape(-1, 3, 2)
    return out, new_faces, new_uv
