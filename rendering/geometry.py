"""Plain-array inputs of the renderer: a scan surface, a uv mesh, a light; vertex normals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def check_mesh(verts: np.ndarray, faces: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    verts = np.asarray(verts)
    faces = np.asarray(faces)
    if verts.ndim != 2 or verts.shape[1] != 3 or len(verts) == 0:
        raise ValueError(f"{what}: vertices must be (N, 3) with N > 0, got {verts.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"{what}: faces must be (M, 3) with M > 0, got {faces.shape}")
    if faces.min() < 0 or faces.max() >= len(verts):
        raise ValueError(f"{what}: face indices outside [0, {len(verts)})")
    if not np.all(np.isfinite(verts)):
        raise ValueError(f"{what}: vertices contain NaN or inf")
    return verts, faces


@dataclass(frozen=True)
class Surface:
    """A scan surface (any topology; may be open).

    Attributes
    ----------
    verts_m : (N, 3) float, metres, model frame
    faces : (M, 3) int, vertex indices
    vertex_colors : (N, 3) uint8 or None
    texture : (H, W, 3) uint8 or None; with ``uv_corners``, the renderer samples it per pixel
        (see :meth:`rendering.renderer.Renderer.upload_surface`)
    uv_corners : (M, 3, 2) float per-corner texture coordinates (v up, OBJ style) or None
        (unused without a texture)
    """

    verts_m: np.ndarray
    faces: np.ndarray
    vertex_colors: np.ndarray | None = None
    texture: np.ndarray | None = None
    uv_corners: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_mesh(self.verts_m, self.faces, "Surface")
        if self.vertex_colors is not None:
            colors = np.asarray(self.vertex_colors)
            if colors.shape != (len(self.verts_m), 3) or colors.dtype != np.uint8:
                raise ValueError(f"Surface: vertex_colors must be (N, 3) uint8 with "
                                 f"N={len(self.verts_m)}, got {colors.shape} {colors.dtype}")
        if self.texture is not None:
            if self.uv_corners is None:
                raise ValueError("Surface: a texture needs uv_corners")
            texture, uv = np.asarray(self.texture), np.asarray(self.uv_corners)
            if texture.ndim != 3 or texture.shape[2] != 3 or texture.dtype != np.uint8:
                raise ValueError(f"Surface: texture must be (H, W, 3) uint8, got "
                                 f"{texture.shape} {texture.dtype}")
            if uv.shape != (len(self.faces), 3, 2):
                raise ValueError(f"Surface: uv_corners must be ({len(self.faces)}, 3, 2), got "
                                 f"{uv.shape}")


@dataclass(frozen=True)
class UVMesh:
    """A mesh with texture coordinates (e.g. a registered FLAME-topology mesh).

    Attributes
    ----------
    verts_m : (V, 3) float, metres, model frame
    faces : (F, 3) int, vertex indices
    vt : (T, 2) float, uv in [0, 1]
    ft : (F, 3) int, uv index of each face corner
    """

    verts_m: np.ndarray
    faces: np.ndarray
    vt: np.ndarray
    ft: np.ndarray

    def __post_init__(self) -> None:
        check_mesh(self.verts_m, self.faces, "UVMesh")
        vt, ft = np.asarray(self.vt), np.asarray(self.ft)
        if vt.ndim != 2 or vt.shape[1] != 2:
            raise ValueError(f"UVMesh: vt must be (T, 2), got {vt.shape}")
        if ft.shape != np.shape(self.faces):
            raise ValueError(f"UVMesh: ft {ft.shape} must match faces {np.shape(self.faces)}")
        if ft.min() < 0 or ft.max() >= len(vt):
            raise ValueError(f"UVMesh: ft indices outside [0, {len(vt)})")


@dataclass(frozen=True)
class Light:
    """Lambertian plus ambient light: ``rgb = albedo * color * (ambient + diffuse * max(n.l, 0))``.

    Attributes
    ----------
    direction_model : (3,) unit vector from the surface towards the light, model frame
    ambient, diffuse : intensities
    color : (3,) per-channel scale
    """

    direction_model: np.ndarray
    ambient: float = 0.35
    diffuse: float = 0.65
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
