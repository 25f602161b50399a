"""Helpers for the scans tests: tiny synthetic data sets and geometric checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree

from synthetic import write_synthetic
from synthetic.photos import BACKGROUND
from synthetic.splat import render_mesh

TINY = {"subjects": 1, "expressions": 2, "scan_vertices": 20_000, "texture_tile": 128,
        "views": 3, "photo_size": (160, 120), "tracked_vertices": 8000,
        "ava256_downscale": 16, "ava256_texture_size": 512}
"""Ava256 photos are its 2668 x 4096 sensor / 16 here (166 x 256), / 4 as released; its uv
textures 512 square here, 1024 as released."""


def tiny_set(tmp_path_factory, dataset: str, **forms) -> tuple[Path, Path, dict]:
    """A 1-subject synthetic set, written once per test session; returns (raw root, truth
    root, adapter options). Tests must not modify it (damage copies). ``forms``: Ava256's
    ``head_pose_form`` / ``calibration_form``."""
    tag = "".join(f"-{v}" for v in forms.values())
    root = tmp_path_factory.getbasetemp() / f"scans-tiny-{dataset}{tag}"
    raw, truth = root / "raw" / dataset, root / "truth" / dataset
    done = root / "options.json"
    if not done.is_file():
        expressions = 1 if dataset == "ava256" else TINY["expressions"]
        options = write_synthetic(dataset, raw, truth, seed=3,
                                  **{**TINY, "expressions": expressions}, **forms)
        if dataset == "ava256":  # one segment of two frames: read both
            options["frames_per_segment"] = 2
        done.write_text(json.dumps(options))
    return raw, truth, json.loads(done.read_text())


def distance_to_mesh(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Exact distance (n,) from points to a triangle mesh (closest of 8 nearby triangles)."""
    tri = verts[faces]
    _, cand = cKDTree(tri.mean(axis=1)).query(points, k=8)
    closest = trimesh.triangles.closest_point(tri[cand.ravel()], np.repeat(points, 8, axis=0))
    return np.linalg.norm(closest - np.repeat(points, 8, axis=0), axis=1).reshape(-1, 8).min(1)


def foreground(image: np.ndarray) -> np.ndarray:
    """Pixels (H, W) bool that are not the green-screen background."""
    return np.abs(image.astype(int) - BACKGROUND).sum(axis=2) > 90


def silhouette_outside(photo, image: np.ndarray, verts_m: np.ndarray, faces: np.ndarray,
                       K: np.ndarray | None = None) -> float:
    """Fraction of the true head's silhouette, seen through the photo's camera (undistorted),
    that falls more than one pixel outside the photo's foreground."""
    colours = np.full((len(verts_m), 3), 255, np.uint8)
    rendered, _ = render_mesh(verts_m, faces, colours, photo.K if K is None else K, photo.w2c,
                              None, photo.width, photo.height, (0, 0, 0))
    head = rendered.sum(axis=2) > 0
    near_fg = ndimage.binary_dilation(foreground(image), iterations=1)
    return float((head & ~near_fg).sum() / max(head.sum(), 1))
