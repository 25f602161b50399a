"""Exact triangle rasterisation in numpy: which pixel centres (OpenCV integer coordinates)
each triangle covers, with barycentric coordinates. Independent of the pipeline's OpenGL
renderer, so synthetic photos and true silhouettes do not share its mistakes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK = 2_000_000
"""Candidate pixels tested per batch (bounds memory)."""


def covered_pixels(tri_px: np.ndarray, width: int, height: int
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of ``(face (k,), pixel (k,) = row * width + col, bary (k, 3))`` for every
    pixel centre inside (or on the edge of) a triangle of ``tri_px`` (M, 3, 2) pixel
    coordinates. Degenerate triangles cover nothing."""
    ax, ay = tri_px[:, 0, 0], tri_px[:, 0, 1]
    bx, by = tri_px[:, 1, 0], tri_px[:, 1, 1]
    cx, cy = tri_px[:, 2, 0], tri_px[:, 2, 1]
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    lo = np.maximum(np.ceil(tri_px.min(axis=1)), 0).astype(np.int64)
    hi = np.minimum(np.floor(tri_px.max(axis=1)), [width - 1, height - 1]).astype(np.int64)
    span = hi - lo + 1
    faces = np.flatnonzero((span > 0).all(axis=1) & (np.abs(area) > 1e-12))
    counts = span[faces, 0] * span[faces, 1]
    ends = np.cumsum(counts)
    start = 0
    while start < len(faces):
        stop = max(int(np.searchsorted(ends, ends[start] - counts[start] + CHUNK, "right")),
                   start + 1)
        chunk, chunk_counts = faces[start:stop], counts[start:stop]
        face = np.repeat(chunk, chunk_counts)
        offset = np.arange(len(face)) - np.repeat(np.cumsum(chunk_counts) - chunk_counts,
                                                  chunk_counts)
        width_f = span[face, 0]
        x = lo[face, 0] + offset % width_f
        y = lo[face, 1] + offset // width_f
        sign = np.sign(area[face])
        w0 = ((cx[face] - bx[face]) * (y - by[face]) - (cy[face] - by[face]) * (x - bx[face]))
        w0 *= sign
        inside = w0 >= 0
        w1 = ((ax[face] - cx[face]) * (y - cy[face]) - (ay[face] - cy[face]) * (x - cx[face]))
        w1 *= sign
        inside &= w1 >= 0
        inside &= w0 + w1 <= np.abs(area[face])
        face, w0, w1 = face[inside], w0[inside], w1[inside]
        total = np.abs(area[face])
        bary = np.stack([w0 / total, w1 / total, 1.0 - (w0 + w1) / total], axis=1)
        yield face, (y * width + x)[inside], bary
        start = stop


def zbuffer(tri_px: np.ndarray, corner_depth: np.ndarray, width: int, height: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest triangle per pixel: ``face`` (H * W,) int64 (-1: none) and ``bary``
    (H * W, 3) at each pixel centre; corner_depth (M, 3), smaller is nearer (interpolated
    linearly in the image, as the splat renderer did)."""
    depth = np.full(height * width, np.inf)
    face_of = np.full(height * width, -1, np.int64)
    bary_of = np.zeros((height * width, 3))
    for face, pixel, bary in covered_pixels(tri_px, width, height):
        z = np.einsum("kc,kc->k", bary, corner_depth[face])
        order = np.lexsort((z, pixel))
        first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
        nearer = z[first] < depth[pixel[first]]
        won = first[nearer]
        depth[pixel[won]] = z[won]
        face_of[pixel[won]] = face[won]
        bary_of[pixel[won]] = bary[won]
    return face_of, bary_of
