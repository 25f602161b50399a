"""A contact sheet of one sample (rgb | normal | uv | mask) for people to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from atomicfile import write_atomic
from shards.reader import ShardReader

_MASK_COLOURS = {1: (90, 90, 90), 2: (60, 140, 220), 4: (240, 200, 60)}


def sample_panels(sample: dict) -> list[tuple[str, np.ndarray]]:
    """(label, (H, W, 3) uint8) panels of a decoded sample: normals as (n + 1) / 2, uv as
    (u, v, 0), mask bits coloured (grey normal only, blue uv, yellow face)."""
    valid_normal = np.any(sample["normal"] != 0, axis=0)
    normal = ((np.moveaxis(sample["normal"], 0, -1) + 1) * 127.5).astype(np.uint8)
    normal[~valid_normal] = 0
    uv = np.zeros((*sample["uv"].shape[1:], 3), dtype=np.uint8)
    uv[..., :2] = np.moveaxis(sample["uv"] * 255, 0, -1).astype(np.uint8)
    mask = np.zeros_like(uv)
    for bit, colour in _MASK_COLOURS.items():  # later bits paint over earlier ones
        mask[(sample["mask"] & bit) > 0] = colour
    return [("rgb", sample["rgb"]), ("normal (model)", normal), ("uv", uv), ("mask", mask)]


def write_contact_sheet(shard: str | Path, index: int, out_png: str | Path) -> Path:
    """Write the contact sheet of sample ``index`` of ``shard`` to ``out_png``."""
    with ShardReader(shard) as reader:
        sample = reader.read_sample(index)
    panels = sample_panels(sample)
    height, width = panels[0][1].shape[:2]
    sheet = Image.new("RGB", (width * len(panels), height + 18), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(panels):
        sheet.paste(Image.fromarray(image), (i * width, 18))
        draw.text((i * width + 4, 3), label, fill=(0, 0, 0))
    return write_atomic(out_png, lambda tmp: sheet.save(tmp, format="PNG"))
