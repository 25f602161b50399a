"""Level of detail of the scan pass: a release-density scan decimated to what a view can show.

NPHM's scans have ~3.5M faces (NPHM paper); at 512 px a pixel covers ~0.7 mm of skin in the
closest views, so most of those triangles fall several to a pixel and only cost rasterisation
time (on a CPU rasteriser the draw time grows with the face count: 0.6 CPU-s for 4.7M faces
against 0.07 for 200k). The scan drawn for the normal, depth and rgb maps is therefore
decimated once per scan (quadric edge collapse, ``fast_simplification``: see docs/rendering.md
for the candidates measured) to about one triangle edge per ``pixels_per_edge`` pixels at the
largest footprint the sampled views can give the head (``head_fill`` max of ``head_extent_m``
over the image height). Open borders (holes, the neck) are kept so silhouettes do not move.
The registered (uv) mesh is never decimated.

The level is written per scan (:func:`write_level`) under a stamp of the scan's registration
key, the settings, the footprint and the decimator (:func:`level_stamp`), so the render stage
reads a ~5 MB level instead of the scan (207 MB at release density) and re-renders reuse it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import fast_simplification
import numpy as np
from scipy.spatial import cKDTree

from rendering.geometry import Surface

DECIMATOR = f"fast_simplification {fast_simplification.__version__}"


@dataclass(frozen=True)
class DetailSettings:
    """How fine the scan pass draws a scan.

    Attributes
    ----------
    pixels_per_edge : target triangle edge in pixels at the largest head footprint (0: off,
        always the full scan); 3 keeps the draw of a release-density NPHM scan at 512 px to
        ~210k faces, the cost of a rehearsal-density scan (docs/measurements.md)
    min_faces : never decimate below this many faces (a scan at rehearsal density, <= 200k
        faces, is drawn as it is)
    min_reduction : decimate only when the target is at most this fraction of the scan's faces
    """

    pixels_per_edge: float = 3.0
    min_faces: int = 200_000
    min_reduction: float = 0.5

    def may_decimate(self, n_faces: int) -> bool:
        """Whether a scan of ``n_faces`` can need decimating at any footprint (its faces
        over ``min_faces / min_reduction``): the others are drawn as they are, unread here."""
        return self.pixels_per_edge > 0 and self.min_faces < self.min_reduction * n_faces


def surface_area_m2(verts_m: np.ndarray, faces: np.ndarray) -> float:
    """Total triangle area (square metres) of a mesh, verts (V, 3) metres, faces (F, 3)."""
    total = 0.0
    for start in range(0, len(faces), 1_000_000):  # bounded temporaries on dense scans
        tri = np.asarray(verts_m, dtype=np.float64)[faces[start:start + 1_000_000]]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        total += 0.5 * float(np.linalg.norm(cross, axis=1).sum())
    return total


def pixel_footprint_m(resolution: int, head_fill_max: float, head_extent_m: float) -> float:
    """The smallest distance (metres) one pixel covers on the head: the head's extent
    spans ``head_fill_max`` of ``resolution`` pixels in the closest views."""
    return head_extent_m / (head_fill_max * resolution)


def target_faces(area_m2: float, pixel_m: float, settings: DetailSettings) -> int:
    """Faces of equilateral triangles with edges ``pixels_per_edge * pixel_m`` tiling
    ``area_m2`` (at least ``min_faces``)."""
    edge_m = settings.pixels_per_edge * pixel_m
    return max(settings.min_faces, int(math.ceil(area_m2 / (math.sqrt(3) / 4 * edge_m ** 2))))


def decimate(surface: Surface, n_faces: int, chunk_faces: int = 1_000_000) -> Surface:
    """The surface decimated to about ``n_faces`` faces (quadric edge collapse, open borders
    kept); each kept vertex takes the colour of the nearest original vertex.

    A surface of more than ``chunk_faces`` faces is cut into slabs of about that many along
    its longest axis and each slab decimated on its own (its share of ``n_faces``), so the
    decimator's memory stays bounded (5.2M faces at once: 2.3 GB peak); the cuts are open
    borders of the slabs, kept in place, and welded back together by position.
    """
    faces = np.asarray(surface.faces)
    if len(faces) <= chunk_faces:
        return _decimate_part(surface, faces, n_faces)
    verts = np.asarray(surface.verts_m)
    axis = int(np.argmax(np.ptp(verts, axis=0)))
    order = np.argsort(verts[:, axis][faces].mean(axis=1), kind="stable")
    slabs = np.array_split(order, int(math.ceil(len(faces) / chunk_faces)))
    parts = [_decimate_part(surface, faces[np.sort(slab)], n_faces * len(slab) / len(faces))
             for slab in slabs]
    merged = np.concatenate([p.verts_m for p in parts])
    offsets = np.cumsum([0] + [len(p.verts_m) for p in parts[:-1]])
    joined = np.concatenate([p.faces + o for p, o in zip(parts, offsets, strict=True)])
    _, first, welded = np.unique(np.ascontiguousarray(merged).view(np.dtype((np.void, 12))),
                                 return_index=True, return_inverse=True)
    colors = None
    if surface.vertex_colors is not None:
        colors = np.concatenate([p.vertex_colors for p in parts])[first]
    return Surface(merged[first], welded.reshape(-1)[joined].astype(np.int32), colors)


def _decimate_part(surface: Surface, faces: np.ndarray, n_faces: float) -> Surface:
    """``faces`` (F, 3) of ``surface`` as a mesh of their own, decimated to ``n_faces``."""
    used, local = np.unique(faces, return_inverse=True)
    verts = np.asarray(surface.verts_m, dtype=np.float32)[used]
    out_verts, out_faces = fast_simplification.simplify(
        verts, local.reshape(-1, 3).astype(np.int32), target_count=max(1, int(n_faces)),
        preserve_border=True)
    out_verts = out_verts.astype(np.float32)
    colors = None
    if surface.vertex_colors is not None:
        _, nearest = cKDTree(verts).query(out_verts)
        colors = np.asarray(surface.vertex_colors)[used][nearest]
    return Surface(out_verts, out_faces.astype(np.int32), colors)


@dataclass(frozen=True)
class DetailChoice:
    """What the scan pass draws: ``faces_in`` of the scan, ``faces_used`` drawn, the
    ``target`` computed from the footprint and the footprint ``pixel_mm``."""

    faces_in: int
    faces_used: int
    target: int
    pixel_mm: float


def scan_for_views(surface: Surface, pixel_m: float,
                   settings: DetailSettings) -> tuple[Surface, DetailChoice]:
    """The surface to draw for views whose finest pixel covers ``pixel_m`` metres
    (:func:`pixel_footprint_m`): ``surface`` (verts (V, 3) metres) decimated to
    :func:`target_faces`, or as it is when that is not under ``min_reduction`` of its faces
    or ``pixels_per_edge`` is 0."""
    n_in = len(surface.faces)
    if settings.pixels_per_edge <= 0:
        return surface, DetailChoice(n_in, n_in, n_in, pixel_m * 1e3)
    target = target_faces(surface_area_m2(surface.verts_m, surface.faces), pixel_m, settings)
    if target > settings.min_reduction * n_in:
        return surface, DetailChoice(n_in, n_in, target, pixel_m * 1e3)
    lod = decimate(surface, target)
    return lod, DetailChoice(n_in, len(lod.faces), target, pixel_m * 1e3)


def level_stamp(key: str, pixel_m: float, settings: DetailSettings) -> str:
    """What a written level is made from: the scan's registration ``key`` (its geometry and
    frame), the footprint ``pixel_m``, the settings and the decimator."""
    payload = json.dumps([key, round(pixel_m * 1e9), asdict(settings), DECIMATOR])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def map_difference(full: dict, lod: dict, pixels: np.ndarray) -> dict:
    """How far the maps of a level of detail are from the full scan's on ``pixels`` (H, W)
    bool: the angle between ``normal`` (H, W, 3) maps (degrees; mean, P95) and the
    absolute ``depth`` (H, W, metres) difference (mm; mean, P95), and the pixel count."""
    a, b = full["normal"][pixels], lod["normal"][pixels]
    cos = np.einsum("ni,ni->n", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
                                         + 1e-12)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    depth_mm = np.abs(full["depth"][pixels] - lod["depth"][pixels]) * 1e3
    if not len(angle):
        raise ValueError("map_difference: no pixels to compare")
    return {"normal_mean_deg": float(angle.mean()),
            "normal_p95_deg": float(np.percentile(angle, 95)),
            "depth_mean_mm": float(depth_mm.mean()),
            "depth_p95_mm": float(np.percentile(depth_mm, 95)), "pixels": int(len(angle))}


def read_level(path: Path, stamp: str) -> Surface | None:
    """The level written at ``path`` under ``stamp``; None when it is missing, unreadable or
    was made from something else (another stamp)."""
    try:
        with np.load(path) as stored:
            if str(stored["stamp"]) != stamp:
                return None
            colors = stored["colors"] if stored["colors"].size else None
            return Surface(stored["verts_m"], stored["faces"], colors)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # a level cut short (a killed writer leaves none, a full disk may)


def write_level(path: Path, stamp: str, lod: Surface) -> None:
    """Write a scan's level (verts float32 metres, faces int32, colours uint8) to ``path``
    atomically: a worker killed mid-write leaves only a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    colors = np.zeros((0, 3), np.uint8) if lod.vertex_colors is None else lod.vertex_colors
    np.savez(tmp, stamp=np.array(stamp), verts_m=np.asarray(lod.verts_m, np.float32),
             faces=np.asarray(lod.faces, np.int32), colors=colors)
    os.replace(tmp, path)
