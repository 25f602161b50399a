"""Random access to the samples of one shard."""

from __future__ import annotations

from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers the compression filters with HDF5)
import numpy as np

from shards.schema import (
    CAMERA_FIELDS,
    ID_FIELDS,
    MAP_FIELDS,
    NORMAL_SCALE,
    PARAM_FIELDS,
    SCHEMA_VERSION,
    UV_SCALE,
    ShardError,
    decode_normal,
    decode_uv,
    sample_id,
)

_SMALL_FIELDS = (*CAMERA_FIELDS, *PARAM_FIELDS, *ID_FIELDS, "view")


class ShardReader:
    """An open shard. Small per-sample fields are read once; maps are read per sample.

    Every chunk carries a Fletcher-32 checksum, so a corrupted chunk raises
    :class:`ShardError` instead of returning garbage.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            # No chunk cache: random reads touch each chunk once; the cache only adds a copy.
            self._file = h5py.File(self.path, "r", rdcc_nbytes=0)
        except (OSError, ValueError) as err:
            raise ShardError(f"{self.path}: cannot open as HDF5 (missing, truncated or not a "
                             f"shard): {err}") from err
        try:
            self._check_layout()
            self._small = {name: self._file[name][()] for name in _SMALL_FIELDS}
        except (OSError, KeyError) as err:
            self._file.close()
            raise ShardError(f"{self.path}: unreadable shard: {err}") from err
        except ShardError:
            self._file.close()
            raise
        self._maps = {name: self._file[name] for name in MAP_FIELDS}

    def _check_layout(self) -> None:
        attrs = self._file.attrs
        version = attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ShardError(f"{self.path}: schema version {version}, this reader reads "
                             f"{SCHEMA_VERSION}")
        if (attrs.get("normal_scale"), attrs.get("uv_scale")) != (NORMAL_SCALE, UV_SCALE):
            raise ShardError(f"{self.path}: map scales differ from schema {SCHEMA_VERSION}")
        self.n_samples = int(attrs["samples"])
        self.height, self.width = int(attrs["height"]), int(attrs["width"])
        self.config_hash = str(attrs["config_hash"])
        for name in (*MAP_FIELDS, *_SMALL_FIELDS):
            if name not in self._file:
                raise ShardError(f"{self.path}: dataset {name!r} missing")
            if self._file[name].shape[0] != self.n_samples:
                raise ShardError(f"{self.path}: dataset {name!r} has "
                                 f"{self._file[name].shape[0]} rows, expected {self.n_samples}")

    def __len__(self) -> int:
        return self.n_samples

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sample_id(self, index: int) -> str:
        """The id string of sample ``index`` (``dataset/scan/view``)."""
        s = self._small
        return sample_id(s["dataset"][index].decode(), s["scan"][index].decode(),
                         int(s["view"][index]))

    def read_stored(self, index: int, maps: tuple[str, ...] = MAP_FIELDS) -> dict[str, np.ndarray]:
        """The maps named in ``maps`` of one sample, as stored (see :mod:`shards.schema`)."""
        if not 0 <= index < self.n_samples:
            raise IndexError(f"{self.path}: sample {index} outside [0, {self.n_samples})")
        out = {}
        for name in maps:
            try:
                out[name] = self._maps[name][index]
            except OSError as err:
                raise ShardError(f"{self.path}: sample {index} field {name!r} is corrupt "
                                 f"(checksum or decompression failed): {err}") from err
        return out

    def read_sample(self, index: int, maps: tuple[str, ...] = MAP_FIELDS) -> dict:
        """One sample, decoded (only the maps named in ``maps``; all small fields).

        Returns
        -------
        dict: ``rgb`` (H, W, 3) uint8; ``normal`` (3, H, W) float32 unit, model frame, 0 where
        invalid; ``uv`` (2, H, W) float32 in [0, 1], 0 where invalid; ``mask`` (H, W) uint8;
        ``depth`` (H, W) float32 metres; ``K`` (3, 3), ``w2c`` (4, 4) float32; ``shape``,
        ``expr``, ``pose``, ``transl`` float32 vectors, ``scale`` float32; ``dataset``,
        ``subject``, ``expression``, ``scan`` str; ``view`` int; ``sample_id`` str.
        """
        out = self.read_stored(index, maps)
        decoders = {"normal": decode_normal, "uv": decode_uv,
                    "depth": lambda depth: depth.astype(np.float32)}
        for name, decode in decoders.items():
            if name in out:
                out[name] = decode(out[name])
        for name in (*CAMERA_FIELDS, *PARAM_FIELDS):
            out[name] = self._small[name][index]
        for name in ID_FIELDS:
            out[name] = self._small[name][index].decode()
        out["view"] = int(self._small["view"][index])
        out["sample_id"] = self.sample_id(index)
        return out
