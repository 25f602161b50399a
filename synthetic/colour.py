"""Procedural skin-like colour on the neutral surface and its bake into a texture atlas."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from synthetic.splat import splat_triangles

SKIN_LIGHT = np.array([236.0, 196.0, 170.0])
SKIN_DARK = np.array([118.0, 78.0, 54.0])
HAIR_RGB = np.array([60, 42, 30], np.uint8)
CLOTH_RGB = np.array([70, 90, 130], np.uint8)


def skin_colours(neutral: np.ndarray, part: np.ndarray, landmarks: np.ndarray,
                 tone: float, rng: np.random.Generator) -> np.ndarray:
    """Colour (N, 3) uint8 of surface points given at neutral positions (N, 3) metres.

    part : (N,) 0 face, 1 head, 2 eyeball; landmarks : (68, 3) neutral; tone in [0, 1].
    """
    base = SKIN_LIGHT * (1 - tone) + SKIN_DARK * tone
    freq = rng.normal(size=(3, 3)) * 30
    blotch = np.sin(neutral @ freq).sum(axis=1, keepdims=True) / 3
    rgb = base * (1 + 0.06 * blotch) + rng.normal(0, 3, (len(neutral), 3))
    mouth = landmarks[48:60]
    centre = mouth.mean(axis=0)
    half = np.array([np.ptp(mouth[:, 0]) / 2, np.ptp(mouth[:, 1]) / 2 + 0.002])
    lips = (((neutral[:, :2] - centre[:2]) / half) ** 2).sum(axis=1) < 1
    lips &= neutral[:, 2] > centre[2] - 0.015
    rgb[lips] = rgb[lips] * [0.85, 0.55, 0.55] + [30, 0, 0]
    t = np.linspace(0, 1, 6)[:, None, None]
    brow_pts = np.concatenate([(1 - t) * landmarks[a:b - 1] + t * landmarks[a + 1:b]
                               for a, b in ((17, 22), (22, 27))], axis=1).reshape(-1, 3)
    brows = np.min(np.linalg.norm(neutral[:, None] - brow_pts[None], axis=2), axis=1)
    rgb[(brows < 0.004) & (part < 2)] *= 0.45
    eye = part == 2
    if eye.any():
        rgb[eye] = [235, 232, 225]
        for side in (neutral[:, 0] > 0, neutral[:, 0] <= 0):
            pts = eye & side
            if not pts.any():
                continue
            front = neutral[pts][np.argmax(neutral[pts, 2])]
            r = np.linalg.norm(neutral - front, axis=1)
            rgb[pts & (r < 0.006)] = [70, 95, 120]
            rgb[pts & (r < 0.0025)] = [15, 15, 15]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def bake_texture(faces: np.ndarray, uv_corners: np.ndarray, colours: np.ndarray,
                 size: tuple[int, int]) -> np.ndarray:
    """Texture (H, W, 3) uint8 of per-vertex colours (N, 3) laid out by per-corner uv
    (M, 3, 2) (v up); empty texels take the nearest filled one's colour."""
    height, width = size
    px = np.stack([uv_corners[..., 0] * (width - 1),
                   (1 - uv_corners[..., 1]) * (height - 1)], axis=-1)
    image, filled = splat_triangles(px, np.zeros(faces.shape), colours[faces].astype(np.float32),
                                    width, height, density=1.0)
    _, (rows, cols) = ndimage.distance_transform_edt(~filled, return_indices=True)
    return image[rows, cols]
