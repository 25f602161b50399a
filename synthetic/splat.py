"""A small software renderer (numpy only): texture bakes splat sampled points; photos are
rasterised exactly at pixel centres and z-buffered (:mod:`synthetic.raster`). Cameras follow
OpenCV, with lens distortion applied to the projected corners so the image comes out
distorted as shot.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from geometry import to_camera
from scans.images import distort_normalized
from synthetic.raster import zbuffer

MAX_SAMPLES = 20_000_000


def splat_triangles(corners_px: np.ndarray, corner_depth: np.ndarray, corner_values: np.ndarray,
                    width: int, height: int, density: float = 4.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered splat of triangles.

    Parameters
    ----------
    corners_px : (M, 3, 2) pixel coordinates (pixel centres at integers)
    corner_depth : (M, 3) depth, smaller is nearer
    corner_values : (M, 3, C) float values interpolated across each triangle
    density : samples per pixel of triangle area (uncovered pixels inside are filled after)

    Returns
    -------
    image : (H, W, C) uint8 (values rounded and clipped), filled : (H, W) bool
    """
    rng = np.random.default_rng(0)
    edge1 = corners_px[:, 1] - corners_px[:, 0]
    edge2 = corners_px[:, 2] - corners_px[:, 0]
    area = 0.5 * np.abs(edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0])
    counts = np.ceil(area * density).astype(np.int64) + 1
    if counts.sum() > MAX_SAMPLES:
        raise ValueError(f"{counts.sum()} samples: triangles far too large for the image")
    face = np.repeat(np.arange(len(corners_px)), counts)
    r1, r2 = np.sqrt(rng.random(len(face))), rng.random(len(face))
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    px = np.einsum("sk,skd->sd", bary, corners_px[face])
    col, row = np.round(px[:, 0]).astype(np.int64), np.round(px[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    face, bary, col, row = face[inside], bary[inside], col[inside], row[inside]
    depth = np.einsum("sk,sk->s", bary, corner_depth[face])
    pixel = row * width + col
    span = max(float(np.ptp(depth)), 1e-12) if len(depth) else 1.0
    order = np.argsort(pixel + 0.999 * (depth - depth.min(initial=0.0)) / span, kind="stable")
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    channels = corner_values.shape[2]
    image = np.zeros((height * width, channels), np.float32)
    image[pixel[first]] = np.einsum("sk,skc->sc", bary[first], corner_values[face[first]])
    filled = np.zeros(height * width, bool)
    filled[pixel[first]] = True
    image, filled = image.reshape(height, width, channels), filled.reshape(height, width)
    neighbours = ndimage.convolve(filled.astype(np.float32), np.ones((3, 3)), mode="constant")
    gaps = ~filled & (neighbours >= 5)
    if gaps.any():
        sums = np.stack([ndimage.convolve(image[..., c], np.ones((3, 3)), mode="constant")
                         for c in range(channels)], axis=-1)
        image[gaps] = sums[gaps] / neighbours[gaps, None]
        filled |= gaps
    return np.clip(np.round(image), 0, 255).astype(np.uint8), filled


def project(points: np.ndarray, K: np.ndarray, w2c: np.ndarray,
            dist: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (n, 2) (distorted when ``dist`` is given) and depth (n,) of points."""
    cam = to_camera(points, w2c)
    depth = cam[:, 2]
    xy = cam[:, :2] / np.where(np.abs(depth) > 1e-9, depth, 1e-9)[:, None]
    if dist is not None and np.any(dist):
        xy = distort_normalized(xy, np.asarray(dist, np.float64))
    return xy * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]], depth


def render_mesh(verts: np.ndarray, faces: np.ndarray, colours: np.ndarray, K: np.ndarray,
                w2c: np.ndarray, dist: np.ndarray | None, width: int, height: int,
                background: tuple[int, int, int], face_labels: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Render a vertex-coloured mesh with head-light Lambert shading.

    verts (N, 3) in the camera's world frame; colours (N, 3) uint8; face_labels (M,) uint8
    optional. Returns image (H, W, 3) uint8 and the label image (H, W) uint8 (0 = background)
    when labels are given.
    """
    px, depth = project(verts, K, w2c, dist)
    front = (depth[faces] > 1e-3).all(axis=1)
    faces = faces[front]
    cam = verts @ w2c[:3, :3].T + w2c[:3, 3]
    tri = cam[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    view = tri.mean(axis=1)
    cos = np.abs((normal * view).sum(1)) / np.maximum(
        np.linalg.norm(normal, axis=1) * np.linalg.norm(view, axis=1), 1e-20)
    shade = (0.35 + 0.65 * cos)[:, None, None]
    values = colours[faces].astype(np.float32) * shade
    if face_labels is not None:
        labels = np.repeat(face_labels[front].astype(np.float32)[:, None, None], 3, axis=1)
        values = np.concatenate([values, labels], axis=2)
    face_of, bary = zbuffer(px[faces], depth[faces], width, height)
    filled = face_of >= 0
    image = np.zeros((height * width, values.shape[2]), np.float32)
    image[filled] = np.einsum("kc,kcv->kv", bary[filled], values[face_of[filled]])
    image = np.clip(np.round(image), 0, 255).astype(np.uint8).reshape(height, width, -1)
    filled = filled.reshape(height, width)
    rgb = np.where(filled[..., None], image[..., :3], np.asarray(background, np.uint8))
    return rgb, (np.where(filled, image[..., 3], 0) if face_labels is not None else None)
