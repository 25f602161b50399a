"""Photo preprocessing as Pixel3DMM does it: face detection, 68 landmarks, the square crop,
face classes, and Pixel3DMM's on-disk conventions (:mod:`faces.pixel3dmm`).

Public API: :func:`face_crop`, :func:`find_faces`, :class:`PhotoFaces`, :class:`FaceCrop`,
:func:`read_photo`, :class:`NoFaceError`, :func:`detect_faces`, :class:`Face`,
:func:`crop_face`, :class:`Crop`, :func:`segment_face`, :data:`CELEBM_LABELS`. Unreadable
photos raise :class:`rgbimage.ImageError`.
"""

from faces.crop import BOX_SCALE, Crop, crop_face
from faces.detect import DETECTORS, Face, NoFaceError, detect_faces, pick_face
from faces.photo import FaceCrop, PhotoFaces, face_crop, find_faces, read_photo
from faces.segment import CELEBM_LABELS, segment_face

__all__ = ["BOX_SCALE", "CELEBM_LABELS", "DETECTORS", "Crop", "Face", "FaceCrop", "NoFaceError",
           "PhotoFaces", "crop_face", "detect_faces", "face_crop", "find_faces", "pick_face",
           "read_photo", "segment_face"]
