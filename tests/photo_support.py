"""Photos the face and fit tests share, made from scikit-image's public-domain astronaut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage
from PIL import Image

ASTRONAUT = Path(skimage.data.__file__).parent / "astronaut.png"
"""A public-domain NASA portrait shipped in scikit-image's wheel (512 x 512)."""


def two_face_photo(path: Path) -> Path:
    """The astronaut beside a smaller copy of herself (932 x 512, PNG at ``path``): two faces,
    the smaller one detected with the lower confidence."""
    photo = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    small = np.asarray(Image.fromarray(photo).resize((420, 420)))
    pair = np.zeros((512, 932, 3), np.uint8)
    pair[:, :512], pair[:420, 512:] = photo, small
    Image.fromarray(pair).save(path)
    return path
