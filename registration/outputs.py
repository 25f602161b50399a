"""Files of the registration stage, each written atomically (temporary name, then rename):
per scan ``mesh.ply``, ``params.npz``, ``metrics.json``, ``error.png``; per data set
``summary.json`` and ``quarantine.json``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from atomicfile import write_atomic, write_json
from registration.heatmap import write_error_png
from registration.register import Registration
from registration.scan_surface import ScanSurface

SCAN_FILES = ("mesh.ply", "params.npz", "metrics.json", "error.png")


def vertex_distances_mm(verts_m: np.ndarray, scan_verts_m: np.ndarray,
                        max_mm: float = 10.0) -> np.ndarray:
    """Distance (V,) mm of each vertex to its nearest scan point; NaN beyond ``max_mm``."""
    dist, _ = ScanSurface(scan_verts_m).nearest(verts_m, max_mm / 1000.0)
    return np.where(np.isfinite(dist), dist * 1000.0, np.nan)


def write_registration(out_dir: str | Path, registration: Registration, faces: np.ndarray,
                       distance_mm: np.ndarray, draw_faces: np.ndarray | None = None) -> None:
    """Write one scan's files into ``out_dir``; ``metrics.json`` is written last, so its
    presence means the scan is complete.

    Parameters
    ----------
    registration : :func:`registration.register_scan`'s result
    faces : (F, 3) the model's triangles
    distance_mm : (V,) per-vertex distance to the scan for the heat-map
        (:func:`vertex_distances_mm`)
    draw_faces : (k, 3) triangles drawn in the heat-map (default: all)
    """
    out_dir = Path(out_dir)
    params = registration.params
    mesh = trimesh.Trimesh(registration.verts_m, faces, process=False)
    write_atomic(out_dir / "mesh.ply", lambda tmp: mesh.export(tmp, file_type="ply"))
    write_atomic(out_dir / "params.npz", lambda tmp: np.savez(tmp, **params), keep_suffix=True)
    verts_model = ((registration.verts_m - params["t"]) @ params["R"]) / params["scale"]
    write_atomic(out_dir / "error.png", lambda tmp: write_error_png(
        tmp, verts_model, faces if draw_faces is None else draw_faces, distance_mm),
        keep_suffix=True)
    write_json(out_dir / "metrics.json", registration.metrics, sort_keys=False)


def summarise(dataset: str, metrics: Sequence[dict], quarantined: Sequence[dict],
              truth_fit: Sequence[dict] = (), truth_registered: Sequence[dict] = ()) -> dict:
    """The data set's ``summary.json`` content.

    Parameters
    ----------
    metrics : each registered scan's metrics dict
    quarantined : ``{"scan_id", "reason"}`` per failed scan
    truth_fit, truth_registered : per scan :func:`registration.metrics.truth_error` of the
        model fit alone and after refinement, where ground truth exists
    """
    seconds = [m["seconds"] for m in metrics]
    summary = {
        "dataset": dataset,
        "scans": len(metrics) + len(quarantined),
        "registered": len(metrics),
        "quarantined": len(quarantined),
        "seconds_per_scan": float(np.mean(seconds)) if seconds else None,
        "mesh_to_scan_mm_mean": (float(np.mean([m["mesh_to_scan_mm"]["mean"] for m in metrics]))
                                 if metrics else None),
    }
    if truth_registered:
        summary["truth_error_mm"] = {
            stage: {key: float(np.mean([e[key] for e in errors]))
                    for key in ("mean", "median", "p95")}
            for stage, errors in (("model_fit", truth_fit), ("registered", truth_registered))
            if errors
        }
    return summary


def _stats(values: list[float], *names: str) -> dict | None:
    ops = {"mean": np.mean, "median": np.median, "max": np.max, "min": np.min}
    return {n: float(ops[n](values)) for n in names} if values else None


def summarise_photos(photos: dict[str, list[dict]], thresholds) -> dict:
    """Photo-view alignment over a data set, from each registered scan's photo entries
    (:func:`rendering.photo_alignment.check_scan_photos`): counts per status, landmark
    reprojection error in pixels (of each view's mean) and relative to the face size, IoU with
    the true silhouette (synthetic data), and every view not used with its reason."""
    entries = [(scan_id, e) for scan_id, views in photos.items() for e in views]
    measured = [e for _, e in entries if e["landmark_px"] and e["landmark_px"]["mean"] is not None]
    ious = [e["iou"] for _, e in entries if e["iou"] is not None]
    counts = {status: sum(e["status"] == status for _, e in entries)
              for status in ("accepted", "failed", "skipped")}
    return {
        "thresholds": thresholds.to_json(),
        "views": len(entries), **counts,
        "landmark_px": _stats([e["landmark_px"]["mean"] for e in measured],
                              "mean", "median", "max"),
        "landmark_rel": _stats([e["landmark_px"]["rel"] for e in measured], "mean", "max"),
        "iou": _stats(ious, "mean", "min"),
        "not_used": [{"scan_id": scan_id, "camera_id": e["camera_id"], "status": e["status"],
                      "reason": e["reason"]} for scan_id, e in entries
                     if e["status"] != "accepted"],
        "overlays": [f"{scan_id}/{e['overlay']}" for scan_id, e in entries
                     if e.get("overlay")],
    }


def write_dataset_summary(out_dir: str | Path, summary: dict,
                          quarantined: Sequence[dict]) -> None:
    """Write ``summary.json`` and ``quarantine.json`` (list of ``{"scan_id", "reason"}``)."""
    out_dir = Path(out_dir)
    write_json(out_dir / "quarantine.json", list(quarantined), sort_keys=False)
    write_json(out_dir / "summary.json", summary, sort_keys=False)
