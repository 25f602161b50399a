"""Photo preprocessing as Pixel3DMM does it: face detection, 68 landmarks, the square crop,
face classes, and Pixel3DMM's on-disk map conventions (:mod:`faces.pixel3dmm`).

Public API: :func:`face_crop`, :class:`FaceCrop`, :func:`read_photo`, :class:`PhotoError`,
:class:`NoFaceError`, :func:`detect_faces`, :class:`Face`, :func:`crop_face`, :class:`Crop`,
:func:`segment_face`, :data:`CELEBM_LABELS`.
"""

from faces.crop import BOX_SCALE, Crop, crop_face
from faces.detect import Face, NoFaceError, detect_faces, pick_face
from faces.photo import FaceCrop, PhotoError, face_crop, read_photo
from faces.segment import CELEBM_LABELS, segment_face

__all__ = ["BOX_SCALE", "CELEBM_LABELS", "Crop", "Face", "FaceCrop", "NoFaceError",
           "PhotoError", "crop_face", "detect_faces", "face_crop", "pick_face", "read_photo",
           "segment_face"]
