"""Bad input: each kind of damage to a synthetic data set gives a ScanError that names the
file and the problem; ``python -m scans check`` reports it and exits non-zero."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scans_support import tiny_set

from scans import ScanError, list_scans
from scans.datasets import load_scan
from scans.images import load_photo
from scans.meshio import read_obj, read_ply, write_obj, write_ply


def damaged_copy(tmp_path_factory, tmp_path: Path, dataset: str) -> tuple[Path, dict]:
    raw, _, options = tiny_set(tmp_path_factory, dataset)
    copy = tmp_path / dataset
    shutil.copytree(raw, copy)
    options = {k: (str(v).replace(str(raw), str(copy)) if isinstance(v, str) else v)
               for k, v in options.items()}
    return copy, options


def load_error(dataset: str, root: Path, options: dict) -> ScanError:
    record = list_scans(dataset, root, **options)[0]
    with pytest.raises(ScanError) as info:
        scan = load_scan(record)
        for photo in scan.photos:
            load_photo(photo)
    return info.value


@pytest.fixture
def nphm(tmp_path_factory, tmp_path):
    root, options = damaged_copy(tmp_path_factory, tmp_path, "nphm")
    return root, options, root / "001" / "000"


def test_missing_mesh_file(nphm):
    root, options, folder = nphm
    (folder / "scan.ply").unlink()
    err = load_error("nphm", root, options)
    assert err.path.endswith("scan.ply") and "not found" in err.problem


def test_truncated_mesh(nphm):
    root, options, folder = nphm
    data = (folder / "scan.ply").read_bytes()
    (folder / "scan.ply").write_bytes(data[: len(data) // 2])
    err = load_error("nphm", root, options)
    assert err.path.endswith("scan.ply") and "truncated" in err.problem


def test_empty_mesh(nphm):
    root, options, folder = nphm
    write_ply(folder / "scan.ply", np.zeros((0, 3)), np.zeros((0, 3), int))
    err = load_error("nphm", root, options)
    assert err.path.endswith("scan.ply") and "no vertices" in err.problem


def test_nan_vertices(nphm):
    root, options, folder = nphm
    mesh = read_ply(folder / "scan.ply")
    mesh.verts[[3, 7]] = np.nan
    write_ply(folder / "scan.ply", mesh.verts, mesh.faces, uv_corners=mesh.uv_corners,
              texture_name=mesh.texture_name)
    err = load_error("nphm", root, options)
    assert err.path.endswith("scan.ply") and "2 vertices are NaN" in err.problem


def test_unreadable_texture(nphm):
    root, options, folder = nphm
    (folder / "texture.jpg").write_bytes(b"this is not a jpeg")
    err = load_error("nphm", root, options)
    assert err.path.endswith("texture.jpg") and "unreadable image" in err.problem


def test_mesh_in_wrong_units(tmp_path_factory, tmp_path):
    root, options = damaged_copy(tmp_path_factory, tmp_path, "facescape")
    obj = root / "1" / "models_reg" / "1_neutral.obj"
    mesh = read_obj(obj)
    write_obj(obj, mesh.verts / 1000.0, mesh.faces, mesh.uv_corners, mesh.texture_name)
    err = load_error("facescape", root, options)
    assert err.path.endswith("1_neutral.obj") and "wrong units" in err.problem


def skipped_photo(dataset: str, root: Path, options: dict, camera_id: str) -> str:
    """The reason the reader gives for dropping one photo of the first scan; the scan itself
    and its other photos still read."""
    scan = load_scan(list_scans(dataset, root, **options)[0])
    reasons = {s["camera_id"]: s["reason"] for s in scan.skipped_photos}
    assert list(reasons) == [camera_id]
    assert camera_id not in [p.camera_id for p in scan.photos] and len(scan.photos) == 2
    for photo in scan.photos:
        load_photo(photo)
    return reasons[camera_id]


def test_camera_file_missing_key_drops_that_photo_only(tmp_path_factory, tmp_path):
    root, options = damaged_copy(tmp_path_factory, tmp_path, "facescape")
    params_path = Path(options["mv_root"]) / "1" / "1_neutral" / "params.json"
    params = json.loads(params_path.read_text())
    del params["1_Rt"]
    params_path.write_text(json.dumps(params))
    reason = skipped_photo("facescape", root, options, "1")
    assert "params.json" in reason and "1_Rt" in reason


def test_zip_missing_member_drops_that_photo_only(tmp_path_factory, tmp_path):
    root, options = damaged_copy(tmp_path_factory, tmp_path, "ava256")
    zip_path = next(root.glob("*--*/decoder/image/cam400013.zip"))
    with zipfile.ZipFile(zip_path) as archive:
        kept = {n: archive.read(n) for n in archive.namelist() if not n.endswith("000000.avif")}
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in kept.items():
            archive.writestr(name, data)
    reason = skipped_photo("ava256", root, options, "400013")
    assert "cam400013.zip::cam400013/000000.avif" in reason and "member missing" in reason


@pytest.mark.slow
def test_check_command_reports_damage_and_fails(nphm):
    root, _, folder = nphm
    command = [sys.executable, "-m", "scans"]
    listed = subprocess.run([*command, "list", "--dataset", "nphm", "--root", str(root)],
                            capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["scan_id"] for r in rows] == ["001_000", "001_001"]
    clean = subprocess.run([*command, "check", "--dataset", "nphm", "--root", str(root)],
                           capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (folder / "texture.jpg").write_bytes(b"")
    damaged = subprocess.run([*command, "check", "--dataset", "nphm", "--root", str(root)],
                             capture_output=True, text=True)
    assert damaged.returncode == 1
    assert "001_000" in damaged.stdout and "texture.jpg" in damaged.stdout
