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
            rot = Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix()
            np.save(folder / "s.npy", np.array(scale))
            np.save(folder / "R.npy", rot)
            np.save(folder / "t.npy", rng.uniform(-0.2, 0.2, 3))
            write_truth(truth_root, f"{subject}_{e:03d}", ict, head, np.eye(4),
                        scan_inlier=surface.inlier, noise_m=np.array(noise_m),
                        detail_m=np.array(detail_m))
    return {}
