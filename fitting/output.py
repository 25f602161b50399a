"""Atomic writers of the fit's outputs: PLY mesh, parameters, PNG (JSON: atomicfile)."""

from __future__ import annotations

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
