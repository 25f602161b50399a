"""The uv symmetry map: the uv of the mirror-image surface point of each uv.

A horizontally flipped face image shows the mirror-symmetric face, so at a flipped pixel the
uv target is the uv of the mirror-symmetric surface point, not the stored uv. FLAME's uv
layout is not symmetric, so this needs a lookup: a (G, G, 2) grid sampled bilinearly,
``grid[i, j]`` = mirrored uv of (u = j / (G - 1), v = i / (G - 1)); NaN where uv maps to no
surface. Build it from a symmetric mesh (``UvMirror.from_mesh``, e.g. FLAME's template with
its ``vt``/``ft``) or from point correspondences.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from scipy.interpolate import griddata
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

RIM_CELLS = 1.5
"""Grid cells outside the correspondences' hull filled with the nearest defined value."""


class UvMirror:
    """Lookup from uv to the uv of the mirror-symmetric surface point.

    Parameters
    ----------
    grid : (G, G, 2) float, mirrored uv on a regular uv grid (row = v, column = u), NaN where
        undefined
    """

    def __init__(self, grid: np.ndarray) -> None:
        grid = np.asarray(grid, dtype=np.float32)
        if grid.ndim != 3 or grid.shape[0] != grid.shape[1] or grid.shape[2] != 2:
            raise ValueError(f"uv mirror grid must be (G, G, 2), got {grid.shape}")
        self.grid = grid
        self._grid_t = torch.from_numpy(grid).permute(2, 0, 1).unsqueeze(0)

    @classmethod
    def symmetric_u(cls, size: int = 65) -> UvMirror:
        """A layout symmetric about u = 0.5: mirror(u, v) = (1 - u, v)."""
        u, v = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
        return cls(np.stack([1.0 - u, v], axis=-1))

    @classmethod
    def from_correspondences(cls, uv: np.ndarray, uv_mirrored: np.ndarray,
                             size: int = 256) -> UvMirror:
        """Interpolate scattered pairs (N, 2) uv -> (N, 2) mirrored uv linearly on a grid.

        Outside the convex hull of ``uv`` the grid is NaN (but for a rim, see ``_fill_rim``).
        """
        u, v = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
        grid = griddata(np.asarray(uv, np.float64), np.asarray(uv_mirrored, np.float64),
                        (u, v), method="linear")
        return cls(_fill_rim(grid))

    @classmethod
    def from_mesh(cls, verts: np.ndarray, faces: np.ndarray, vt: np.ndarray, ft: np.ndarray,
                  size: int = 256, tolerance_m: float = 1e-3) -> UvMirror:
        """Build from a mesh symmetric about its x = 0 plane (FLAME's template is).

        Vertices are paired by position ((x, y, z) -> (-x, y, z), nearest vertex within
        ``tolerance_m``); each face whose mirrored face exists has its uv triangle filled with
        the barycentric blend of the uv of the matching corners of the mirrored face, so uv
        seams and islands are handled exactly (piecewise linear). Faces without a partner are
        left undefined (flipped pixels there lose their uv label); fewer than half paired is
        an error.

        Parameters
        ----------
        verts : (V, 3) metres, model frame; faces : (F, 3) int; vt : (T, 2); ft : (F, 3) int
        size : grid size G
        tolerance_m : largest distance between a vertex's mirror image and its partner
        """
        verts, faces, ft = np.asarray(verts, np.float64), np.asarray(faces), np.asarray(ft)
        vt = np.asarray(vt, np.float64)
        distance, partner = cKDTree(verts).query(verts * np.array([-1.0, 1.0, 1.0]))
        partner[distance > tolerance_m] = -1
        face_of = {frozenset(face.tolist()): index for index, face in enumerate(faces)}
        corner_uv, mirrored_uv = [], []
        for index, face in enumerate(faces):
            mirrored = face_of.get(frozenset(partner[face].tolist()))
            if mirrored is None or (partner[face] < 0).any():
                continue
            order = [faces[mirrored].tolist().index(partner[vertex]) for vertex in face]
            corner_uv.append(vt[ft[index]])
            mirrored_uv.append(vt[ft[mirrored, order]])
        if len(corner_uv) < len(faces) / 2:
            raise ValueError(f"mesh is not mirror-symmetric about x = 0: only {len(corner_uv)} "
                             f"of {len(faces)} faces have a mirrored partner within "
                             f"{tolerance_m} m")
        return cls(_fill_rim(_rasterise(np.array(corner_uv), np.array(mirrored_uv), size)))

    def digest(self) -> str:
        """sha256 of the grid (keys training runs that flip with it)."""
        return hashlib.sha256(np.ascontiguousarray(self.grid).tobytes()).hexdigest()

    def __call__(self, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uv (2, H, W) -> mirrored uv (2, H, W) (0 where undefined), defined (H, W) bool."""
        coords = (uv.permute(1, 2, 0).unsqueeze(0).to(torch.float32) * 2.0 - 1.0)
        mirrored = F.grid_sample(self._grid_t, coords, mode="bilinear", padding_mode="border",
                                 align_corners=True)[0]
        defined = ~torch.isnan(mirrored).any(dim=0)
        return torch.nan_to_num(mirrored, nan=0.0).to(uv.dtype), defined


def _rasterise(corner_uv: np.ndarray, values: np.ndarray, size: int,
               candidates: int = 16) -> np.ndarray:
    """Barycentric fill of uv triangles on a (size, size) grid.

    corner_uv : (F, 3, 2) uv of each triangle's corners; values : (F, 3, C) per corner.
    Returns (size, size, C), NaN at nodes in no triangle.
    """
    u, v = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
    nodes = np.stack([u.ravel(), v.ravel()], axis=-1)
    count = min(candidates, len(corner_uv))
    _, nearest = cKDTree(corner_uv.mean(axis=1)).query(nodes, k=count)
    nearest = nearest.reshape(len(nodes), count)
    a, b, c = (corner_uv[nearest, corner] for corner in range(3))  # (N, k, 2) each
    e0, e1, e2 = b - a, c - a, nodes[:, None, :] - a
    d00, d01, d11 = (e0 * e0).sum(-1), (e0 * e1).sum(-1), (e1 * e1).sum(-1)
    d20, d21 = (e2 * e0).sum(-1), (e2 * e1).sum(-1)
    denominator = d00 * d11 - d01 * d01
    safe = np.where(np.abs(denominator) > 1e-18, denominator, 1.0)
    w1 = (d11 * d20 - d01 * d21) / safe
    w2 = (d00 * d21 - d01 * d20) / safe
    w0 = 1.0 - w1 - w2
    eps = 1e-9
    inside = ((w0 >= -eps) & (w1 >= -eps) & (w2 >= -eps) & (np.abs(denominator) > 1e-18))
    first = np.argmax(inside, axis=1)
    rows = np.arange(len(nodes))
    face = nearest[rows, first]
    weights = np.stack([w0[rows, first], w1[rows, first], w2[rows, first]], axis=-1)
    filled = (weights[..., None] * values[face]).sum(axis=1)
    filled[~inside.any(axis=1)] = np.nan
    return filled.reshape(size, size, -1)


def _fill_rim(grid: np.ndarray) -> np.ndarray:
    """Fill NaN cells within ``RIM_CELLS`` of a defined cell with its value, so bilinear
    lookups on the edge of a uv island stay defined."""
    undefined = np.isnan(grid).any(axis=-1)
    distance, (rows, cols) = distance_transform_edt(undefined, return_indices=True)
    rim = undefined & (distance <= RIM_CELLS)
    grid[rim] = grid[rows[rim], cols[rim]]
    return grid
