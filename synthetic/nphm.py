"""Synthetic NPHM: textured scans with holes, hair and shoulders in NPHM space (FLAME x 4).

File form as NPHM's own code reads it (github.com/SimonGiebenhain/NPHM,
``src/NPHM/data/manager.py`` ``DataManager.get_raw_mesh``: ``trimesh.load(scan.ply)``;
``scripts/dataset/example_usage.py`` shows ``m_scan.visual.material.image``, the texture
that comes with the scan): a binary PLY with per-corner texture coordinates and the texture
named in its header. ``scan_faces`` > 0 writes release-density scans (the NPHM paper: ~3.5M
faces a scan): each triangle split into ``n * n`` on its curved PN patch
(:mod:`synthetic.subdivide`), ``n`` the smallest giving at least ``scan_faces``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation

from flame.ict import IctModel, standin_vertex_ids
from scans.images import write_image
from scans.meshio import write_ply
from scans.nphm import NPHM_TO_METRES
from synthetic.head import (
    make_head,
    scan_surface,
    standin_faces,
    surface_texture,
    write_truth,
)
from synthetic.layout import build_layout
from synthetic.params import random_expression, random_identity, random_pose
from synthetic.subdivide import splits_for, subdivide_pn

DATASET_KEY = 1
REGISTRATION_LANDMARKS = np.array([
    2212, 3060, 3485, 3384, 3386, 3389, 3418, 3395, 3414, 3598, 3637, 3587, 3582, 3580, 3756,
    2012, 730, 1984, 3157, 335, 3705, 3684, 3851, 3863, 16, 2138, 571, 3553, 3561, 3501, 3526,
    2748, 2792, 3556, 1675, 1612, 2437, 2383, 2494, 3632, 2278, 2296, 3833, 1343, 1034, 1175,
    884, 829, 2715, 2813, 2774, 3543, 1657, 1696, 1579, 1795, 1865, 3503, 2948, 2898, 2845,
    2785, 3533, 1668, 1730, 1669, 3509, 2786])
"""Where NPHM's code reads the 68 landmarks in ``registration.ply`` (``DataManager
.lm_inds_upsampled``, ``src/NPHM/data/manager.py``); copied here, not imported from the reader."""
FIT_MODES = 50
"""The shipped "FLAME fit" keeps this many identity modes (an approximate fit)."""


def write_nphm(ict: IctModel, raw_root: Path, truth_root: Path, subjects: int,
               expressions: int, seed: int, scan_vertices: int, texture_tile: int,
               noise_m: float, detail_m: float, scan_faces: int = 0) -> dict:
    """Write ``raw_root/<subject:03d>/<expression:03d>/...`` and the truth; returns adapter
    options (none for NPHM). Expression 000 is each subject's neutral. ``scan_faces`` > 0:
    each scan subdivided to at least that many faces (the texture and truth unchanged)."""
    layout = build_layout(ict, scan_vertices)
    fit_faces = standin_faces(ict)
    ids = standin_vertex_ids(ict)
    scale = 1.0 / NPHM_TO_METRES
    for s in range(subjects):
        rng_s = np.random.default_rng([seed, DATASET_KEY, s])
        id_coeffs, tone = random_identity(rng_s), rng_s.uniform(0, 1)
        subject = f"{s + 1:03d}"
        for e in range(expressions):
            rng = np.random.default_rng([seed, DATASET_KEY, s, e])
            expr = np.zeros(len(ict.expression_names)) if e == 0 else random_expression(ict, rng)
            head = make_head(ict, id_coeffs, expr, random_pose(rng, 5.0, 0.01))
            surface = scan_surface(head, layout, rng, tone, noise_m, detail_m,
                                   holes=True, hair=True, body=True)
            folder = Path(raw_root) / subject / f"{e:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            write_image(folder / "texture.jpg", surface_texture(surface, texture_tile))
            verts, faces, uv = subdivide_pn(surface.verts, surface.faces, surface.uv_corners,
                                            splits_for(len(surface.faces), scan_faces))
            write_ply(folder / "scan.ply", verts * scale, faces, uv_corners=uv,
                      texture_name="texture.jpg")
            del verts, faces, uv
            fit = make_head(ict, id_coeffs[:FIT_MODES], expr, head.pose).ict_verts[ids]
            write_ply(folder / "flame.ply", fit * scale, fit_faces)
            reg_verts, reg_faces = registration_mesh(head.ict_verts[ids], fit_faces,
                                                     head.landmarks_m, rng)
            write_ply(folder / "registration.ply", reg_verts * scale, reg_faces)
            rot = Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix()
            np.save(folder / "s.npy", np.array(scale))
            np.save(folder / "R.npy", rot)
            np.save(folder / "t.npy", rng.uniform(-0.2, 0.2, 3))
            write_truth(truth_root, f"{subject}_{e:03d}", ict, head, np.eye(4),
                        scan_inlier=surface.inlier, noise_m=np.array(noise_m),
                        detail_m=np.array(detail_m))
    return {}


def registration_mesh(verts: np.ndarray, faces: np.ndarray, landmarks: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in for NPHM's ``registration.ply``: the head's mesh (V, 3) metres with its
    vertices renumbered so that vertex ``REGISTRATION_LANDMARKS[k]`` lies at landmark ``k``,
    where NPHM's ``DataManager.get_landmarks`` reads it (``lm_inds_upsampled`` in
    ``src/NPHM/data/manager.py``), 1 mm noise per coordinate, as a registration's fit."""
    distances = np.linalg.norm(landmarks[:, None] - verts[None], axis=2)  # (68, V)
    nearest = linear_sum_assignment(distances)[1]  # one distinct vertex per landmark
    order = np.full(len(verts), -1)
    order[REGISTRATION_LANDMARKS] = nearest
    rest = np.setdiff1d(np.arange(len(verts)), nearest)
    order[order < 0] = rest[: int((order < 0).sum())]
    new_index = np.empty(len(verts), dtype=np.int64)
    new_index[order] = np.arange(len(verts))
    out = verts[order].copy()
    out[REGISTRATION_LANDMARKS] = landmarks + rng.normal(0.0, 0.001, landmarks.shape)
    return out, new_index[faces]
