"""Face boxes and the 68 Multi-PIE landmarks from dlib (models shipped in pip packages).

Detector: dlib's HOG + linear SVM frontal face detector (built into ``dlib``, no model
file). Landmarks: dlib's ``shape_predictor_68_face_landmarks.dat`` as shipped by the
``face-recognition-models`` wheel, in the 68-point iBUG 300-W / Multi-PIE order that the
FLAME landmark embedding uses. Nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

DETECT_MAX_SIDE_PX = 1024
"""Images are searched at most this many pixels across (larger ones downscaled first)."""
UPSAMPLE_BELOW_PX = 400
"""Images smaller than this (max side) are searched once upsampled x2 (small faces)."""
MIN_SCORE = 0.3
"""Boxes whose HOG SVM margin is below this are dropped: on scikit-image's astronaut beside a
scaled copy of itself, false boxes on the suit scored 0.02-0.23 (one larger than the real
faces, so "the largest" would have picked it), the faces 1.2-1.5."""


class NoFaceError(ValueError):
    """No face was found in an image, or the face asked for is not there."""


@dataclass(frozen=True)
class Face:
    """One detected face in image pixels (x = column, y = row, pixel centres at integers).

    Attributes
    ----------
    box_xyxy : (4,) float64, detector box (x0, y0, x1, y1)
    landmarks_px : (68, 2) float64, Multi-PIE order (jaw 0-16, brows 17-26, nose 27-35,
        eyes 36-47, mouth 48-67)
    score : detector confidence (HOG SVM margin; larger is surer)
    """

    box_xyxy: np.ndarray
    landmarks_px: np.ndarray
    score: float

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box_xyxy
        return float((x1 - x0) * (y1 - y0))


def predictor_path() -> Path:
    """Path of dlib's 68-point model inside the ``face_recognition_models`` package."""
    spec = find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("face_recognition_models is not installed "
                                  "(pip install face-recognition-models)")
    return Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"


@lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor_path()))


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """All faces of an (H, W, 3) uint8 image, largest box first."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    detector, predictor = _dlib_models()
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE_PX / max(height, width))
    small = rgb
    if scale < 1.0:
        from PIL import Image

        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
    upsample = 1 if max(small.shape[:2]) < UPSAMPLE_BELOW_PX else 0
    boxes, scores, _ = detector.run(small, upsample, MIN_SCORE)
    faces = []
    for box, score in zip(boxes, scores, strict=True):
        shape = predictor(small, box)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) / scale
        xyxy = np.array([box.left(), box.top(), box.right(), box.bottom()], np.float64) / scale
        faces.append(Face(box_xyxy=xyxy, landmarks_px=points, score=float(score)))
    return sorted(faces, key=lambda face: -face.area)


def pick_face(faces: list[Face], index: int | None, source: str) -> Face:
    """The largest face (``index`` None) or face ``index`` (0 = largest) of ``faces``.

    Raises NoFaceError naming ``source`` when there is none or too few.
    """
    if not faces:
        raise NoFaceError(f"{source}: no face found (dlib's frontal face detector)")
    chosen = 0 if index is None else index
    if not 0 <= chosen < len(faces):
        raise NoFaceError(f"{source}: --face {index} asked for, {len(faces)} face(s) found "
                          f"(0 = largest)")
    return faces[chosen]
