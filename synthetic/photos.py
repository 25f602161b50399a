"""Calibrated photos of a synthetic head: rendered distorted, with the true landmarks'
undistorted pixel positions kept for the ground truth."""

from __future__ import annotations

import numpy as np

from geometry import project
from synthetic.head import Surface
from synthetic.splat import render_mesh

BACKGROUND = (0, 177, 64)
"""Green-screen background of every synthetic photo."""
LABEL_HAIR, LABEL_BODY, LABEL_HEAD = 1, 2, 3


def render_photo(surface: Surface, camera: dict, hair_faces: np.ndarray | None = None,
                 body_faces: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image (H, W, 3) uint8, labels (H, W) uint8) of a surface through a camera dict
    (K, w2c, dist, width, height) in the surface's frame."""
    labels = np.full(len(surface.faces), LABEL_HEAD, np.uint8)
    if hair_faces is not None:
        labels[hair_faces] = LABEL_HAIR
    if body_faces is not None:
        labels[body_faces] = LABEL_BODY
    return render_mesh(surface.verts, surface.faces, surface.colours, camera["K"],
                       camera["w2c"], camera["dist"], camera["width"], camera["height"],
                       BACKGROUND, labels)


def landmark_pixels(landmarks: np.ndarray, cameras: list[dict]) -> np.ndarray:
    """Undistorted pixel positions (P, 68, 2) of landmarks (68, 3) in each camera."""
    return np.stack([project(landmarks, c["K"], c["w2c"]) for c in cameras])
