"""A closed-form start for the fit's head pose from 3D-2D correspondences."""

from __future__ import annotations

import numpy as np


def pose_from_correspondences(points_model: np.ndarray, pixels_xy: np.ndarray,
                              K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form start for the head pose from 3D-2D correspondences (scaled orthography).

    Parameters
    ----------
    points_model : (N, 3) metres, model frame, N >= 4 not coplanar
    pixels_xy : (N, 2) their image positions, pixels
    K : (3, 3) intrinsics

    Returns
    -------
    rotation (3, 3) and translation (3,) metres with ``x_camera = rotation @ x_model + t``
    """
    points = np.asarray(points_model, dtype=np.float64)
    rays = np.linalg.solve(K, np.c_[pixels_xy, np.ones(len(pixels_xy))].T).T[:, :2]
    centre = points.mean(axis=0)
    design = np.c_[points - centre, np.ones(len(points))]
    affine, *_ = np.linalg.lstsq(design, rays, rcond=None)  # (4, 2)
    rows = affine[:3].T  # (2, 3) ~ s * R[:2]
    scale = np.linalg.norm(rows, axis=1).mean()
    # Nearest rotation whose first two rows match the affine rows (orthogonal Procrustes).
    target = np.vstack([rows / scale, np.cross(rows[0], rows[1]) / scale**2])
    u, _, vt = np.linalg.svd(target)
    rotation = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    depth = 1.0 / scale
    translation = np.array([affine[3, 0] * depth, affine[3, 1] * depth, depth])
    return rotation, translation - rotation @ centre
