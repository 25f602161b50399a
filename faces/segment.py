"""Face parsing of a crop into FaRL/CelebAMask-HQ classes, from the 68 landmarks and colour.

dlib ships no segmentation network and mediapipe's wheel ships no models, so the classes
are drawn from the landmarks (face, brows, eyes, nose, lips, mouth interior) and completed
by a skin colour model fitted to the crop's own cheeks (forehead above the brows, neck
below the jaw, hair around the head). Coarse next to a learned parser: the neck and hair
classes only say "skin-coloured below the jaw" and "not skin, inside the head's ellipse".

Class ids are those of facer's ``farl/celebm/448`` parser, the ``seg_og`` images that
Pixel3DMM's tracker reads (``label_names`` in facer's ``face_parsing/farl.py``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

CELEBM_LABELS = ("background", "neck", "face", "cloth", "rr", "lr", "rb", "lb", "re", "le",
                 "nose", "imouth", "llip", "ulip", "hair", "eyeg", "hat", "earr", "neck_l")
"""facer ``farl/celebm/448`` class names; a pixel's value in ``seg_og`` is the index."""
LABEL = {name: index for index, name in enumerate(CELEBM_LABELS)}

FOREHEAD_RAISE = 0.6
"""The forehead polygon reaches this share of the brow-to-chin height above the brows."""
SKIN_MAX_MAHALANOBIS_SQ = 16.0
"""A pixel is skin-coloured when its squared Mahalanobis distance (RGB) to the cheeks'
colour is below this."""
EYE_DILATE_PX = 0.012
"""Eye polygons are grown by this share of the crop size (lashes, lids)."""

_JAW = list(range(0, 17))
_RIGHT_BROW, _LEFT_BROW = list(range(17, 22)), list(range(22, 27))
_NOSE = [27, 31, 32, 33, 34, 35]
_RIGHT_EYE, _LEFT_EYE = list(range(36, 42)), list(range(42, 48))
_UPPER_LIP = [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]
_LOWER_LIP = [54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]
_MOUTH_INSIDE = list(range(60, 68))


def _polygon(size: int, points: np.ndarray, width: int = 0) -> np.ndarray:
    """(size, size) bool: the filled polygon (or, with ``width``, the polyline) of (N, 2)."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    xy = [tuple(p) for p in np.asarray(points, np.float64) + 0.5]
    if width:
        draw.line(xy, fill=1, width=width, joint="curve")
    else:
        draw.polygon(xy, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def _skin_distance(rgb: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """(H, W) squared Mahalanobis distance of each pixel to the colours at ``sample``."""
    colours = rgb[sample].astype(np.float64)
    mean = colours.mean(axis=0)
    cov = np.cov(colours.T) + np.eye(3) * 4.0  # floor: flat-lit skin
    diff = rgb.reshape(-1, 3).astype(np.float64) - mean
    dist = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return dist.reshape(rgb.shape[:2])


def segment_face(rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """(S, S) uint8 celebm class ids of an (S, S, 3) uint8 face crop with its (68, 2)
    landmarks in crop pixels."""
    size = rgb.shape[0]
    lmk = np.asarray(landmarks_px, np.float64)
    labels = np.zeros((size, size), np.uint8)
    brow_mid = lmk[17:27].mean(axis=0)
    up = brow_mid - lmk[8]
    height = np.linalg.norm(up)
    up /= max(height, 1e-9)
    forehead = lmk[26:16:-1] + FOREHEAD_RAISE * height * up
    jaw = _polygon(size, lmk[_JAW])
    face = _polygon(size, np.concatenate([lmk[_JAW], forehead]))
    brows_lower = _polygon(size, np.concatenate([lmk[_JAW], lmk[26:16:-1]]))
    eye_grow = max(1, round(EYE_DILATE_PX * size))
    eyes = [ndimage.binary_dilation(_polygon(size, lmk[ids]), iterations=eye_grow)
            for ids in (_RIGHT_EYE, _LEFT_EYE)]
    brow_width = max(2, round(0.02 * size))
    brows = [_polygon(size, lmk[ids], width=brow_width) for ids in (_RIGHT_BROW, _LEFT_BROW)]
    lips = [_polygon(size, lmk[_UPPER_LIP]), _polygon(size, lmk[_LOWER_LIP])]
    inside = _polygon(size, lmk[_MOUTH_INSIDE])
    nose = _polygon(size, lmk[_NOSE])
    cheeks = brows_lower & ~(eyes[0] | eyes[1] | lips[0] | lips[1] | inside | nose
                             | brows[0] | brows[1])
    if cheeks.sum() < 30:
        cheeks = brows_lower
    skin = _skin_distance(rgb, cheeks) < SKIN_MAX_MAHALANOBIS_SQ
    # Neck: skin-coloured pixels below the jaw, connected to it, between the jaw corners.
    cols, rows = np.meshgrid(np.arange(size), np.arange(size))
    below = (rows > lmk[[3, 13], 1].min()) & (cols > lmk[4, 0]) & (cols < lmk[12, 0])
    neck_candidates = skin & below & ~face
    grown_jaw = ndimage.binary_dilation(jaw, iterations=2)
    parts, _ = ndimage.label(neck_candidates | grown_jaw)
    touching = np.unique(parts[grown_jaw])
    neck = np.isin(parts, touching[touching > 0]) & neck_candidates
    # Hair: non-skin pixels inside the head's ellipse, above the jaw corners.
    centre = brow_mid + 0.1 * height * up
    axis_x = 0.75 * np.linalg.norm(lmk[16] - lmk[0])
    axis_y = 1.0 * height
    d = np.stack([cols - centre[0], rows - centre[1]], axis=-1)
    across = np.array([-up[1], up[0]])
    ellipse = ((d @ across) / axis_x) ** 2 + ((d @ up) / axis_y) ** 2 <= 1.0
    above_jaw = (d @ up) > (lmk[[3, 13]] - centre).dot(up).min()
    hair = ellipse & above_jaw & ~skin & ~face
    labels[neck] = LABEL["neck"]
    labels[hair] = LABEL["hair"]
    labels[face & (jaw | brows_lower | skin)] = LABEL["face"]
    labels[face & ~(jaw | brows_lower) & ~skin] = LABEL["hair"]
    labels[nose] = LABEL["nose"]
    labels[brows[0]] = LABEL["rb"]
    labels[brows[1]] = LABEL["lb"]
    labels[eyes[0]] = LABEL["re"]
    labels[eyes[1]] = LABEL["le"]
    labels[lips[0]] = LABEL["ulip"]
    labels[lips[1]] = LABEL["llip"]
    labels[inside] = LABEL["imouth"]
    return labels
