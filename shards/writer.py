"""Write one shard: a fixed number of samples, one compressed HDF5 chunk per sample and map.

Byte-deterministic: the same samples in the same order give the same file bytes (no object
timestamps, fixed HDF5 format version, fixed creation and attribute order, and every chunk
written to the file in sample order as soon as it is made, so chunk offsets do not depend on
the process). Written under a temporary name in the target folder and renamed when complete.

Encoding, compression and writing run in one background thread while the caller's iterator
renders the next sample (the samples are consumed as they come; at most
:data:`SAMPLES_IN_FLIGHT` wait). For ``zstd`` and ``none`` the thread makes the stored chunks
itself (:mod:`shards.chunks`) and hands them to HDF5 with a direct chunk write; other codecs
go through HDF5's filters in that thread. Small per-sample fields go into arrays allocated for
the whole shard, so no per-sample Python object outlives its sample.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from atomicfile import atomic_path
from shards.chunks import DIRECT_CODECS, ChunkMaker
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

SAMPLES_IN_FLIGHT = 2
"""Samples handed to the writing thread and not yet written (bounds the memory they hold)."""

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
                info: ShardInfo, background: bool = True) -> dict:
    """Write ``n_samples`` samples to the shard ``path`` and return its manifest record.

    Parameters
    ----------
    path : target file (``shard-00000.h5``); its folder must exist
    samples : dicts with the keys :data:`shards.schema.SAMPLE_FIELDS`: maps as rendered
        (``rgb`` (H, W, 3) uint8, ``normal`` (H, W, 3) float, ``uv`` (H, W, 2) float,
        ``mask`` (H, W) uint8, ``depth`` (H, W) float), ``K`` (3, 3), ``w2c`` (4, 4), model
        parameters ``shape`` (S,), ``expr`` (E,), ``pose`` (J*3,), ``transl`` (3,),
        ``scale`` (), ids ``dataset``, ``subject``, ``expression``, ``scan`` (str) and ``view``
        (int). All samples share H, W and the parameter lengths. A sample's maps must not be
        changed by the iterator after it is yielded (they are encoded while it makes the next).
    n_samples : how many ``samples`` yields (checked)
    info : config hash and codec
    background : encode, compress and write in a background thread (False: in the caller's
        thread, between samples; same bytes)

    Returns
    -------
    record dict: ``name``, ``samples``, ``bytes``, ``sha256``, ``schema_version``,
    ``config_hash``, ``codec``, ``sample_ids``.
    """
    path = Path(path)
    if n_samples <= 0:
        raise ValueError(f"{path}: a shard needs at least one sample, got {n_samples}")
    codec_options(info.codec)  # an unknown codec fails before anything is written
    with atomic_path(path) as tmp, h5py.File(tmp, "w", libver=LIBVER) as f:
        small = _write_samples(f, tmp.name, samples, n_samples, info, background)
        for name, values in small.items():
            _create(f, name, values, {})
    ids = [sample_id(d.decode(), s.decode(), int(v))
           for d, s, v in zip(small["dataset"], small["scan"], small["view"], strict=True)]
    return {"name": path.name, "samples": n_samples, "bytes": path.stat().st_size,
            "sha256": file_sha256(path), "schema_version": SCHEMA_VERSION,
            "config_hash": info.config_hash, "codec": info.codec, "sample_ids": ids}


def _create(f: h5py.File, name: str, data: np.ndarray, compression: dict) -> None:
    chunks = data.shape if data.ndim else None
    f.create_dataset(name, data=data, chunks=chunks, fletcher32=data.ndim > 0,
                     track_times=False, **compression).flush()


class _MapWriter:
    """The map datasets of an open shard; :meth:`write` encodes and stores one sample's maps
    (called from the one writing thread, in sample order)."""

    def __init__(self, f: h5py.File, n_samples: int, height: int, width: int,
                 info: ShardInfo) -> None:
        for key, value in (("schema_version", SCHEMA_VERSION), ("samples", n_samples),
                           ("height", height), ("width", width),
                           ("normal_scale", NORMAL_SCALE), ("uv_scale", UV_SCALE),
                           ("codec", info.codec), ("config_hash", info.config_hash)):
            f.attrs[key] = value
        self.height, self.width = height, width
        self.maker = ChunkMaker(info.codec) if info.codec in DIRECT_CODECS else None
        compression = codec_options(info.codec)
        self.maps = {}
        for name in MAP_FIELDS:
            shape = _map_shape(name, height, width)
            self.maps[name] = f.create_dataset(
                name, shape=(n_samples, *shape), dtype=_MAP_DTYPES[name], chunks=(1, *shape),
                fletcher32=True, track_times=False, **compression)

    def write(self, index: int, sample: dict) -> None:
        for name, stored in encode_maps(sample, self.height, self.width).items():
            dataset = self.maps[name]
            if self.maker is not None:
                dataset.id.write_direct_chunk((index,) + (0,) * stored.ndim,
                                              self.maker.chunk(stored))
            else:
                dataset[index] = stored
                dataset.flush()


class _SmallFields:
    """Camera, parameter and id fields of a shard, in arrays allocated at the first sample."""

    def __init__(self, first: dict, n_samples: int) -> None:
        self.arrays: dict[str, np.ndarray] = {
            "K": np.empty((n_samples, 3, 3), np.float32),
            "w2c": np.empty((n_samples, 4, 4), np.float32),
            "view": np.empty(n_samples, np.int32)}
        for name in PARAM_FIELDS:
            shape = np.shape(first[name])
            self.arrays[name] = np.empty((n_samples, *shape), np.float32)
        for name in ID_FIELDS:
            self.arrays[name] = np.empty(n_samples, f"S{ID_BYTES}")

    def put(self, index: int, sample: dict, file_name: str) -> None:
        """Store sample ``index``'s small fields; ValueError naming the field on a bad shape."""
        for name in (*CAMERA_FIELDS, *PARAM_FIELDS):
            value = np.asarray(sample[name], dtype=np.float32)
            expected = self.arrays[name].shape[1:]
            if value.shape != expected:
                raise ValueError(f"{file_name}: sample {index} {name} has shape {value.shape}, "
                                 f"expected {expected}")
            self.arrays[name][index] = value
        for name in ID_FIELDS:
            self.arrays[name][index] = encode_id(sample[name], name)
        self.arrays["view"][index] = int(sample["view"])


def _write_samples(f: h5py.File, file_name: str, samples: Iterable[dict], n_samples: int,
                   info: ShardInfo, background: bool) -> dict[str, np.ndarray]:
    """Write the maps of every sample in order (in a background thread, or inline); return the
    small per-sample fields as arrays."""
    count = 0
    small: _SmallFields | None = None
    maps: _MapWriter | None = None
    in_flight: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer") as pool:
        try:
            for sample in samples:
                missing = [k for k in SAMPLE_FIELDS if k not in sample]
                if missing:
                    raise ValueError(f"{file_name}: sample {count} lacks fields {missing}")
                if count >= n_samples:
                    raise ValueError(f"{file_name}: more samples than n_samples={n_samples}")
                if maps is None:
                    height, width = np.shape(sample["mask"])
                    maps = _MapWriter(f, n_samples, height, width, info)
                    small = _SmallFields(sample, n_samples)
                small.put(count, sample, file_name)
                if not background:
                    maps.write(count, sample)
                    count += 1
                    continue
                in_flight.append(pool.submit(maps.write, count, sample))
                count += 1
                while len(in_flight) > SAMPLES_IN_FLIGHT or (in_flight and in_flight[0].done()):
                    in_flight.popleft().result()
            while in_flight:
                in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()
    if count != n_samples:
        raise ValueError(f"{file_name}: got {count} samples, expected n_samples={n_samples}")
    return small.arrays
