"""A picture of a photo view's alignment: the scan's normal map and the registered mesh's uv
map blended over the photo, with both kinds of landmarks drawn."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from rendering.camera import Camera, project
from rendering.renderer import Renderer

SCAN_LANDMARK_RGB = (40, 255, 40)
REGISTERED_LANDMARK_RGB = (255, 40, 200)


def _blend(photo: np.ndarray, colours: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = photo.astype(np.float32)
    out[mask] = 0.45 * out[mask] + 0.55 * colours[mask]
    return np.clip(out, 0, 255).astype(np.uint8)


def _draw_landmarks(image: Image.Image, points_px: np.ndarray | None, scale: float,
                    colour: tuple[int, int, int], cross: bool) -> None:
    if points_px is None:
        return
    draw = ImageDraw.Draw(image)
    for x, y in (points_px[np.isfinite(points_px).all(axis=1)] + 0.5) * scale - 0.5:
        if cross:
            draw.line([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
            draw.line([(x - 3, y + 3), (x + 3, y - 3)], fill=colour)
        else:
            draw.ellipse([(x - 2, y - 2), (x + 2, y + 2)], outline=colour)


def alignment_overlay(renderer: Renderer, photo_rgb: np.ndarray, camera: Camera,
                      scan_verts_m: np.ndarray, scan_faces: np.ndarray,
                      registered_verts_m: np.ndarray, faces: np.ndarray, vt: np.ndarray,
                      ft: np.ndarray, scan_landmarks_m: np.ndarray | None,
                      registered_landmarks_m: np.ndarray | None, height: int = 256
                      ) -> np.ndarray:
    """(height, ~2 * width * height / H, 3) uint8: [photo + scan normals | photo + uv].

    photo_rgb (H, W, 3) uint8 undistorted; the camera's size matches it and the renderer's;
    scan landmarks are drawn as green circles, the registered mesh's as magenta crosses.
    """
    surface = renderer.render_surface(scan_verts_m, scan_faces, camera)
    normal_rgb = (surface["normal"] + 1.0) * 127.5
    uv, valid, _ = renderer.render_uv(registered_verts_m, faces, vt, ft, camera)
    uv_rgb = np.concatenate([uv * 255.0, np.full((*uv.shape[:2], 1), 64.0)], axis=2)
    scale = height / photo_rgb.shape[0]
    size = (max(1, round(photo_rgb.shape[1] * scale)), height)
    # blended at the picture's size, not the photo's (a 12 MP photo: 2 s a view)
    small = np.asarray(Image.fromarray(photo_rgb).resize(size, Image.Resampling.BILINEAR))
    rows = np.minimum(((np.arange(size[1]) + 0.5) / scale).astype(int), photo_rgb.shape[0] - 1)
    cols = np.minimum(((np.arange(size[0]) + 0.5) / scale).astype(int), photo_rgb.shape[1] - 1)
    panels = []
    for colours, mask in ((normal_rgb, surface["mask"]), (uv_rgb, valid)):
        panel = Image.fromarray(_blend(small, colours[rows][:, cols],
                                       mask[rows][:, cols]))
        for points, colour, cross in ((scan_landmarks_m, SCAN_LANDMARK_RGB, False),
                                      (registered_landmarks_m, REGISTERED_LANDMARK_RGB, True)):
            px = None if points is None else project(points, camera)
            _draw_landmarks(panel, px, scale, colour, cross)
        panels.append(np.asarray(panel))
    return np.concatenate(panels, axis=1)
