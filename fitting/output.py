"""Atomic writers of the fit's outputs: PLY mesh, parameters, PNG (JSON: atomicfile)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from atomicfile import write_atomic


def write_ply(path: Path, verts_m: np.ndarray, faces: np.ndarray) -> Path:
    """Binary PLY of a mesh (V, 3) metres, faces (F, 3)."""
    mesh = trimesh.Trimesh(np.asarray(verts_m), np.asarray(faces), process=False)
    return write_atomic(path, lambda tmp: tmp.write_bytes(mesh.export(file_type="ply")))


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Uncompressed .npz of named arrays."""
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return write_atomic(path, save)


def write_png(path: Path, image: np.ndarray) -> Path:
    """PNG of an (H, W, 3) uint8 image."""
    return write_atomic(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def write_points(path: Path, points_px: np.ndarray) -> Path:
    """Text file of (N, 2) points, ``x y`` per line (pixels, 3 decimals)."""
    lines = "".join(f"{x:.3f} {y:.3f}\n" for x, y in np.asarray(points_px, np.float64))
    return write_atomic(path, lambda tmp: tmp.write_text(lines))


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """Yield a hidden folder beside ``out_dir`` to write into; when the block succeeds its
    contents are moved into ``out_dir`` (created; files already there with other names are
    kept), otherwise it is removed: a failure leaves nothing partial in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield staging
        out_dir.mkdir(exist_ok=True)
        for entry in sorted(staging.rglob("*")):
            if entry.is_file():
                target = out_dir / entry.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
