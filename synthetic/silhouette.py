"""Exact silhouettes for the ground truth: which pixel centres a mesh covers in a pinhole
camera (numpy only, independent of the pipeline's OpenGL renderer)."""

from __future__ import annotations

import numpy as np

from synthetic.raster import covered_pixels


def silhouette(verts: np.ndarray, faces: np.ndarray, K: np.ndarray, w2c: np.ndarray,
               width: int, height: int) -> np.ndarray:
    """(height, width) bool: pixels whose centre (OpenCV integer coordinates) lies inside a
    projected triangle. verts (N, 3) in the camera's world frame; faces (M, 3); K (3, 3);
    w2c (4, 4). Triangles with a corner behind the camera are left out (none for a head in
    front of it)."""
    cam = verts @ w2c[:3, :3].T + w2c[:3, 3]
    faces = faces[(cam[faces, 2] > 1e-6).all(axis=1)]
    px = cam[:, :2] / cam[:, 2:3] @ K[:2, :2].T + K[:2, 2]
    mask = np.zeros(height * width, bool)
    for _, pixel, _ in covered_pixels(px[faces], width, height):
        mask[pixel] = True
    return mask.reshape(height, width)
