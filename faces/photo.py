"""One photo to network-ready face crops: read, detect, crop square, landmarks, classes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faces.crop import BOX_SCALE, Crop, crop_face
from faces.detect import Face, detect_faces, pick_face
from faces.segment import segment_face
from rgbimage import read_rgb

MIN_PHOTO_SIDE_PX = 32
"""Photos smaller than this on either side cannot show a detectable face."""


@dataclass(frozen=True)
class FaceCrop:
    """One face of a photo, ready for the network and the fit.

    Attributes
    ----------
    rgb : (S, S, 3) uint8 square crop
    landmarks_px : (68, 2) detected landmarks in crop pixels
    labels : (S, S) uint8 celebm class ids (:mod:`faces.segment`)
    crop : the crop's window in the photo
    face : the detection in photo pixels
    faces : every face found in the photo, most confident first
    index : which of ``faces`` this is
    photo_size : (width, height) of the photo, pixels
    """

    rgb: np.ndarray
    landmarks_px: np.ndarray
    labels: np.ndarray
    crop: Crop
    face: Face
    faces: tuple[Face, ...]
    index: int
    photo_size: tuple[int, int]

    @property
    def n_faces(self) -> int:
        return len(self.faces)


def read_photo(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a photo at least ``MIN_PHOTO_SIDE_PX`` a side
    (:func:`rgbimage.read_rgb`; ImageError naming the file)."""
    return read_rgb(path, min_side=MIN_PHOTO_SIDE_PX)


@dataclass(frozen=True)
class PhotoFaces:
    """A photo and the faces found in it (most confident first)."""

    path: Path
    rgb: np.ndarray
    faces: tuple[Face, ...]

    def crop(self, index: int | None, size: int, box_scale: float = BOX_SCALE) -> FaceCrop:
        """The crop of face ``index`` (None: the most confident); NoFaceError naming the
        photo when there is no such face."""
        face = pick_face(list(self.faces), index, str(self.path))
        chosen = 0 if index is None else index
        crop_rgb, crop = crop_face(self.rgb, face.box_xyxy, size, box_scale)
        landmarks = crop.to_crop(face.landmarks_px)
        height, width = self.rgb.shape[:2]
        return FaceCrop(rgb=crop_rgb, landmarks_px=landmarks,
                        labels=segment_face(crop_rgb, landmarks), crop=crop, face=face,
                        faces=self.faces, index=chosen, photo_size=(width, height))


def find_faces(path: Path, detector: str = "hog") -> PhotoFaces:
    """Read ``path`` and find its faces (ImageError when unreadable or too small)."""
    rgb = read_photo(path)
    return PhotoFaces(path=Path(path), rgb=rgb, faces=tuple(detect_faces(rgb, detector)))


def face_crop(path: Path, size: int, face_index: int | None = None,
              box_scale: float = BOX_SCALE, detector: str = "hog") -> FaceCrop:
    """Read ``path``, find its faces and crop the chosen one (most confident by default).

    Raises ImageError (unreadable or too small) or NoFaceError (no face, or no face
    ``face_index``), both naming the file.
    """
    return find_faces(path, detector).crop(face_index, size, box_scale)


__all__ = ["FaceCrop", "PhotoFaces", "face_crop", "find_faces", "read_photo"]
