"""The overlay picture of one fit: input | normal map | 2D vertices from uv | fitted mesh."""

from __future__ import annotations

import numpy as np

from fitting.fit import FitResult
from rendering import Camera, Renderer

MESH_OPACITY = 0.6


def normal_panel(normal_map: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 picture of unit normals as (n + 1) / 2, black where not valid."""
    picture = np.clip((np.asarray(normal_map) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    picture[~valid] = 0
    return picture


def vertex_panel(rgb: np.ndarray, pixels_xy: np.ndarray, vertex_uv: np.ndarray) -> np.ndarray:
    """The image darkened, with each located vertex (k, 2) px drawn in its uv colour (k, 2)."""
    picture = (np.asarray(rgb, dtype=np.float32) * 0.35).astype(np.uint8)
    height, width = picture.shape[:2]
    cols = np.rint(pixels_xy[:, 0]).astype(int)
    rows = np.rint(pixels_xy[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    colours = np.zeros((len(pixels_xy), 3), dtype=np.uint8)
    colours[:, :2] = np.clip(vertex_uv * 255.0, 0, 255).astype(np.uint8)
    colours[:, 2] = 160
    picture[rows[inside], cols[inside]] = colours[inside]
    return picture


def mesh_panel(rgb: np.ndarray, result: FitResult, faces: np.ndarray, K: np.ndarray,
               renderer: Renderer) -> np.ndarray:
    """The image with the fitted mesh drawn over it (grey shading from the camera)."""
    height, width = rgb.shape[:2]
    camera = Camera(K=K, w2c=np.eye(4), width=width, height=height)
    surface = renderer.render_surface(result.verts_camera, faces, camera)
    shade = np.clip(-surface["normal"][..., 2], 0.0, 1.0)  # camera frame: view axis is +z
    grey = (60.0 + 195.0 * shade)[..., None]
    picture = np.asarray(rgb, dtype=np.float32)
    mask = surface["mask"][..., None]
    blended = np.where(mask, (1 - MESH_OPACITY) * picture + MESH_OPACITY * grey, picture)
    return blended.clip(0, 255).astype(np.uint8)


def overlay_picture(rgb: np.ndarray, normal_map: np.ndarray | None, normal_valid: np.ndarray,
                    result: FitResult, vertex_uv: np.ndarray, faces: np.ndarray, K: np.ndarray,
                    renderer: Renderer) -> np.ndarray:
    """(H, 4 W, 3) uint8: input | normal map | vertices located by uv | fitted mesh overlay.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 input image
    normal_map : (H, W, 3) predicted unit normals (None: a black panel); normal_valid (H, W)
    result : the fit (its uv matches give the third panel)
    vertex_uv : (V, 2) one uv per vertex, colours the located vertices
    faces : (F, 3) model faces; K : (3, 3) intrinsics; renderer : sized like the image
    """
    rgb = np.asarray(rgb, dtype=np.uint8)
    normals = (np.zeros_like(rgb) if normal_map is None
               else normal_panel(normal_map, np.asarray(normal_valid, dtype=bool)))
    if result.matches is not None and len(result.matches):
        ids = result.matches.vertex_ids
        located = vertex_panel(rgb, result.matches.pixels_xy, vertex_uv[ids])
    else:
        located = vertex_panel(rgb, np.zeros((0, 2)), np.zeros((0, 2)))
    return np.concatenate([rgb, normals, located, mesh_panel(rgb, result, faces, K, renderer)],
                          axis=1)
