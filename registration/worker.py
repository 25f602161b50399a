"""One scan, start to end (the Dask task of the registration stage): load the scan, register
it, score it against ground truth where the data set has one, check the alignment of each of
its photo views (:mod:`rendering.photo_alignment`; a photo problem never quarantines the
scan), and write its folder.

``<out>/<scan_id>/status.json`` is written last and names the key the scan was registered
under, so a rebuild skips scans whose key is unchanged (quarantined ones included).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from atomicfile import write_json
from flame import load_model
from registration.dataset_map import UNMAPPED_VERTS, load_map
from registration.errors import RegistrationError
from registration.metrics import truth_error
from registration.outputs import (
    summarise,
    summarise_photos,
    vertex_distances_mm,
    write_dataset_summary,
    write_registration,
)
from registration.register import PreparedModel, prepare_model
from registration.scan_budget import load_within_budget, split_budget
from registration.settings import RegistrationSettings
from registration.signals import register_with_signals, signal_summary
from registration.topology_map import topology_signature
from rendering.photo_alignment import AlignmentThresholds, check_scan_photos
from scans import ScanError, ScanRecord

STATUS_FILE = "status.json"


def read_scan_status(scan_dir: Path) -> dict:
    """The scan's ``status.json`` ({} when missing or unreadable)."""
    try:
        return json.loads((Path(scan_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=2)
def _prepared(model_path: str, settings_json: str) -> PreparedModel:
    """The linearised model, once per worker process."""
    settings = RegistrationSettings(**json.loads(settings_json))
    return prepare_model(load_model(model_path), settings)


def prepared_model(model_path: str, settings: dict) -> PreparedModel:
    """The linearised model for RegistrationSettings overrides ``settings`` (cached)."""
    return _prepared(model_path, json.dumps(settings_from(settings).to_json(), sort_keys=True))


def settings_from(values: dict) -> RegistrationSettings:
    """RegistrationSettings with the given fields replaced (unknown names: ValueError)."""
    known = RegistrationSettings.__dataclass_fields__
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown registration settings {unknown}")
    return RegistrationSettings(**values)


def register_record(job: tuple[ScanRecord, str], model_path: str, out_dir: str,
                    truth_dir: str, settings: dict,
                    topology_map_path: str | None = None) -> dict:
    """Register one scan and write ``out_dir/<scan_id>/``; returns its status dict.

    Parameters
    ----------
    job : (record, key): the scan and the key its outputs are written under
    model_path : the FLAME model pickle
    out_dir : the data set's registration folder
    truth_dir : the data set's ground-truth folder (``<scan_id>/truth.npz``), may not exist
    settings : RegistrationSettings fields to override, and the scan budget's
        (:mod:`registration.scan_budget`: ``scan_max_points``, ``scan_max_file_mb``)
    topology_map_path : the data set's shared-topology map (second pass), or None (first
        pass: the registration is also kept as ``unmapped_verts.npy``, the map's input)

    The signals used, and those refused with the reason, are in ``status["signals"]``
    (:func:`registration.signals.register_with_signals`). A scan that cannot be read or
    registered, or is too large to read within the budget, is quarantined: ``status.json``
    holds the reason and the other scans go on. A scan over the budget's points is registered
    on a sample of it (``status.json`` "scan_budget"; a sampled scan no longer has its data
    set's shared topology, so the map is refused for it with that reason).
    """
    record, key = job
    scan_dir = Path(out_dir) / record.scan_id
    scan_dir.mkdir(parents=True, exist_ok=True)
    budget, settings = split_budget(settings)
    reg_settings = settings_from(settings)
    prepared = _prepared(model_path, json.dumps(reg_settings.to_json(), sort_keys=True))
    base_key = key if topology_map_path is None else read_scan_status(scan_dir).get(
        "base_key", key)
    try:
        scan, bounded = load_within_budget(record, budget)
        registration, signals = register_with_signals(
            prepared, bounded.verts_m, bounded.faces, reg_settings, scan.landmarks_m,
            scan.init_verts_m, load_map(topology_map_path))
    except (ScanError, RegistrationError) as exc:
        status = {"key": key, "base_key": base_key, "scan_id": record.scan_id,
                  "status": "quarantined", "reason": f"{type(exc).__name__}: {exc}"}
        write_json(scan_dir / STATUS_FILE, status, sort_keys=False)
        return status
    model = prepared.model
    face_faces = model.faces[np.isin(model.faces, model.masks["face"]).all(axis=1)]
    write_registration(scan_dir, registration, model.faces,
                       vertex_distances_mm(registration.verts_m, bounded.verts_m),
                       draw_faces=face_faces)
    if topology_map_path is None:
        np.save(scan_dir / UNMAPPED_VERTS, registration.verts_m)
    status = {"key": key, "base_key": base_key, "scan_id": record.scan_id,
              "status": "registered", "signals": signals,
              "topology": None if bounded.faces is None else topology_signature(
                  len(bounded.verts_m), bounded.faces),
              "metrics": registration.metrics, "scan_budget": bounded.facts}
    truth_path = Path(truth_dir) / record.scan_id / "truth.npz"
    silhouettes = {}
    if truth_path.is_file():
        with np.load(truth_path) as truth:
            true_verts = truth["verts_m"]
            if "photo_silhouettes" in truth:
                silhouettes = dict(zip((str(i) for i in truth["photo_ids"]),
                                       truth["photo_silhouettes"], strict=True))
        status["truth_error_mm"] = {
            "model_fit": truth_error(registration.fit_verts_m, true_verts, prepared.face_ids),
            "registered": truth_error(registration.verts_m, true_verts, prepared.face_ids)}
    status["photos"] = check_scan_photos(scan, registration.verts_m, model, silhouettes,
                                         scan_dir, AlignmentThresholds())
    write_json(scan_dir / STATUS_FILE, status, sort_keys=False)
    return status


def summarise_dataset(out_dir: Path, scan_ids: list[str]) -> dict:
    """Write the data set's ``summary.json`` and ``quarantine.json`` from the scans' status
    files; returns the summary (with ``registered_ids``, the scans that have a mesh)."""
    statuses = [read_scan_status(Path(out_dir) / scan_id) for scan_id in scan_ids]
    registered = [s for s in statuses if s.get("status") == "registered"]
    quarantined = [{"scan_id": s["scan_id"], "reason": s["reason"]}
                   for s in statuses if s.get("status") == "quarantined"]
    with_truth = [s for s in registered if "truth_error_mm" in s]
    summary = summarise(
        Path(out_dir).name, [s["metrics"] for s in registered], quarantined,
        [s["truth_error_mm"]["model_fit"] for s in with_truth],
        [s["truth_error_mm"]["registered"] for s in with_truth])
    summary["photos"] = summarise_photos({s["scan_id"]: s.get("photos", []) for s in registered},
                                         AlignmentThresholds())
    summary["registered_ids"] = [s["scan_id"] for s in registered]
    summary["signals"] = signal_summary(registered)
    write_dataset_summary(out_dir, summary, quarantined)
    return summary
