"""Plain geometry on numpy arrays, shared by every stage: mesh normals, rotations, pinhole
projection. The torch versions the fits differentiate through are in :mod:`geometry.tensors`.

Units are whatever the caller's points are in (metres throughout this project); cameras are
OpenCV's (x right, y down, z forward; ``K`` (3, 3) in pixels with pixel centres at integer
coordinates; ``w2c`` (4, 4) world -> camera).
"""

from __future__ import annotations

import numpy as np


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit face normals (F, 3) float64 of triangles ``faces`` (F, 3) over ``verts`` (V, 3);
    counter-clockwise seen from outside points outwards; zero for degenerate triangles."""
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) float64; zero rows for vertices in no triangle.

    ``verts`` (V, 3), ``faces`` (F, 3) int, counter-clockwise seen from outside, so normals
    point outwards.
    """
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    area_normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    corners = f.ravel()
    normals = np.empty_like(v)
    for axis in range(3):
        normals[:, axis] = np.bincount(corners, weights=np.repeat(area_normals[:, axis], 3),
                                       minlength=len(v))
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: axis-angle vectors (..., 3) radians -> rotation matrices (..., 3, 3)."""
    axis_angle = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)
    safe = np.where(angle < 1e-12, 1.0, angle)
    axis = axis_angle / safe
    x, y, z = np.moveaxis(axis, -1, 0)
    zeros = np.zeros_like(x)
    skew = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], -1).reshape(*x.shape, 3, 3)
    sin, cos = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)


def to_camera(points: np.ndarray, w2c: np.ndarray) -> np.ndarray:
    """Points (N, 3) in the world frame -> (N, 3) in the camera frame (``w2c`` (4, 4))."""
    points = np.asarray(points, dtype=np.float64)
    return points @ w2c[:3, :3].T + w2c[:3, 3]


def project(points: np.ndarray, K: np.ndarray, w2c: np.ndarray) -> np.ndarray:
    """Pinhole pixel coordinates (N, 2) of world points (N, 3); NaN for points with z <= 0 in
    the camera frame (behind it)."""
    cam = to_camera(points, w2c)
    z = cam[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        pixels = (cam / z) @ np.asarray(K, dtype=np.float64).T
    pixels = pixels[:, :2]
    pixels[z[:, 0] <= 0] = np.nan
    return pixels
