"""The level-of-detail stage, one Dask task a scan: a dense scan read once, brought to the
model-aligned frame of its registration and decimated for the render settings' closest views
(:mod:`rendering.level_of_detail`), written to ``<shards>/lod/<scan_id>.npz``. The render
stage then draws that level without reading the scan (NPHM at release density: a 207 MB PLY,
~1 CPU-s to read, ~6 to decimate, against ~0.07 CPU-s a sample), so a scan's shards and
re-renders share one read and one decimation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from rendering.camera import ViewSampling
from rendering.geometry import Surface
from rendering.level_of_detail import (
    DetailSettings,
    level_stamp,
    pixel_footprint_m,
    read_level,
    scan_for_views,
    write_level,
)
from scans import Scan, ScanError, ScanRecord, load_scan
from shards.allocator import release_freed_memory

LEVELS_FOLDER = "lod"


def detail_of(settings: dict) -> tuple[DetailSettings, float]:
    """The render settings' level-of-detail settings and the finest pixel footprint (metres)
    their sampled views give the head."""
    size = int(settings["resolution"])
    views = ViewSampling(width=size, height=size)
    return (DetailSettings(float(settings["scan_pixels_per_edge"]),
                           int(settings["scan_min_faces"])),
            pixel_footprint_m(size, views.head_fill[1], views.head_extent_m))


def level_path(shards_dir: Path, scan_id: str) -> Path:
    """Where a scan's level is written."""
    return Path(shards_dir) / LEVELS_FOLDER / f"{scan_id}.npz"


def registration_status(registration_dir: Path, scan_id: str) -> dict:
    """A registered scan's ``status.json``: its ``key``, its photo views' verdicts, the scan
    budget's facts."""
    with open(Path(registration_dir) / scan_id / "status.json") as stream:
        return json.load(stream)


def registration_of(registration_scan_dir: Path) -> tuple[str, int | None]:
    """A registered scan's key and its face count as the registration read it (None when its
    status does not say)."""
    scan_dir = Path(registration_scan_dir)
    status = registration_status(scan_dir.parent, scan_dir.name)
    return status["key"], (status.get("scan_budget") or {}).get("faces_in")


def registration_frame(registration_scan_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The registration's similarity: rotation ``R`` (3, 3) and translation ``t`` (3,)
    metres, ``scan = s R (FLAME + offsets) + t``."""
    with np.load(Path(registration_scan_dir) / "params.npz") as stored:
        return np.asarray(stored["R"]), np.asarray(stored["t"])


def to_aligned_frame(points_m: np.ndarray, rotation: np.ndarray,
                     translation: np.ndarray) -> np.ndarray:
    """Scan-frame points (N, 3) metres into the registration's model-aligned frame:
    ``R^T (x - t)``."""
    return (np.asarray(points_m) - translation) @ rotation


def aligned_surface(scan: Scan, rotation: np.ndarray, translation: np.ndarray) -> Surface:
    """The scan as a :class:`Surface` in the model-aligned frame (its texture is already
    sampled into its vertex colours)."""
    return Surface(to_aligned_frame(scan.verts_m, rotation, translation), scan.faces,
                   scan.vertex_colors, scan.texture, scan.uv_corners)


def prepare_level(record_json: dict, registration_dir: str, shards_dir: str,
                  settings: dict) -> dict:
    """Write one scan's level for the render ``settings``; returns what was done.

    ``level`` is "full" (the scan is drawn as it is: too few faces to decimate, nothing
    written and any older level removed), "cached" (a level of the same stamp is there),
    "decimated" (written now, with ``faces_used``, ``target``, ``cpu_s``) or "failed" (the scan
    could not be read: ``reason``; the render stage reads it again and quarantines nothing
    itself, the registration already having read it once).
    """
    record = ScanRecord(**record_json)
    detail, pixel_m = detail_of(settings)
    scan_dir = Path(registration_dir) / record.scan_id
    key, faces_in = registration_of(scan_dir)
    path = level_path(Path(shards_dir), record.scan_id)
    done = {"scan_id": record.scan_id, "faces_in": faces_in, "pixel_mm": pixel_m * 1e3}
    if faces_in is not None and not detail.may_decimate(faces_in):
        path.unlink(missing_ok=True)
        return {**done, "level": "full"}
    stamp = level_stamp(key, pixel_m, detail)
    if read_level(path, stamp) is not None:
        return {**done, "level": "cached"}
    start = time.thread_time()
    try:
        scan = load_scan(record)
    except ScanError as exc:
        return {**done, "level": "failed", "reason": str(exc)}
    lod, choice = scan_for_views(aligned_surface(scan, *registration_frame(scan_dir)), pixel_m,
                                 detail)
    del scan
    release_freed_memory()  # the dense scan's pages back to the OS before the next task
    if choice.faces_used == choice.faces_in:
        path.unlink(missing_ok=True)
        return {**done, "faces_in": choice.faces_in, "level": "full"}
    write_level(path, stamp, lod)
    return {**done, "faces_in": choice.faces_in, "level": "decimated",
            "faces_used": choice.faces_used, "target": choice.target,
            "cpu_s": round(time.thread_time() - start, 2)}

