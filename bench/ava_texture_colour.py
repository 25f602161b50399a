"""Colour of Ava256 sampled views against the true texture: the texture sampled per pixel
(what the renderer does for a textured scan) against per-vertex colour (the texture sampled
once per vertex of the 7,306-vertex tracked mesh).

    python bench/ava_texture_colour.py [--texture 1024] [--views 8] [--size 512]
                                       [--vertices 7306]

Writes one synthetic Ava256 capture (``synthetic.write_synthetic``, textures ``--texture``
texels square as released), loads its first frame through the reader, and renders
``--views`` sampled views (``rendering.camera.ViewSampling`` defaults) with ambient light only
(rgb = albedo). The true colour of a pixel is what a camera sees: the frame's true uv
texture (``truth.npz`` ``uv_texture``, before AVIF coding) sampled bilinearly at the uv of the
surface point each of ``--supersample`` x ``--supersample`` samples in the pixel sees
(rasteriser face id and barycentrics, texel centres at (i + 0.5) / size as ava-256 lays them
out), averaged. Prints mean absolute error (8-bit levels, over the three channels) on the
pixels inside the tracked mesh (silhouette eroded by 2 px), and the milliseconds of the upload
(once per scan in the render worker) and of a draw (once per view).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from rendering.camera import Camera, ViewSampling, sample_view_camera
from rendering.geometry import Light, Surface
from rendering.renderer import Renderer
from scans import list_scans, load_scan
from synthetic import write_synthetic


def true_colour(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup (n, 3) float of texture (H, W, 3) at uv (n, 2), v up, texel centres at
    ``(i + 0.5) / size``."""
    h, w = texture.shape[:2]
    rows, cols = (1 - uv[:, 1]) * h - 0.5, uv[:, 0] * w - 0.5
    return np.stack([ndimage.map_coordinates(texture[..., c].astype(np.float64), [rows, cols],
                                             order=1, mode="nearest") for c in range(3)], 1)


def reference(fine: Renderer, scan, texture_true: np.ndarray, camera: Camera, factor: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """What a camera sees: the true colour averaged over each pixel (``factor`` x ``factor``
    samples), and the pixels (H, W) bool whose samples all see the mesh."""
    K = camera.K.copy()
    K[:2] *= factor
    K[:2, 2] += (factor - 1) / 2  # pixel centres at integers, at both resolutions
    face_id, bary, _ = fine.rasterize(scan.verts_m, scan.faces,
                                      Camera(K=K, w2c=camera.w2c, width=fine.width,
                                             height=fine.height))
    hit = face_id >= 0
    uv = np.einsum("nc,ncd->nd", bary[hit], scan.uv_corners[face_id[hit]])
    colour = np.zeros((*face_id.shape, 3))
    colour[hit] = true_colour(texture_true, uv)
    h, w = camera.height, camera.width
    blocks = colour.reshape(h, factor, w, factor, 3).mean(axis=(1, 3))
    inside = hit.reshape(h, factor, w, factor).all(axis=(1, 3))
    return blocks, ndimage.binary_erosion(inside, iterations=2)


def view_errors(renderer: Renderer, fine: Renderer, scan, texture_true: np.ndarray,
                camera: Camera, factor: int) -> dict:
    """Mean absolute colour error of the textured and the per-vertex-coloured rendering."""
    light = Light(direction_model=np.array([0.0, 0.0, 1.0]), ambient=1.0, diffuse=0.0)
    expected, inside = reference(fine, scan, texture_true, camera, factor)
    truth = expected[inside]
    out = {}
    for name, surface in (
            ("texture sampled", Surface(scan.verts_m, scan.faces, scan.vertex_colors,
                                        scan.texture, scan.uv_corners)),
            ("per-vertex colour", Surface(scan.verts_m, scan.faces, scan.vertex_colors))):
        start = time.perf_counter()
        gpu = renderer.upload_surface(surface)
        uploaded = time.perf_counter()
        rgb = renderer.draw_surface(gpu, camera, light)["rgb"]
        drawn = time.perf_counter()
        gpu.release()
        out[name] = (float(np.abs(rgb[inside].astype(np.float64) - truth).mean()),
                     1e3 * (uploaded - start), 1e3 * (drawn - uploaded))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texture", type=int, default=1024)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--vertices", type=int, default=7306)
    parser.add_argument("--supersample", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw, truth = Path(tmp) / "raw", Path(tmp) / "truth"
        options = write_synthetic("ava256", raw, truth, subjects=1, expressions=1, seed=0,
                                  scan_vertices=20_000, ava256_texture_size=args.texture, views=1,
                                  tracked_vertices=args.vertices, ava256_downscale=16)
        record = list_scans("ava256", raw, **options)[0]
        scan = load_scan(record)
        with np.load(truth / record.scan_id / "truth.npz") as stored:
            texture_true = stored["uv_texture"]
    print(f"scan {record.scan_id}: {len(scan.verts_m)} vertices, texture "
          f"{scan.texture.shape[1]}x{scan.texture.shape[0]} from {Path(scan.texture_source).name}"
          f"; AVIF coding error {np.abs(scan.texture.astype(int) - texture_true).mean():.2f}")
    renderer = Renderer(args.size, args.size)
    fine = Renderer(args.size * args.supersample, args.size * args.supersample)
    rng = np.random.default_rng(0)
    views = ViewSampling(width=args.size, height=args.size)
    target = scan.verts_m.mean(axis=0)
    rows: dict[str, list] = {}
    for _ in range(args.views):
        for name, value in view_errors(renderer, fine, scan, texture_true,
                                       sample_view_camera(rng, views, target),
                                       args.supersample).items():
            rows.setdefault(name, []).append(value)
    print(f"{'colour':20s} {'mean abs error (levels)':>24s} {'upload ms':>10s} {'draw ms':>8s}")
    for name, values in rows.items():
        errors, upload_ms, draw_ms = np.array(values).T
        print(f"{name:20s} {errors.mean():24.2f} {upload_ms.mean():10.1f} "
              f"{draw_ms.mean():8.1f}")


if __name__ == "__main__":
    main()
