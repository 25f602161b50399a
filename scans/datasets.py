"""One entry point over the adapters: ``list_scans(dataset, root, **options)``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from scans import ava256, facescape, nphm
from scans.records import Photo, Scan, ScanRecord

ADAPTERS: dict[str, ModuleType] = {"nphm": nphm, "facescape": facescape, "ava256": ava256}
"""Data set name -> adapter module (each has ``list_scans(root, **options)`` and ``load``)."""

LAYOUTS = {
    "nphm": "ROOT/<subject>/<expression>/scan.ply",
    "facescape": "ROOT/<id>/models_reg/<n>_<expression>.obj",
    "ava256": "ROOT/<capture>/decoder/frame_list.csv with <capture> "
              + " or ".join(ava256.CAPTURE_FORMS),
}
"""What each adapter looks for under a data root (said when a root yields no scans)."""


def adapter_for(dataset: str) -> ModuleType:
    """The adapter module of a data set."""
    try:
        return ADAPTERS[dataset]
    except KeyError:
        raise ValueError(f"unknown data set {dataset!r}; known: {sorted(ADAPTERS)}") from None


def list_scans(dataset: str, root: str | Path, **options) -> list[ScanRecord]:
    """Records of every scan of a data set under ``root``; reads no mesh.

    Options per data set: facescape ``mv_root``, ``toolkit_path``, ``rt_scale_path``,
    ``landmark_indices_path``;
    ava256 ``face_topology_path``, ``frames_per_segment``; nphm none.
    """
    return adapter_for(dataset).list_scans(root, **options)


def optional_files(dataset: str, root: str | Path, records: list[ScanRecord],
                   **options) -> list[dict]:
    """The data set's optional files for the listed ``records``: one dict per file with
    ``file``, ``found`` (bool), ``path``, ``searched`` (paths looked at), ``lost`` (what the
    scans lose without it, "" when found) and, for per-scan files, ``scans`` (count per
    source) and ``reasons``. Empty for a data set without optional files (NPHM)."""
    describe = getattr(adapter_for(dataset), "optional_files", None)
    return describe(root, records, **options) if describe is not None else []


def load_scan(record: ScanRecord, appearance: bool = True) -> Scan:
    """Read a listed scan (mesh, colour, landmarks, photos' cameras) through its adapter;
    ``appearance`` False reads no texture and samples no colours (geometry for registration:
    NPHM at release density, 2.35M vertices, ~0.6 CPU-s less)."""
    return adapter_for(record.dataset).load(record, appearance)


def load_photos(record: ScanRecord) -> list[Photo]:
    """A listed scan's calibrated photos (cameras, image paths) without reading its mesh."""
    return adapter_for(record.dataset).load_photos(record)
