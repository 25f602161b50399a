"""A textured scan mesh read, checked and brought to metres (shared by NPHM and FaceScape)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scans.errors import ScanError
from scans.geometry import check_size_m, transform_points
from scans.images import read_image, vertex_colors_from_texture
from scans.meshio import RawMesh, check_mesh


@dataclass(frozen=True)
class TexturedMesh:
    """mesh : the file's contents; verts_m (N, 3) metres; texture (H, W, 3) uint8 or None;
    colors (N, 3) uint8 or None (the texture sampled at each vertex, else the file's)."""

    mesh: RawMesh
    verts_m: np.ndarray
    texture: np.ndarray | None
    colors: np.ndarray | None


def read_textured_mesh(path: Path, reader: Callable[[Path], RawMesh],
                       to_metres: np.ndarray, appearance: bool = True) -> TexturedMesh:
    """Read ``path`` with ``reader`` (read_ply / read_obj), map it to metres with the (4, 4)
    similarity ``to_metres``, check its size, and load the texture its file names
    (``appearance`` False: geometry only, no texture read nor sampled; the file's own vertex
    colours are kept)."""
    mesh = check_mesh(reader(path), path)
    verts_m = transform_points(to_metres, mesh.verts)
    check_size_m(verts_m, path)
    texture, colors = None, mesh.vertex_colors
    if mesh.texture_name and appearance:
        texture = read_image(path.parent / mesh.texture_name)
        if mesh.uv_corners is None:
            raise ScanError(path, "the file names a texture but its faces have no uv")
        colors = vertex_colors_from_texture(texture, mesh.faces, mesh.uv_corners, len(verts_m))
    return TexturedMesh(mesh, verts_m, texture, colors)
