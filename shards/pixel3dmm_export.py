"""Export shard samples as Pixel3DMM tracker frames (``python -m shards export``).

Each sample becomes frame ``i`` of the output folder in Pixel3DMM's layout
(:mod:`faces.pixel3dmm`): ``cropped/`` the rendered rgb, ``seg_og/`` classes from the mask
bits (face region -> face, other uv pixels -> neck, scan surface without uv -> hair),
``p3dmm/normals/`` ``(n + 1) / 2`` of the sample's model-frame normals, ``p3dmm/uv_map/``
``(u, 1 - v, 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faces.pixel3dmm import labels_from_shard_mask, write_frame
from shards.reader import ShardReader


def export_pixel3dmm(shard: Path, out_dir: Path, indices: Sequence[int] | None = None
                     ) -> list[str]:
    """Write samples ``indices`` (None: all) of ``shard`` as frames 0, 1, ... of
    ``out_dir``; return their sample ids in frame order. Raises ShardError or IndexError
    naming the shard."""
    with ShardReader(shard) as reader:
        chosen = list(range(len(reader))) if indices is None else list(indices)
        written = []
        for frame, index in enumerate(chosen):
            sample = reader.read_sample(index, maps=("rgb", "normal", "uv", "mask"))
            write_frame(out_dir, frame, np.moveaxis(sample["normal"], 0, -1),
                        np.moveaxis(sample["uv"], 0, -1), labels_from_shard_mask(sample["mask"]),
                        sample["rgb"])
            written.append(sample["sample_id"])
    return written
