"""Which scans a data set has: the configured real root, or the synthetic one of the build."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import config_hash, data
from pipeline.keyed import read_json
from pipeline.paths import raw_dir
from scans import ScanRecord, list_scans
from scans.datasets import optional_files


def dataset_root(dataset: str) -> Path | None:
    """The configured real root of a data set, or None for the build's synthetic one."""
    root = getattr(data(), f"{dataset}_root")
    return Path(root) if root else None


def adapter_options(dataset: str) -> dict:
    """Adapter options: from the ``[data]`` section for a real root, else the ones the
    synthetic writer returned (recorded in ``<out>/raw/<dataset>/synthetic.json``)."""
    if dataset_root(dataset) is None:
        marker = raw_dir(dataset) / "synthetic.json"
        return dict(read_json(marker)["written"]) if marker.is_file() else {}
    settings = data()
    options = {
        "facescape": {"mv_root": settings.facescape_mv_root,
                      "rt_scale_path": settings.facescape_rt_scale,
                      "landmark_indices_path": settings.facescape_landmarks,
                      "toolkit_path": settings.facescape_toolkit},
        "ava256": {"face_topology_path": settings.ava256_face_topology,
                   "frames_per_segment": settings.ava256_frames_per_segment},
    }.get(dataset, {})
    return {key: value for key, value in options.items() if value not in ("", None)}


def scan_root(dataset: str) -> Path:
    root = dataset_root(dataset)
    return root if root is not None else raw_dir(dataset)


def list_records(dataset: str) -> list[ScanRecord]:
    """Every scan record of the data set (empty when the synthetic root is not written yet)."""
    root = scan_root(dataset)
    if not root.exists():
        return []
    return sorted(list_scans(dataset, root, **adapter_options(dataset)), key=lambda r: r.scan_id)


def optional_files_statement(dataset: str, records: list[ScanRecord]) -> list[dict]:
    """Which optional files the data set's scans have, found or not, and what is lost without
    each (:func:`scans.datasets.optional_files`)."""
    return optional_files(dataset, scan_root(dataset), records, **adapter_options(dataset))


def file_stamp(path: str | Path) -> list:
    """[file, size, mtime_ns] of a file (``zip::member``: of the zip); [file, None] if absent."""
    file_path = str(path).split("::", 1)[0]
    try:
        stat = os.stat(file_path)
    except OSError:
        return [file_path, None]
    return [file_path, stat.st_size, stat.st_mtime_ns]


def record_key(record: ScanRecord) -> str:
    """A hash of a scan's record and the size and mtime of each file it is read from."""
    stamps = sorted(file_stamp(p) for p in record.files.values())
    return config_hash(record.to_json(), stamps)
