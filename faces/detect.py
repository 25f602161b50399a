"""Face boxes and the 68 Multi-PIE landmarks from dlib (models shipped in pip packages).

Detectors: dlib's HOG + linear SVM frontal face detector (``hog``, built into ``dlib``, the
default) or dlib's CNN (MMOD) detector ``mmod_human_face_detector.dat`` (``cnn``, shipped by
the ``face-recognition-models`` wheel; 5-14 s on a 1-2 MP photo on this CPU). Landmarks:
dlib's ``shape_predictor_68_face_landmarks.dat`` from the same wheel, in the 68-point
iBUG 300-W / Multi-PIE order that the FLAME landmark embedding uses. Nothing is downloaded
at run time.

A photo with no face at the first try is searched again upsampled (x2, then x4 for small
photos) before "no face" is said: dlib's HOG window is 80 px, so smaller faces need it.
Faces are listed most confident first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

DETECTORS = ("hog", "cnn")
"""Detector names: dlib's HOG frontal face detector, dlib's CNN (MMOD) face detector."""
DETECT_MAX_PIXELS = 2_000_000
"""Photos are searched at most this many pixels large (larger ones downscaled first; the
landmarks are then found on the full-resolution photo)."""
MAX_UPSAMPLED_PIXELS = 8_500_000
"""An upsampled retry is made only while the upsampled image stays below this."""
UPSAMPLE_BELOW_PX = 400
"""Images smaller than this (max side) are searched once upsampled x2 from the start."""
MIN_SCORE = 0.3
"""HOG boxes whose SVM margin is below this are dropped: on scikit-image's astronaut beside
a scaled copy of itself, false boxes on the suit scored 0.02-0.23 (one larger than the real
faces), the faces 1.2-1.5."""
MIN_CNN_CONFIDENCE = 0.3
"""CNN (MMOD) boxes whose confidence is below this are dropped."""


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
    score : detector confidence (HOG SVM margin or CNN confidence; larger is surer)
    upsample : times the searched image was upsampled x2 to find it
    detector : "hog" or "cnn"
    """

    box_xyxy: np.ndarray
    landmarks_px: np.ndarray
    score: float
    upsample: int = 0
    detector: str = "hog"

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box_xyxy
        return float((x1 - x0) * (y1 - y0))

    def as_dict(self) -> dict:
        """JSON-ready description (box in photo pixels, score, how it was found)."""
        return {"box_xyxy": [round(float(v), 2) for v in self.box_xyxy],
                "score": round(self.score, 4), "detector": self.detector,
                "upsample": self.upsample}


def model_path(name: str) -> Path:
    """Path of a model file inside the ``face_recognition_models`` package (found without
    importing it: its ``__init__`` needs ``pkg_resources``)."""
    spec = find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("face_recognition_models is not installed "
                                  "(pip install face-recognition-models)")
    return Path(spec.origin).parent / "models" / name


def predictor_path() -> Path:
    """dlib's 68-point shape predictor."""
    return model_path("shape_predictor_68_face_landmarks.dat")


@lru_cache(maxsize=1)
def _predictor():
    import dlib

    return dlib.shape_predictor(str(predictor_path()))


@lru_cache(maxsize=2)
def _detector(name: str):
    import dlib

    if name == "hog":
        return dlib.get_frontal_face_detector()
    if name == "cnn":
        return dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))
    raise ValueError(f"unknown detector {name!r} (choose from {', '.join(DETECTORS)})")


def _boxes(image: np.ndarray, detector: str, upsample: int) -> list[tuple[np.ndarray, float]]:
    """[(box (4,) xyxy in ``image`` pixels, score)] of one detector pass."""
    if detector == "hog":
        rects, scores, _ = _detector("hog").run(image, upsample, MIN_SCORE)
        pairs = zip(rects, scores, strict=True)
    else:
        pairs = [(hit.rect, hit.confidence) for hit in _detector("cnn")(image, upsample)
                 if hit.confidence >= MIN_CNN_CONFIDENCE]
    return [(np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64), float(score))
            for r, score in pairs]


def _landmarks(rgb: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks of the face in ``box_xyxy`` of the full-resolution ``rgb``."""
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box_xyxy)
    shape = _predictor()(rgb, dlib.rectangle(x0, y0, x1, y1))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def detect_faces(rgb: np.ndarray, detector: str = "hog", retry_upsampled: bool = True
                 ) -> list[Face]:
    """All faces of an (H, W, 3) uint8 image, most confident first.

    Searched on a copy at most ``DETECT_MAX_PIXELS`` large; when nothing is found, again
    upsampled x2 (and x4) while the upsampled image stays under ``MAX_UPSAMPLED_PIXELS``.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r} (choose from {', '.join(DETECTORS)})")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    scale = min(1.0, (DETECT_MAX_PIXELS / (height * width)) ** 0.5)
    small = rgb
    if scale < 1.0:
        from PIL import Image

        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
    upsample = 1 if max(small.shape[:2]) < UPSAMPLE_BELOW_PX else 0
    found = _boxes(small, detector, upsample)
    while (not found and retry_upsampled
           and small.shape[0] * small.shape[1] * 4 ** (upsample + 1) <= MAX_UPSAMPLED_PIXELS):
        upsample += 1
        found = _boxes(small, detector, upsample)
    faces = []
    for box, score in found:
        box = box / scale
        faces.append(Face(box_xyxy=box, landmarks_px=_landmarks(rgb, box), score=score,
                          upsample=upsample, detector=detector))
    return sorted(faces, key=lambda face: -face.score)


def pick_face(faces: list[Face], index: int | None, source: str) -> Face:
    """The most confident face (``index`` None) or face ``index`` (0 = most confident).

    Raises NoFaceError naming ``source`` when there is none or too few.
    """
    if not faces:
        raise NoFaceError(f"{source}: no face found (dlib's frontal face detector, also "
                          f"searched upsampled)")
    chosen = 0 if index is None else index
    if not 0 <= chosen < len(faces):
        raise NoFaceError(f"{source}: --face {index} asked for, {len(faces)} face(s) found "
                          f"(0 = most confident)")
    return faces[chosen]
