"""Pixel3DMM's on-disk conventions for one image: crop, segmentation, normal and uv maps.

What Pixel3DMM's tracker reads (``src/pixel3dmm/tracking/tracker.py``, ``Tracker.read_data``)
for frame ``NNNNN`` of a sequence folder:

- ``cropped/NNNNN.png`` (or ``.jpg``): the square crop, RGB;
- ``seg_og/NNNNN.png``: facer ``farl/celebm`` class ids (:mod:`faces.segment`); the uv term
  uses classes {face, brows, nose, lips, neck, ears}, the normal term
  {face, brows, nose, lips, mouth interior};
- ``p3dmm/normals/NNNNN.png``: read as ``(png / 255 - 0.5) * 2``, i.e. written as
  ``(n + 1) / 2`` with n the unit normal in FLAME's model frame (``scripts/network_inference.py``
  writes it so after undoing its training-time axis order);
- ``p3dmm/uv_map/NNNNN.png``: read as ``png / 255``; R = u, G = v of FLAME's per-vertex uv
  with v flipped (the tracker's ``UVLoss`` compares against ``flame_uv_coords.npy`` with
  ``v -> 1 - v``, ``src/pixel3dmm/tracking/losses.py``), B = 0 (``pad_to_3_channels``).
  The tracker zeroes uv outside its uv mask.

- ``mica/<name>/identity.npy``: every sub-folder of ``mica/`` is listed and its
  ``identity.npy`` loaded, squeezed and averaged, with no fallback when ``mica/`` is missing
  (``read_data``, tracker.py lines 1509-1519); MICA writes its 300 FLAME shape coefficients
  there (``np.save(f'{dst}/identity', code[0])``, ``replacement_code/mica_demo.py`` line 165)
  and the tracker starts its shape from them (``create_parameters``, lines 419-420,
  ``num_shape_params: 300`` in ``configs/tracking.yaml``). Written here: (300,) float32.
- ``PIPnet_landmarks/NNNNN.npy``: (98, 2) WFLW points divided by the crop's width and height
  (``pipnet_demo.py`` lines 290-299), multiplied by the tracker's ``size`` on read (line
  1551); without the file the tracker silently runs with zero landmarks. It reads the 68
  iBUG points through ``WFLW_2_iBUG68`` (tracker.py lines 116-119, used at 1486) and the
  irises at 96 and 97 (lines 1487-1491); a point at (0, 0) is masked off (``lmk_mask``).
  Written here: the 68 detected points where ``WFLW_2_iBUG68`` reads them, the other 28
  contour, brow and eye points interpolated between them, the irises (0, 0) (not detected).

The project keeps FLAME's own v (not flipped) and float maps; all PNGs here are 8-bit, as the
tracker divides by 255.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from atomicfile import write_atomic
from faces.segment import LABEL

UV_CLASSES = ("face", "rb", "lb", "nose", "llip", "ulip", "neck", "rr", "lr")
"""Classes whose pixels the tracker searches for uv correspondences (``read_data``)."""
NORMAL_CLASSES = ("face", "rb", "lb", "nose", "llip", "ulip", "imouth")
"""Classes whose pixels enter the tracker's normal term (``read_data``, no big mask)."""


WFLW_2_IBUG68 = np.array(
    [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 33, 34, 35, 36, 37, 42, 43,
     44, 45, 46, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73,
     75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95])
"""``WFLW_2_iBUG68`` of Pixel3DMM's ``src/pixel3dmm/tracking/tracker.py`` (lines 116-119):
iBUG point i is WFLW point ``WFLW_2_IBUG68[i]``."""
MICA_SHAPE_PARAMS = 300
"""Length of ``identity.npy`` (MICA's shape code; the tracker's ``num_shape_params``)."""


class MapsError(ValueError):
    """A folder does not hold a readable Pixel3DMM frame."""


def class_mask(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(H, W) bool: pixels of ``labels`` (H, W) whose class is one of ``names``."""
    return np.isin(labels, [LABEL[name] for name in names])


def normals_to_png(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals (model frame) -> (H, W, 3) uint8 ``(n + 1) / 2``."""
    return np.round((np.asarray(normal, np.float64) + 1.0) * 127.5).clip(0, 255).astype(np.uint8)


def normals_from_png(png: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) float32 unit normals (the tracker's decoding, then
    renormalised; zero-length pixels stay zero)."""
    normal = (np.asarray(png, np.float32)[..., :3] / 255.0 - 0.5) * 2.0
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    return np.where(length > 1e-6, normal / np.maximum(length, 1e-6), 0.0).astype(np.float32)


def uv_to_png(uv: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 2) project uv (FLAME's v) -> (H, W, 3) uint8 R = u, G = 1 - v, B = 0; zero
    where ``valid`` (H, W) bool is False."""
    uv = np.asarray(uv, np.float64)
    png = np.zeros((*uv.shape[:2], 3), np.uint8)
    png[..., 0] = np.round(uv[..., 0] * 255.0).clip(0, 255)
    png[..., 1] = np.round((1.0 - uv[..., 1]) * 255.0).clip(0, 255)
    if valid is not None:
        png[~np.asarray(valid, bool)] = 0
    return png


def uv_from_png(png: np.ndarray) -> np.ndarray:
    """(H, W, >=2) uint8 Pixel3DMM uv -> (H, W, 2) float32 project uv (v flipped back)."""
    png = np.asarray(png, np.float32)
    return np.stack([png[..., 0] / 255.0, 1.0 - png[..., 1] / 255.0], axis=-1)


def labels_from_shard_mask(mask: np.ndarray) -> np.ndarray:
    """(H, W) celebm class ids for a rendered sample's mask bits (:mod:`rendering.maps`):
    ``MASK_FACE`` -> face, other ``MASK_UV`` (ears, neck, scalp) -> neck (uv term only),
    ``MASK_NORMAL`` without uv (scan surface FLAME does not cover) -> hair, else background."""
    mask = np.asarray(mask, np.uint8)
    labels = np.zeros(mask.shape, np.uint8)
    labels[(mask & 1) > 0] = LABEL["hair"]
    labels[(mask & 2) > 0] = LABEL["neck"]
    labels[(mask & 4) > 0] = LABEL["face"]
    return labels


def wflw98_from_ibug68(landmarks_px: np.ndarray, size: int) -> np.ndarray:
    """(98, 2) float64 WFLW points in [0, 1] (``PIPnet_landmarks``) from (68, 2) iBUG points
    in pixels of a ``size`` x ``size`` crop (pixel centres at integers: x / size after
    +0.5). Points between two mapped ones (odd contour points, lower brow arcs, eye points
    62, 66, 70, 74) are interpolated; the irises 96, 97 are (0, 0), which the tracker masks.
    """
    ibug = (np.asarray(landmarks_px, np.float64) + 0.5) / size
    wflw = np.full((98, 2), np.nan)
    wflw[WFLW_2_IBUG68] = ibug
    for index in range(1, 32, 2):  # contour: 33 WFLW points, 17 iBUG ones
        wflw[index] = (wflw[index - 1] + wflw[index + 1]) / 2
    for start in (33, 42):  # brows: upper arc 5 points mapped, lower arc 4 between them
        upper = wflw[start:start + 5]
        wflw[start + 5:start + 9] = ((upper[1:] + upper[:-1]) / 2)[::-1]
    for eye in (60, 68):  # eyes: 8 points, corners and lids; 62 and 66 (70, 74) between
        wflw[eye + 2] = (wflw[eye + 1] + wflw[eye + 3]) / 2
        wflw[eye + 6] = (wflw[eye + 5] + wflw[eye + 7]) / 2
    wflw[96:98] = 0.0
    return np.clip(wflw, 0.0, 1.0)


def ibug68_from_wflw98(wflw: np.ndarray, size: int) -> np.ndarray:
    """(68, 2) pixels of a ``size`` crop as the tracker reads them from (98, 2) WFLW points
    (``lms * size`` then ``WFLW_2_iBUG68``), shifted back to pixel centres at integers."""
    return np.asarray(wflw, np.float64)[WFLW_2_IBUG68] * size - 0.5


def mica_identity(shape: np.ndarray) -> np.ndarray:
    """(300,) float32 identity for ``mica/``: FLAME shape coefficients (s,) zero-padded."""
    shape = np.asarray(shape, np.float64).ravel()[:MICA_SHAPE_PARAMS]
    identity = np.zeros(MICA_SHAPE_PARAMS, np.float32)
    identity[:shape.size] = shape
    return identity


def frame_paths(folder: Path, index: int) -> dict[str, Path]:
    """Where frame ``index`` of a Pixel3DMM sequence ``folder`` lives."""
    folder, name = Path(folder), f"{index:05d}.png"
    return {"cropped": folder / "cropped" / name, "seg_og": folder / "seg_og" / name,
            "normals": folder / "p3dmm" / "normals" / name,
            "uv_map": folder / "p3dmm" / "uv_map" / name,
            "landmarks": folder / "PIPnet_landmarks" / f"{index:05d}.npy",
            "mica": folder / "mica" / f"{index:05d}" / "identity.npy"}


def _write_npy(path: Path, array: np.ndarray) -> Path:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)
    return write_atomic(path, save)


def write_frame(folder: Path, index: int, normal: np.ndarray, uv: np.ndarray,
                labels: np.ndarray, rgb: np.ndarray | None = None,
                landmarks_px: np.ndarray | None = None,
                shape: np.ndarray | None = None) -> dict[str, Path]:
    """Write one frame in Pixel3DMM's layout (PNG and .npy, each file atomically).

    Parameters
    ----------
    normal : (H, W, 3) unit normals, model frame; uv : (H, W, 2) project uv (FLAME's v)
    labels : (H, W) uint8 celebm class ids; uv is zeroed outside their uv classes
    rgb : (H, W, 3) uint8 crop, or None (not written)
    landmarks_px : (68, 2) iBUG landmarks in pixels of the (square) frame, or None;
        written as ``PIPnet_landmarks/NNNNN.npy`` (:func:`wflw98_from_ibug68`)
    shape : FLAME shape coefficients (s,), or None; written as
        ``mica/NNNNN/identity.npy`` (:func:`mica_identity`)
    """
    paths = frame_paths(folder, index)
    images = {"seg_og": np.asarray(labels, np.uint8), "normals": normals_to_png(normal),
              "uv_map": uv_to_png(uv, class_mask(labels, UV_CLASSES))}
    if rgb is not None:
        images["cropped"] = np.asarray(rgb, np.uint8)
    for key, image in images.items():
        write_atomic(paths[key], lambda tmp, image=image: Image.fromarray(image).save(
            tmp, format="PNG"))
    written = {key: paths[key] for key in images}
    if landmarks_px is not None:
        size = labels.shape[1]
        written["landmarks"] = _write_npy(paths["landmarks"],
                                          wflw98_from_ibug68(landmarks_px, size))
    if shape is not None:
        written["mica"] = _write_npy(paths["mica"], mica_identity(shape))
    return written


def read_frame(folder: Path, index: int = 0, size: int | None = None) -> dict[str, np.ndarray]:
    """Read frame ``index`` written in Pixel3DMM's layout, resized to ``size`` as the tracker
    resizes (PIL's default resampling, nearest for the classes; None: as stored).

    Returns ``normal`` (H, W, 3) unit, ``uv`` (H, W, 2) project uv, ``labels`` (H, W) uint8,
    ``uv_valid`` and ``normal_valid`` (H, W) bool (the tracker's masks), and ``rgb`` when
    ``cropped/`` holds the frame. Raises MapsError naming the file.
    """
    paths = frame_paths(folder, index)
    arrays = {}
    for key in ("seg_og", "normals", "uv_map", "cropped"):
        path = paths[key]
        if key == "cropped" and not path.exists():
            continue
        try:
            with Image.open(path) as image:
                image = image.convert("L" if key == "seg_og" else "RGB")
                if size is not None and image.size != (size, size):
                    nearest = Image.NEAREST if key == "seg_og" else None
                    image = image.resize((size, size), nearest)
                arrays[key] = np.asarray(image)
        except (OSError, ValueError) as error:
            raise MapsError(f"{path}: not a readable Pixel3DMM {key} image ({error})") from error
    shapes = {a.shape[:2] for a in arrays.values()}
    if len(shapes) != 1:
        raise MapsError(f"{folder}: frame {index:05d} images differ in size ({sorted(shapes)})")
    labels = arrays["seg_og"]
    out = {"normal": normals_from_png(arrays["normals"]), "uv": uv_from_png(arrays["uv_map"]),
           "labels": labels, "uv_valid": class_mask(labels, UV_CLASSES),
           "normal_valid": class_mask(labels, NORMAL_CLASSES)}
    if "cropped" in arrays:
        out["rgb"] = arrays["cropped"]
    return out
