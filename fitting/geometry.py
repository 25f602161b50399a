"""Small geometry helpers of the fit: normals and projection in torch, a closed-form pose start."""

from __future__ import annotations

import numpy as np
import torch


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals.

    Parameters
    ----------
    verts : (V, 3) positions; faces : (F, 3) int64, counter-clockwise seen from outside

    Returns
    -------
    (V, 3) unit normals pointing outwards (zero for unreferenced vertices)
    """
    corners = verts[faces]  # (F, 3, 3)
    face_normals = torch.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0],
                               dim=-1)
    normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1),
                                                 face_normals.repeat_interleave(3, dim=0))
    return normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def project(points_camera: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of (N, 3) camera-frame points (OpenCV axes) -> (N, 2) pixels."""
    z = points_camera[:, 2:3].clamp_min(1e-6)
    return (points_camera[:, :2] / z) @ K[:2, :2].T + K[:2, 2]


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
