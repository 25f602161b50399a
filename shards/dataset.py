"""A ``torch.utils.data.Dataset`` over one or many shards (DataLoader-worker safe)."""

from __future__ import annotations

import bisect
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from shards.allocator import retain_freed_memory
from shards.reader import ShardReader

_ITEM_MAPS = ("rgb", "normal", "uv", "mask")


class ShardDataset(torch.utils.data.Dataset):
    """Samples of several shards, in the order given.

    Files are opened lazily, per process: a DataLoader worker opens its own handles on first
    use, and a pickled dataset carries no handle. At most ``max_open`` shards stay open per
    process (least recently used closed first), so thousands of shards never exhaust file
    handles. In a DataLoader worker the first read also calls
    :func:`shards.allocator.retain_freed_memory` (three times faster reads).

    Item contract (the network stage relies on it):
    ``rgb`` float32 (3, H, W) in [0, 1]; ``normal`` float32 (3, H, W) unit vectors, model frame,
    0 where invalid; ``uv`` float32 (2, H, W) in [0, 1], 0 where invalid; ``mask`` uint8
    (H, W) bits (1 normal, 2 uv, 4 face); ``K`` float32 (3, 3); ``w2c`` float32 (4, 4);
    ``sample_id``, ``subject``, ``dataset`` str.
    """

    def __init__(self, paths: list[str | Path], max_open: int = 64) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("ShardDataset: no shard paths given")
        counts = []
        for path in self.paths:
            with ShardReader(path) as reader:
                counts.append(len(reader))
        self._starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
        self._readers: OrderedDict[int, ShardReader] = OrderedDict()
        self.max_open = max(1, int(max_open))
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self._starts[-1]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_readers"] = OrderedDict()
        return state

    def _reader(self, shard: int) -> ShardReader:
        if os.getpid() != self._pid:  # forked worker: never reuse the parent's handles
            self._readers, self._pid = OrderedDict(), os.getpid()
            if torch.utils.data.get_worker_info() is not None:
                retain_freed_memory()  # a loader worker only loads samples
        reader = self._readers.get(shard)
        if reader is None:
            while len(self._readers) >= self.max_open:
                self._readers.popitem(last=False)[1].close()
            reader = self._readers[shard] = ShardReader(self.paths[shard])
        self._readers.move_to_end(shard)
        return reader

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"ShardDataset: index {index} outside [0, {len(self)})")
        index %= len(self)
        shard = bisect.bisect_right(self._starts, index) - 1
        sample = self._reader(shard).read_sample(index - self._starts[shard], _ITEM_MAPS)
        rgb = sample["rgb"]
        rgb_chw = np.empty((3, *rgb.shape[:2]), dtype=np.float32)
        for c in range(3):
            np.multiply(rgb[..., c], np.float32(1 / 255), out=rgb_chw[c])
        return {"rgb": torch.from_numpy(rgb_chw), "normal": torch.from_numpy(sample["normal"]),
                "uv": torch.from_numpy(sample["uv"]), "mask": torch.from_numpy(sample["mask"]),
                "K": torch.from_numpy(sample["K"]), "w2c": torch.from_numpy(sample["w2c"]),
                "sample_id": sample["sample_id"], "subject": sample["subject"],
                "dataset": sample["dataset"]}
