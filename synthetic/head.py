"""One synthetic head: true mesh and parameters, and the scan surface a scanner would give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flame.ict import IctModel, standin_triangles, standin_vertex_ids
from geometry import vertex_normals
from synthetic.colour import CLOTH_RGB, HAIR_RGB, bake_texture, skin_colours
from synthetic.layout import ATLAS_TILES, Layout
from synthetic.surface import (
    fine_detail,
    hair_shell,
    hole_faces,
    shoulders,
    submesh,
)

HAIR_UV = ((ATLAS_TILES - 0.5) / ATLAS_TILES, 0.75)
CLOTH_UV = ((ATLAS_TILES - 0.5) / ATLAS_TILES, 0.25)


@dataclass(frozen=True)
class Head:
    """A synthetic head in its metric FLAME-frame world.

    id_coeffs (100,), expr_weights (53,), pose (4, 4) ICT -> world, ict_verts (26719, 3) m
    posed, landmarks_m (68, 3), neutral_landmarks (68, 3) (ICT neutral, for colouring).
    """

    id_coeffs: np.ndarray
    expr_weights: np.ndarray
    pose: np.ndarray
    ict_verts: np.ndarray
    landmarks_m: np.ndarray
    neutral_landmarks: np.ndarray


def make_head(ict: IctModel, id_coeffs: np.ndarray, expr_weights: np.ndarray,
              pose: np.ndarray) -> Head:
    """The posed ICT mesh of given parameters."""
    verts = ict.mesh(id_coeffs, expr_weights) @ pose[:3, :3].T + pose[:3, 3]
    return Head(id_coeffs, expr_weights, pose, verts, verts[ict.landmarks68],
                ict.vertices[ict.landmarks68])


def standin_faces(ict: IctModel) -> np.ndarray:
    """Triangles (F, 3) of the stand-in topology (indices into ``standin_vertex_ids``)."""
    ids = standin_vertex_ids(ict)
    remap = np.full(len(ict.vertices), -1)
    remap[ids] = np.arange(len(ids))
    return remap[ict.faces[standin_triangles(ict)]]


@dataclass
class Surface:
    """A scan surface: verts (N, 3) m, faces (M, 3), uv_corners (M, 3, 2), colours (N, 3)
    uint8, inlier (N,) bool (True where the vertex samples the true head surface)."""

    verts: np.ndarray
    faces: np.ndarray
    uv_corners: np.ndarray
    colours: np.ndarray
    inlier: np.ndarray


def scan_surface(head: Head, layout: Layout, rng: np.random.Generator, tone: float,
                 noise_m: float, detail_m: float, holes: bool = False, hair: bool = False,
                 body: bool = False) -> Surface:
    """The layout on the head with detail and noise along the normal, optional holes (faces
    and their lone vertices dropped), hair and shoulders (outlier components appended)."""
    clean = layout.positions(head.ict_verts)
    normals = vertex_normals(clean, layout.faces)
    offset = fine_detail(layout.neutral, rng, detail_m) + rng.normal(0, noise_m, len(clean))
    verts = clean + normals * offset[:, None]
    colours = skin_colours(layout.neutral, layout.part, head.neutral_landmarks, tone, rng)
    faces, uv = layout.faces, layout.uv_corners
    if holes:
        keep = ~hole_faces(layout.neutral, faces, head.neutral_landmarks, rng)
        ids, faces = submesh(faces, keep)
        verts, colours, uv = verts[ids], colours[ids], uv[keep]
        neutral = layout.neutral[ids]
    else:
        neutral = layout.neutral
    parts = [(verts, faces, uv, colours)]
    if hair:
        brow_y = head.neutral_landmarks[17:27, 1].mean()
        hv, hf = hair_shell(verts, faces, neutral, brow_y, rng)
        parts.append((hv, hf, np.broadcast_to(HAIR_UV, (*hf.shape, 2)),
                      np.broadcast_to(HAIR_RGB, hv.shape)))
    if body:
        sv, sf = shoulders(float(layout.neutral[:, 1].min()), rng)
        sv = sv @ head.pose[:3, :3].T + head.pose[:3, 3]
        parts.append((sv, sf, np.broadcast_to(CLOTH_UV, (*sf.shape, 2)),
                      np.broadcast_to(CLOTH_RGB, sv.shape)))
    start, all_faces = 0, []
    for pv, pf, _, _ in parts:
        all_faces.append(pf + start)
        start += len(pv)
    inlier = np.zeros(start, bool)
    inlier[: len(verts)] = True
    return Surface(np.concatenate([p[0] for p in parts]), np.concatenate(all_faces),
                   np.concatenate([p[2] for p in parts]),
                   np.concatenate([p[3] for p in parts]).astype(np.uint8), inlier)


def surface_texture(surface: Surface, tile: int) -> np.ndarray:
    """Texture atlas (tile, ATLAS_TILES * tile, 3) uint8 for a surface's colours."""
    texture = bake_texture(surface.faces, surface.uv_corners, surface.colours,
                           (tile, ATLAS_TILES * tile))
    block = texture[:, (ATLAS_TILES - 1) * tile:]
    block[: tile // 2] = HAIR_RGB
    block[tile // 2:] = CLOTH_RGB
    return texture


def write_truth(truth_root: Path, scan_id: str, ict: IctModel, head: Head,
                world_from_head: np.ndarray, **extra: np.ndarray) -> Path:
    """``<truth_root>/<scan_id>/truth.npz``: verts_m (stand-in topology), neutral_verts_m
    (same identity and placement, expression zero), faces, id_coeffs, expr_weights,
    landmarks_m, in the adapter's metric frame (``world_from_head`` maps the head's world
    into it), plus ``extra`` arrays."""
    folder = Path(truth_root) / scan_id
    folder.mkdir(parents=True, exist_ok=True)
    rot, trans = world_from_head[:3, :3], world_from_head[:3, 3]
    ids = standin_vertex_ids(ict)
    verts = head.ict_verts[ids] @ rot.T + trans
    neutral_head = ict.mesh(head.id_coeffs)[ids] @ head.pose[:3, :3].T + head.pose[:3, 3]
    neutral = neutral_head @ rot.T + trans
    path = folder / "truth.npz"
    tmp = folder / ".truth.tmp.npz"
    np.savez_compressed(tmp, verts_m=verts, neutral_verts_m=neutral, faces=standin_faces(ict),
                        id_coeffs=head.id_coeffs, expr_weights=head.expr_weights,
                        landmarks_m=head.landmarks_m @ rot.T + trans, **extra)
    tmp.replace(path)
    return path
