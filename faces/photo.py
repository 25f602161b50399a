"""One photo to a network-ready face crop: read, detect, crop square, landmarks, classes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from faces.crop import BOX_SCALE, Crop, crop_face
from faces.detect import Face, NoFaceError, detect_faces, pick_face
from faces.segment import segment_face

MIN_PHOTO_SIDE_PX = 32
"""Photos smaller than this on either side cannot show a detectable face."""


class PhotoError(ValueError):
    """A photo is missing, unreadable, or too small."""


@dataclass(frozen=True)
class FaceCrop:
    """The face of one photo, ready for the network and the fit.

    Attributes
    ----------
    rgb : (S, S, 3) uint8 square crop
    landmarks_px : (68, 2) detected landmarks in crop pixels
    labels : (S, S) uint8 celebm class ids (:mod:`faces.segment`)
    crop : the crop's window in the photo
    face : the detection in photo pixels
    n_faces : faces found in the photo
    """

    rgb: np.ndarray
    landmarks_px: np.ndarray
    labels: np.ndarray
    crop: Crop
    face: Face
    n_faces: int


def read_photo(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (grey or RGBA converted); PhotoError naming the
    file when it is missing, unreadable or truncated."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (FileNotFoundError, IsADirectoryError) as error:
        raise PhotoError(f"{path}: no such image file") from error
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise PhotoError(f"{path}: not a readable image ({error})") from error


def face_crop(path: Path, size: int, face_index: int | None = None,
              box_scale: float = BOX_SCALE) -> FaceCrop:
    """Read ``path``, find its faces and crop the chosen one (largest by default).

    Raises PhotoError (unreadable or too small) or NoFaceError (no face, or no face
    ``face_index``), both naming the file.
    """
    rgb = read_photo(path)
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_PHOTO_SIDE_PX:
        raise PhotoError(f"{path}: image is {width}x{height} pixels, too small to find a face "
                         f"(need {MIN_PHOTO_SIDE_PX} px on each side)")
    faces = detect_faces(rgb)
    face = pick_face(faces, face_index, str(path))
    crop_rgb, crop = crop_face(rgb, face.box_xyxy, size, box_scale)
    landmarks = crop.to_crop(face.landmarks_px)
    return FaceCrop(rgb=crop_rgb, landmarks_px=landmarks, labels=segment_face(crop_rgb, landmarks),
                    crop=crop, face=face, n_faces=len(faces))


__all__ = ["FaceCrop", "NoFaceError", "PhotoError", "face_crop", "read_photo"]
