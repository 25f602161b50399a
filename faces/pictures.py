"""Pictures of the preprocessing: the crop with its landmarks and the parsed classes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from faces.segment import CELEBM_LABELS

_PALETTE = np.array([
    [0, 0, 0], [230, 160, 40], [240, 200, 170], [90, 90, 160], [200, 120, 120],
    [200, 120, 120], [120, 60, 20], [120, 60, 20], [40, 120, 255], [40, 120, 255],
    [255, 140, 0], [120, 0, 40], [220, 40, 80], [255, 80, 120], [110, 70, 40],
    [160, 160, 160], [160, 160, 160], [160, 160, 160], [160, 160, 160]], np.uint8)
assert len(_PALETTE) == len(CELEBM_LABELS)


def draw_points(rgb: np.ndarray, points_px: np.ndarray,
                colour: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """(H, W, 3) uint8: a copy of ``rgb`` with (N, 2) pixel points drawn as dots."""
    picture = Image.fromarray(np.asarray(rgb, np.uint8))
    draw = ImageDraw.Draw(picture)
    radius = max(1.0, max(rgb.shape[:2]) / 200)
    for x, y in np.asarray(points_px, np.float64) + 0.5:
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    return np.asarray(picture)


def landmark_picture(rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8: the crop with its 68 landmarks as green dots."""
    return draw_points(rgb, landmarks_px, (0, 255, 0))


def label_picture(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8: each class in its colour over the dimmed crop (background dim)."""
    colours = _PALETTE[labels].astype(np.float32)
    blended = 0.35 * np.asarray(rgb, np.float32) + 0.65 * colours
    return blended.clip(0, 255).astype(np.uint8)
