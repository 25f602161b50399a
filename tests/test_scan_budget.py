"""The registration's scan budget: dense scans sampled, oversized files quarantined unread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from geometry import vertex_normals
from registration.errors import RegistrationError
from registration.scan_budget import (
    ScanBudget,
    bound_scan,
    check_scan_files,
    split_budget,
)
from registration.worker import register_record
from scans.nphm import list_scans
from synthetic import write_synthetic


def _sphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.1)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_a_scan_within_the_budget_is_untouched() -> None:
    verts, faces = _sphere(4)
    bounded = bound_scan(verts, faces, ScanBudget(max_points=len(verts)))
    assert bounded.verts_m is verts and bounded.faces is faces
    assert not bounded.facts["sampled"] and bounded.facts["points_used"] == len(verts)


def test_a_dense_scan_is_sampled_to_about_the_budget_with_true_normals() -> None:
    verts, faces = _sphere(6)  # 40,962 vertices
    budget = ScanBudget(max_points=8000)
    bounded = bound_scan(verts, faces, budget)
    facts = bounded.facts
    assert facts["sampled"] and facts["points_in"] == len(verts)
    assert 0.8 * 8000 <= facts["points_used"] <= 1.2 * 8000
    assert facts["points_used"] == len(bounded.verts_m)
    assert facts["faces_used"] == len(bounded.faces) and "8000" in facts["reason"]
    # kept vertices are measured ones (no smoothing), every one used by a kept triangle
    assert np.isin(bounded.verts_m.view("f8,f8,f8"), verts.view("f8,f8,f8")).all()
    assert np.array_equal(np.unique(bounded.faces), np.arange(len(bounded.verts_m)))
    # normals from the kept triangles still point along the sphere's radius
    normals = vertex_normals(bounded.verts_m, bounded.faces)
    radial = bounded.verts_m / np.linalg.norm(bounded.verts_m, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip((normals * radial).sum(axis=1), -1, 1)))
    assert np.percentile(angle, 99) < 3.0
    again = bound_scan(verts, faces, budget)  # seeded: the same sample
    np.testing.assert_array_equal(again.faces, bounded.faces)


def test_a_dense_point_cloud_is_sampled_to_the_budget() -> None:
    verts, _ = _sphere(5)
    bounded = bound_scan(verts, None, ScanBudget(max_points=1000))
    assert bounded.faces is None and len(bounded.verts_m) == 1000
    assert bounded.facts["points_used"] == 1000 and bounded.facts["sampled"]


def test_budget_settings_split_from_the_registration_settings() -> None:
    budget, rest = split_budget({"scan_max_points": 10, "scan_max_file_mb": 2.0,
                                 "fit_points": 3000})
    assert budget == ScanBudget(max_points=10, max_file_mb=2.0)
    assert rest == {"fit_points": 3000}
    assert split_budget({})[0] == ScanBudget()


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "scan.ply"
    big.write_bytes(b"\0" * 2_000_000)
    assert check_scan_files([big], ScanBudget(max_file_mb=3)) == pytest.approx(2.0)
    with pytest.raises(RegistrationError, match=r"scan\.ply: 2 MB.*budget of 1 MB"):
        check_scan_files([big], ScanBudget(max_file_mb=1))


@pytest.fixture(scope="module")
def small_nphm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("nphm")
    write_synthetic("nphm", root / "raw", root / "truth", subjects=1, expressions=1,
                    scan_vertices=6000, texture_tile=64)
    return root / "raw", root / "truth"


def test_worker_quarantines_a_scan_over_the_memory_budget(small_nphm, standin_model_path,
                                                          tmp_path: Path) -> None:
    raw, truth = small_nphm
    record = list_scans(raw)[0]
    status = register_record((record, "k"), str(standin_model_path), str(tmp_path),
                             str(truth), {"scan_max_file_mb": 0.1})
    assert status["status"] == "quarantined"
    assert "memory budget" in status["reason"] and "scan.ply" in status["reason"]


def test_worker_registers_a_dense_scan_on_its_sample(small_nphm, standin_model_path,
                                                     tmp_path: Path) -> None:
    raw, truth = small_nphm
    record = list_scans(raw)[0]
    status = register_record((record, "k"), str(standin_model_path), str(tmp_path),
                             str(truth), {"scan_max_points": 3000})
    assert status["status"] == "registered", status.get("reason")
    facts = status["scan_budget"]
    assert facts["sampled"] and facts["points_in"] > 5000
    assert 0.8 * 3000 <= facts["points_used"] <= 1.2 * 3000
    assert status["truth_error_mm"]["registered"]["mean"] < 1.5
