"""Calibrated photos as training samples: a square crop around the head, resized, with K."""

from __future__ import annotations

import numpy as np
from PIL import Image

from rendering.camera import Camera


def crop_box(points_px: np.ndarray, margin: float = 0.25) -> tuple[float, float, float]:
    """A square (x0, y0, side) around projected points (N, 2), grown by ``margin``.

    Points are OpenCV pixel coordinates; the box is in pixel-edge coordinates (an OpenCV
    coordinate + 0.5, as PIL counts), which :func:`crop_camera` and :func:`crop_photo` take.
    The box may extend past the image; what lies outside is black in the crop.
    """
    lo, hi = points_px.min(axis=0), points_px.max(axis=0)
    centre = 0.5 * (lo + hi)
    side = float(max(hi - lo)) * (1.0 + 2.0 * margin)
    side = max(side, 8.0)
    return float(centre[0] + 0.5 - side / 2), float(centre[1] + 0.5 - side / 2), side


def crop_camera(K: np.ndarray, w2c: np.ndarray, box: tuple[float, float, float],
                size: int) -> Camera:
    """The camera of a square crop ``box`` (x0, y0, side; pixel-edge coordinates) of a photo
    resampled to ``size``: a photo coordinate x maps to ``(x + 0.5 - x0) * size / side - 0.5``,
    so pixel centres stay at integer coordinates in both."""
    x0, y0, side = box
    scale = size / side
    crop = np.array([[scale, 0.0, (0.5 - x0) * scale - 0.5],
                     [0.0, scale, (0.5 - y0) * scale - 0.5],
                     [0.0, 0.0, 1.0]])
    return Camera(K=crop @ K, w2c=w2c, width=size, height=size)


def crop_photo(photo: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Resample the square ``box`` of ``photo`` (H, W, 3) uint8 to (size, size, 3) uint8."""
    x0, y0, side = box
    image = Image.fromarray(photo)
    # PIL's EXTENT transform takes the box in pixel-edge coordinates.
    out = image.transform((size, size), Image.Transform.EXTENT,
                          (x0, y0, x0 + side, y0 + side), resample=Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8)
