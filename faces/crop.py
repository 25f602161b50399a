"""The square crop around a detected face, as Pixel3DMM's preprocessing makes it.

Pixel3DMM (``src/pixel3dmm/preprocessing/pipnet_utils.py``, ``get_cstm_crop``): the
detector's box is made square about its centre (the shorter side grown), then grown by
``1.42`` on each axis, then shifted back inside the image when it overflows. When the box is
larger than the image we pad with black instead of shrinking it, so the face keeps its
margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

BOX_SCALE = 1.42
"""Detector box growth of Pixel3DMM's crop (``det_box_scale`` in ``get_cstm_crop``)."""


@dataclass(frozen=True)
class Crop:
    """A square window of the photo resized to ``size`` x ``size``.

    Attributes
    ----------
    x0, y0 : top-left corner of the window in photo pixels (may be negative: padded)
    side : window side in photo pixels
    size : side of the resized crop, pixels
    """

    x0: float
    y0: float
    side: float
    size: int

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return self.size / self.side

    def to_crop(self, points_px: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixel centres -> crop pixel centres."""
        offset = np.array([self.x0, self.y0])
        return (np.asarray(points_px, np.float64) + 0.5 - offset) * self.scale - 0.5

    def to_photo(self, points_px: np.ndarray) -> np.ndarray:
        """(N, 2) crop pixel centres -> photo pixel centres."""
        offset = np.array([self.x0, self.y0])
        return (np.asarray(points_px, np.float64) + 0.5) / self.scale + offset - 0.5

    def as_array(self) -> np.ndarray:
        """(4,) x0, y0, side, size (as stored in params.npz)."""
        return np.array([self.x0, self.y0, self.side, self.size], np.float64)


def square_box(box_xyxy: np.ndarray, width: int, height: int,
               scale: float = BOX_SCALE) -> tuple[float, float, float]:
    """(x0, y0, side) of the square window around a detector box (x0, y0, x1, y1) in an
    image of ``width`` x ``height`` pixels (``get_cstm_crop``'s steps, see the module)."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    box_w, box_h = x1 - x0, y1 - y0
    side = max(box_w, box_h)
    x0 -= (side - box_w) / 2
    y0 -= (side - box_h) / 2
    grow = side * (scale - 1) / 2
    x0, y0, side = x0 - grow, y0 - grow, side + 2 * grow
    # Shift inside the image where it fits; otherwise centre the overflow (padding).
    x0 = min(max(x0, 0.0), width - side) if side <= width else (width - side) / 2
    y0 = min(max(y0, 0.0), height - side) if side <= height else (height - side) / 2
    return x0, y0, side


def crop_face(rgb: np.ndarray, box_xyxy: np.ndarray, size: int,
              scale: float = BOX_SCALE) -> tuple[np.ndarray, Crop]:
    """(size, size, 3) uint8 crop of an (H, W, 3) uint8 photo around a face box, and the
    window it came from (bicubic resampling; black outside the photo)."""
    height, width = rgb.shape[:2]
    x0, y0, side = square_box(box_xyxy, width, height, scale)
    window = (x0, y0, x0 + side, y0 + side)
    crop = Image.fromarray(np.asarray(rgb, np.uint8)).transform(
        (size, size), Image.EXTENT, window, resample=Image.BICUBIC, fillcolor=(0, 0, 0))
    return np.array(crop, dtype=np.uint8), Crop(x0=x0, y0=y0, side=side, size=size)
