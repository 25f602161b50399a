"""What a shard holds: per-sample fields, their stored dtypes and the map encodings.

Stored per sample (n samples per shard, one HDF5 chunk per sample for the image maps):

====================  =====================  ==========================================
name                  stored                 meaning / precision after the round trip
====================  =====================  ==========================================
rgb                   (H, W, 3) uint8        exact
normal                (3, H, W) int16        unit normal * NORMAL_SCALE (2047), model
                                             frame; angle error <= 0.03 degree, length
                                             within 5e-4 of 1; 0 = invalid
uv                    (2, H, W) uint16       uv * UV_SCALE (4095); error <= 0.5 / UV_SCALE
                                             (1.2e-4); 0 where invalid
mask                  (H, W) uint8           bits 1 normal, 2 uv, 4 face region; exact
depth                 (H, W) float16         camera z metres; 0.25 mm below 1 m,
                                             0.5 mm below 2 m; 0 = invalid
K, w2c                (3, 3), (4, 4) float32 OpenCV camera (w2c holds the camera rotation)
shape, expr, pose,    (S,), (E,), (J*3,),    registered model parameters, float32
transl, scale         (3,), ()
dataset, subject,     fixed-length UTF-8     ids (at most ID_BYTES bytes each)
expression, scan      bytes
view                  int32                  view index of the scan
====================  =====================  ==========================================

Maps are stored channel-first so that a reader converts them to (C, H, W) tensors without a
transpose. The scales keep 12 bits: finer steps only add incompressible noise bits (measured
in bench/render_shards.py: 32767 and 65535 give ~25% larger normal and uv chunks).
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 1

NORMAL_SCALE = 2047.0
UV_SCALE = 4095.0
ID_BYTES = 64

MAP_FIELDS = ("rgb", "normal", "uv", "mask", "depth")
CAMERA_FIELDS = ("K", "w2c")
PARAM_FIELDS = ("shape", "expr", "pose", "transl", "scale")
ID_FIELDS = ("dataset", "subject", "expression", "scan")
SAMPLE_FIELDS = MAP_FIELDS + CAMERA_FIELDS + PARAM_FIELDS + ID_FIELDS + ("view",)
"""Keys of a sample dict given to :func:`shards.writer.write_shard`."""


class ShardError(ValueError):
    """A shard or manifest is missing, truncated, corrupt or of another schema."""


def encode_maps(sample: dict, height: int, width: int) -> dict[str, np.ndarray]:
    """Stored arrays of one sample's maps (see module table); checks shapes and dtypes.

    ``normal`` (H, W, 3) float unit vectors (0 where invalid), ``uv`` (H, W, 2) float in
    [0, 1], ``depth`` (H, W) float metres, ``rgb`` (H, W, 3) uint8, ``mask`` (H, W) uint8.
    """
    expected = {"rgb": (height, width, 3), "normal": (height, width, 3),
                "uv": (height, width, 2), "mask": (height, width), "depth": (height, width)}
    for name, shape in expected.items():
        if np.shape(sample[name]) != shape:
            raise ValueError(f"sample field {name!r} has shape {np.shape(sample[name])}, "
                             f"expected {shape}")
    for name in ("rgb", "mask"):
        if np.asarray(sample[name]).dtype != np.uint8:
            raise ValueError(f"sample field {name!r} must be uint8")
    normal = np.asarray(sample["normal"], dtype=np.float32)
    uv = np.asarray(sample["uv"], dtype=np.float32)
    normal_q = np.empty((3, height, width), dtype=np.int16)
    for c in range(3):
        channel = normal[..., c] * NORMAL_SCALE
        normal_q[c] = np.rint(channel, out=channel)
    uv_q = np.empty((2, height, width), dtype=np.uint16)
    for c in range(2):
        channel = np.clip(uv[..., c], 0.0, 1.0) * UV_SCALE
        uv_q[c] = np.rint(channel, out=channel)
    return {"rgb": np.asarray(sample["rgb"]), "normal": normal_q, "uv": uv_q,
            "mask": np.asarray(sample["mask"]),
            "depth": np.asarray(sample["depth"], dtype=np.float16)}


def decode_normal(stored: np.ndarray) -> np.ndarray:
    """(3, H, W) int16 -> (3, H, W) float32 unit vectors (0 where invalid)."""
    return np.multiply(stored, np.float32(1.0 / NORMAL_SCALE), dtype=np.float32)


def decode_uv(stored: np.ndarray) -> np.ndarray:
    """(2, H, W) uint16 -> (2, H, W) float32 in [0, 1] (0 where invalid)."""
    return np.multiply(stored, np.float32(1.0 / UV_SCALE), dtype=np.float32)


def encode_id(value: str, field: str) -> bytes:
    """UTF-8 bytes of an id, checked against :data:`ID_BYTES`."""
    raw = str(value).encode("utf-8")
    if len(raw) > ID_BYTES:
        raise ValueError(f"sample id field {field!r} is {len(raw)} bytes, at most {ID_BYTES}")
    return raw


def sample_id(dataset: str, scan: str, view: int) -> str:
    """The sample's id string: ``dataset/scan/view`` (view zero-padded to 4 digits)."""
    return f"{dataset}/{scan}/{view:04d}"
