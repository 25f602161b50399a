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


def frame_paths(folder: Path, index: int) -> dict[str, Path]:
    """Where frame ``index`` of a Pixel3DMM sequence ``folder`` lives."""
    folder, name = Path(folder), f"{index:05d}.png"
    return {"cropped": folder / "cropped" / name, "seg_og": folder / "seg_og" / name,
            "normals": folder / "p3dmm" / "normals" / name,
            "uv_map": folder / "p3dmm" / "uv_map" / name}


def write_frame(folder: Path, index: int, normal: np.ndarray, uv: np.ndarray,
                labels: np.ndarray, rgb: np.ndarray | None = None) -> dict[str, Path]:
    """Write one frame in Pixel3DMM's layout (PNG, each file atomically).

    Parameters
    ----------
    normal : (H, W, 3) unit normals, model frame; uv : (H, W, 2) project uv (FLAME's v)
    labels : (H, W) uint8 celebm class ids; uv is zeroed outside their uv classes
    rgb : (H, W, 3) uint8 crop, or None (not written)
    """
    paths = frame_paths(folder, index)
    images = {"seg_og": np.asarray(labels, np.uint8), "normals": normals_to_png(normal),
              "uv_map": uv_to_png(uv, class_mask(labels, UV_CLASSES))}
    if rgb is not None:
        images["cropped"] = np.asarray(rgb, np.uint8)
    for key, image in images.items():
        write_atomic(paths[key], lambda tmp, image=image: Image.fromarray(image).save(
            tmp, format="PNG"))
    return {key: paths[key] for key in images}


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
