"""Free correspondence signals (NPHM's flame.ply, a shared-topology map, landmarks): each
lowers the vertex error against ground truth, and a bad one is refused with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from registration import (
    RegistrationError,
    RegistrationSettings,
    prepare_model,
    signals,
    truth_error,
    truth_surface_error,
)
from registration.dataset_map import MAP_INFO, update_topology_map
from registration.signals import register_with_signals
from registration.topology_map import build_topology_map
from registration.worker import read_scan_status, register_record
from scans.datasets import list_scans, load_scan
from synthetic import write_synthetic

SETTINGS = RegistrationSettings()


@pytest.fixture(scope="module")
def prepared(standin_model):
    return prepare_model(standin_model)


def _truth(truth_root: Path, scan_id: str) -> np.ndarray:
    with np.load(truth_root / scan_id / "truth.npz") as data:
        return data["verts_m"]


def _errors(prepared, registration, truth) -> tuple[float, float]:
    vertex = truth_error(registration.verts_m, truth, prepared.face_ids)["mean"]
    surface = truth_surface_error(registration.verts_m, truth, prepared.model.faces,
                                  prepared.face_ids)["mean"]
    return vertex, surface


@pytest.fixture(scope="module")
def nphm(tmp_path_factory):
    root = tmp_path_factory.mktemp("nphm")
    write_synthetic("nphm", root / "raw", root / "truth", subjects=2, expressions=1, seed=3,
                    scan_vertices=12000, texture_tile=32)
    return [load_scan(r) for r in list_scans("nphm", root / "raw")], root / "truth"


@pytest.fixture(scope="module")
def facescape(tmp_path_factory):
    root = tmp_path_factory.mktemp("facescape")
    options = write_synthetic("facescape", root / "raw", root / "truth", subjects=4,
                              expressions=1, seed=3, scan_vertices=12000, texture_tile=32,
                              views=1, photo_size=(32, 24))
    records = list_scans("facescape", root / "raw", **options)  # the toolkit's predef/ too
    return records, [load_scan(r) for r in records], root


@pytest.mark.slow
def test_flame_ply_prior_lowers_the_vertex_error(prepared, nphm):
    scans, truth_root = nphm
    for scan in scans:
        truth = _truth(truth_root, scan.record.scan_id)
        plain, record = register_with_signals(prepared, scan.verts_m, scan.faces, SETTINGS,
                                              use=())
        assert record == {"path": "geometry", "signals": [], "refused": {}}
        guided, record = register_with_signals(prepared, scan.verts_m, scan.faces, SETTINGS,
                                               flame_fit_m=scan.init_verts_m)
        assert record["path"] == "geometry+flame_ply"
        before, after = _errors(prepared, plain, truth), _errors(prepared, guided, truth)
        assert after[0] < 0.8 * before[0] and after[0] < 0.5
        assert after[1] < 0.2


@pytest.mark.slow
def test_a_flame_ply_of_another_subject_or_size_is_refused(prepared, nphm):
    (scan, other), _ = nphm
    _, record = register_with_signals(prepared, scan.verts_m, scan.faces, SETTINGS,
                                      flame_fit_m=other.init_verts_m)
    assert record["path"] == "geometry"
    assert "another subject" in record["refused"]["flame_ply"]
    _, record = register_with_signals(prepared, scan.verts_m, scan.faces, SETTINGS,
                                      flame_fit_m=scan.init_verts_m[:-5])
    assert "vertices, the model" in record["refused"]["flame_ply"]


@pytest.fixture(scope="module")
def first_pass(standin_model_path, facescape, tmp_path_factory):
    """The FaceScape scans registered by the worker without a map (key "k1")."""
    records, _, root = facescape
    out = tmp_path_factory.mktemp("registration")
    common = {"model_path": str(standin_model_path), "out_dir": str(out),
              "truth_dir": str(root / "truth"), "settings": {}}
    statuses = {r.scan_id: register_record((r, "k1"), **common) for r in records}
    return out, common, statuses


@pytest.mark.slow
def test_topology_map_lowers_the_vertex_error_and_refuses_other_meshes(prepared, facescape,
                                                                       first_pass):
    records, scans, root = facescape
    out, _, statuses = first_pass
    for status in statuses.values():
        assert status["signals"]["path"] == "geometry+landmarks"
    shared = build_topology_map(
        [(s.verts_m, np.load(out / r.scan_id / "unmapped_verts.npy"))
         for r, s in zip(records, scans, strict=True)],
        scans[0].faces, np.flatnonzero(prepared.free), SETTINGS.map_max_distance_m,
        SETTINGS.map_max_spread_m)
    assert np.isin(prepared.face_ids, shared.vertex_ids).mean() > 0.9
    for record, scan in list(zip(records, scans, strict=True))[:2]:
        truth = _truth(root / "truth", scan.record.scan_id)
        mapped, signals = register_with_signals(prepared, scan.verts_m, scan.faces, SETTINGS,
                                                scan.landmarks_m, topology_map=shared)
        assert signals["path"] == "geometry+landmarks+topology_map"
        before = statuses[record.scan_id]["truth_error_mm"]["registered"]["mean"]
        after = _errors(prepared, mapped, truth)
        assert after[0] < 0.8 * before and after[0] < 0.45
        assert after[1] < 0.2
    # a TU mesh of another vertex count: the map is refused, the scan still registers
    scan = scans[0]
    keep = np.ones(len(scan.faces), bool)
    keep[:50] = False
    _, signals = register_with_signals(prepared, scan.verts_m, scan.faces[keep], SETTINGS,
                                       scan.landmarks_m, topology_map=shared)
    assert signals["path"] == "geometry+landmarks"
    assert "not the data set's shared topology" in signals["refused"]["topology_map"]


def test_landmarks_of_another_topology_are_refused(prepared, facescape):
    _, scans, _ = facescape
    scan = scans[0]
    wrong = scan.verts_m[np.random.default_rng(0).choice(len(scan.verts_m), 68)]
    registration, record = register_with_signals(prepared, scan.verts_m, scan.faces,
                                                 SETTINGS, wrong)
    assert record["path"] == "geometry"
    assert "do not fit the model's layout" in record["refused"]["landmarks"]
    assert registration.metrics["signals"] == record


@pytest.mark.slow
def test_two_passes_build_the_map_once_and_record_the_path(prepared, facescape,
                                                            first_pass):
    records, _, _ = facescape
    out, common, _ = first_pass
    statuses = {r.scan_id: read_scan_status(out / r.scan_id) for r in records}
    by_id = {r.scan_id: r for r in records}
    map_path, key = update_topology_map(out, by_id, statuses, prepared, SETTINGS)
    info = json.loads((out / MAP_INFO).read_text())
    assert info["key"] == key and info["scans"] == sorted(by_id)
    stamp = map_path.stat().st_mtime_ns
    assert update_topology_map(out, by_id, statuses, prepared, SETTINGS) == (map_path, key)
    assert map_path.stat().st_mtime_ns == stamp  # unchanged scans: the map is kept
    status = register_record((records[0], "k2"), **common, topology_map_path=str(map_path))
    assert status["key"] == "k2" and status["base_key"] == "k1"
    assert status["signals"]["path"] == "geometry+landmarks+topology_map"
    assert status["truth_error_mm"]["registered"]["mean"] < 0.45
    assert update_topology_map(out, by_id, {}, prepared, SETTINGS) is None
    assert not map_path.exists()


def test_a_prior_whose_registration_fails_falls_back(prepared, nphm, monkeypatch):
    (scan, _), _ = nphm
    real = signals.register_scan

    def diverging_with_prior(*args, **kwargs):
        if len(args) > 5 and args[5] is not None:
            raise RegistrationError("the model fit diverged: scale 3.00")
        return real(*args, **kwargs)

    monkeypatch.setattr(signals, "register_scan", diverging_with_prior)
    registration, record = register_with_signals(prepared, scan.verts_m, scan.faces,
                                                 SETTINGS, flame_fit_m=scan.init_verts_m)
    assert record["path"] == "geometry" and record["signals"] == []
    assert "registration with it failed (the model fit diverged" in \
        record["refused"]["flame_ply"]
    assert registration.metrics["prior"] is None
