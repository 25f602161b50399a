"""Which scans a data set has: the configured real root, or the synthetic one of the build."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import config_hash, data
from pipeline.paths import raw_dir
from scans import ScanRecord, list_scans


def dataset_root(dataset: str) -> Path | None:
    """The configured real root of a data set, or None for the build's synthetic one."""
    root = getattr(data(), f"{dataset}_root")
    return Path(root) if root else None


def adapter_options(dataset: str) -> dict:
    """Adapter options from the ``[data]`` section (paths only the user can supply)."""
    settings = data()
    if dataset == "facescape":
        options = {"mv_root": settings.facescape_mv_root or None,
                   "rt_scale_path": settings.facescape_rt_scale or None,
                   "landmark_indices_path": settings.facescape_landmarks or None}
        if dataset_root(dataset) is None:
            synthetic = raw_dir(dataset)
            options = {"mv_root": synthetic / "fsmview",
                       "rt_scale_path": synthetic / "Rt_scale_dict.json",
                       "landmark_indices_path": synthetic / "landmark_indices.npz"}
            return {k: str(v) for k, v in options.items()}
        return {k: v for k, v in options.items() if v}
    if dataset == "ava256":
        topology = settings.ava256_face_topology or None
        if dataset_root(dataset) is None:
            topology = str(raw_dir(dataset) / "face_topology.obj")
        return {"face_topology_path": topology,
                "frames_per_segment": settings.ava256_frames_per_segment}
    return {}


def scan_root(dataset: str) -> Path:
    root = dataset_root(dataset)
    return root if root is not None else raw_dir(dataset)


def list_records(dataset: str) -> list[ScanRecord]:
    """Every scan record of the data set (empty when the synthetic root is not written yet)."""
    root = scan_root(dataset)
    if not root.exists():
        return []
    return sorted(list_scans(dataset, root, **adapter_options(dataset)), key=lambda r: r.scan_id)


def _file_stamp(path: str) -> list:
    file_path = path.split("::", 1)[0]
    try:
        stat = os.stat(file_path)
    except OSError:
        return [file_path, None]
    return [file_path, stat.st_size, stat.st_mtime_ns]


def record_key(record: ScanRecord) -> str:
    """A hash of a scan's record and the size and mtime of each file it is read from."""
    stamps = sorted(_file_stamp(p) for p in record.files.values())
    return config_hash(record.to_json(), stamps)
