"""Write one shard: a fixed number of samples, one compressed HDF5 chunk per sample and map.

Byte-deterministic: the same samples in the same order give the same file bytes (no object
timestamps, fixed HDF5 format version, fixed creation and attribute order, and every
dataset's cached chunks flushed in a fixed order as they are written: left to the file's
close, HDF5 flushes its open datasets in an order that varies between processes, and the
chunks land at other offsets). Written under a temporary name in the target folder and
renamed when complete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from shards.codecs import DEFAULT_CODEC, codec_options
from shards.schema import (
    CAMERA_FIELDS,
    ID_BYTES,
    ID_FIELDS,
    MAP_FIELDS,
    NORMAL_SCALE,
    PARAM_FIELDS,
    SAMPLE_FIELDS,
    SCHEMA_VERSION,
    UV_SCALE,
    encode_id,
    encode_maps,
    sample_id,
)

LIBVER = ("v110", "v110")
"""HDF5 file format bounds: fixed so the bytes do not depend on the library's default."""

_MAP_DTYPES = {"rgb": np.uint8, "normal": np.int16, "uv": np.uint16, "mask": np.uint8,
               "depth": np.float16}


@dataclass(frozen=True)
class ShardInfo:
    """What produced a shard: the hash of the config that matters, and the map codec."""

    config_hash: str
    codec: str = DEFAULT_CODEC


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _map_shape(name: str, height: int, width: int) -> tuple[int, ...]:
    return {"rgb": (height, width, 3), "normal": (3, height, width), "uv": (2, height, width),
            "mask": (height, width), "depth": (height, width)}[name]


def write_shard(path: str | Path, samples: Iterable[dict], n_samples: int,
                info: ShardInfo) -> dict:
    """Write ``n_samples`` samples to the shard ``path`` and return its manifest record.

    Parameters
    ----------
    path : target file (``shard-00000.h5``); its folder must exist
    samples : dicts with the keys :data:`shards.schema.SAMPLE_FIELDS`: maps as rendered
        (``rgb`` (H, W, 3) uint8, ``normal`` (H, W, 3) float, ``uv`` (H, W, 2) float,
        ``mask`` (H, W) uint8, ``depth`` (H, W) float), ``K`` (3, 3), ``w2c`` (4, 4), model
        parameters ``shape`` (S,), ``expr`` (E,), ``pose`` (J*3,), ``transl`` (3,),
        ``scale`` (), ids ``dataset``, ``subject``, ``expression``, ``scan`` (str) and ``view``
        (int). All samples share H, W and the parameter lengths.
    n_samples : how many ``samples`` yields (checked)
    info : config hash and codec

    Returns
    -------
    record dict: ``name``, ``samples``, ``bytes``, ``sha256``, ``schema_version``,
    ``config_hash``, ``codec``, ``sample_ids``.
    """
    path = Path(path)
    if n_samples <= 0:
        raise ValueError(f"{path}: a shard needs at least one sample, got {n_samples}")
    compression = codec_options(info.codec)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        small = _write_maps(tmp, samples, n_samples, compression, info)
        with h5py.File(tmp, "a", libver=LIBVER) as f:
            for name, values in small.items():
                _create(f, name, np.stack(values), {})
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    ids = [sample_id(d.decode(), s.decode(), int(v))
           for d, s, v in zip(small["dataset"], small["scan"], small["view"], strict=True)]
    return {"name": path.name, "samples": n_samples, "bytes": path.stat().st_size,
            "sha256": file_sha256(path), "schema_version": SCHEMA_VERSION,
            "config_hash": info.config_hash, "codec": info.codec, "sample_ids": ids}


def _create(f: h5py.File, name: str, data: np.ndarray, compression: dict) -> None:
    chunks = data.shape if data.ndim else None
    f.create_dataset(name, data=data, chunks=chunks, fletcher32=data.ndim > 0,
                     track_times=False, **compression).flush()


def _write_maps(tmp: Path, samples: Iterable[dict], n_samples: int, compression: dict,
                info: ShardInfo) -> dict[str, list]:
    """Write the map datasets sample by sample; return the small per-sample fields."""
    small: dict[str, list] = {name: [] for name in (*CAMERA_FIELDS, *PARAM_FIELDS, *ID_FIELDS,
                                                     "view")}
    count = 0
    with h5py.File(tmp, "w", libver=LIBVER) as f:
        maps = {}
        for sample in samples:
            missing = [k for k in SAMPLE_FIELDS if k not in sample]
            if missing:
                raise ValueError(f"{tmp.name}: sample {count} lacks fields {missing}")
            if count >= n_samples:
                raise ValueError(f"{tmp.name}: more samples than n_samples={n_samples}")
            if count == 0:
                height, width = np.shape(sample["mask"])
                for key, value in (("schema_version", SCHEMA_VERSION),
                                   ("samples", n_samples), ("height", height),
                                   ("width", width), ("normal_scale", NORMAL_SCALE),
                                   ("uv_scale", UV_SCALE), ("codec", info.codec),
                                   ("config_hash", info.config_hash)):
                    f.attrs[key] = value
                for name in MAP_FIELDS:
                    shape = _map_shape(name, height, width)
                    maps[name] = f.create_dataset(
                        name, shape=(n_samples, *shape), dtype=_MAP_DTYPES[name],
                        chunks=(1, *shape), fletcher32=True, track_times=False, **compression)
            for name, stored in encode_maps(sample, height, width).items():
                maps[name][count] = stored
                maps[name].flush()
            _collect_small(small, sample, count, tmp)
            count += 1
    if count != n_samples:
        raise ValueError(f"{tmp.name}: got {count} samples, expected n_samples={n_samples}")
    return small


def _collect_small(small: dict[str, list], sample: dict, index: int, tmp: Path) -> None:
    for name, shape in (("K", (3, 3)), ("w2c", (4, 4))):
        value = np.asarray(sample[name], dtype=np.float32)
        if value.shape != shape:
            raise ValueError(f"{tmp.name}: sample {index} {name} has shape {value.shape}")
        small[name].append(value)
    for name in PARAM_FIELDS:
        value = np.asarray(sample[name], dtype=np.float32)
        if small[name] and value.shape != small[name][0].shape:
            raise ValueError(f"{tmp.name}: sample {index} {name} has shape {value.shape}, "
                             f"earlier samples {small[name][0].shape}")
        small[name].append(value)
    for name in ID_FIELDS:
        small[name].append(np.bytes_(encode_id(sample[name], name)).astype(f"S{ID_BYTES}"))
    small["view"].append(np.int32(sample["view"]))
