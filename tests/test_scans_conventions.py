"""The data sets' own conventions (FaceScape toolkit, ava-256), on synthetic sets written the
way those codes read them: photo cameras line up with the scan, photo problems never cost a
scan its registration."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scans_support import tiny_set
from scipy.spatial.transform import Rotation

from registration.worker import register_record, summarise_dataset
from rendering.photo_alignment import iou, scan_mask
from rendering.worker import accepted_photos, registration_status
from scans import list_scans
from scans.datasets import load_scan
from synthetic.ava256 import SENSOR_SIZE


def _copy(raw: Path, options: dict, to: Path) -> tuple[Path, dict]:
    shutil.copytree(raw, to)
    return to, {k: (v.replace(str(raw), str(to)) if isinstance(v, str) else v)
                for k, v in options.items()}


@pytest.mark.slow
def test_ava256_frame_with_a_far_head_pose_registers_and_its_photos_line_up(
        tmp_path_factory, tmp_path, standin_model_path):
    raw, truth_root, options = tiny_set(tmp_path_factory, "ava256")
    record = list_scans("ava256", raw, **options)[0]
    with np.load(truth_root / record.scan_id / "truth.npz") as truth:
        head_pose = truth["head_pose"]
    angle = np.degrees(Rotation.from_matrix(head_pose[:3, :3]).magnitude())
    assert 10.0 <= angle <= 30.0 and np.linalg.norm(head_pose[:3, 3]) >= 1.0
    status = register_record((record, "key"), str(standin_model_path), str(tmp_path),
                             str(truth_root), {})
    assert status["status"] == "registered", status.get("reason")
    photos = status["photos"]
    assert [p["status"] for p in photos] == ["accepted"] * 3, photos
    for photo in photos:
        assert photo["iou"] >= 0.98
        assert photo["landmark_px"]["rel"] < 0.02 and photo["landmarks_in_image"] == 1.0
        assert (tmp_path / record.scan_id / photo["overlay"]).is_file()


def test_ava256_K_is_scaled_to_a_quarter_size_image(tmp_path_factory, tmp_path):
    raw, truth_root, options = tiny_set(tmp_path_factory, "ava256")
    root, options = _copy(raw, options, tmp_path / "ava256")
    zip_path = next(root.glob("*--*/decoder/image/cam400013.zip"))
    quarter = (SENSOR_SIZE[0] // 4, SENSOR_SIZE[1] // 4)  # 667 x 1024, as released
    buf = io.BytesIO()
    Image.new("RGB", quarter, (0, 177, 64)).save(buf, format="AVIF")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name in names:
            archive.writestr(name, buf.getvalue())
    record = list_scans("ava256", root, **options)[0]
    scan = load_scan(record)
    krt = json.loads(next(root.glob("*--*/decoder/camera_calibration.json")).read_text())
    sensor_K = np.array(next(c["K"] for c in krt["KRT"] if c["cameraId"] == "400013")).T
    photo = next(p for p in scan.photos if p.camera_id == "400013")
    assert (photo.width, photo.height) == quarter
    np.testing.assert_allclose(photo.K[:2], sensor_K[:2] / 4)
    with np.load(truth_root / record.scan_id / "truth.npz") as truth:
        view = list(truth["photo_ids"]).index("400013")
        sixteenth_px = truth["photo_landmarks_px"][view]
        landmarks_m = truth["landmarks_m"]
    # the tiny set's photos are the sensor / 16: the same points land 4x as far in pixels
    assert np.abs(photo.project(landmarks_m) - 4 * sixteenth_px).max() < 0.01


def test_facescape_multiview_photos_with_scale_and_rotation_line_up(tmp_path_factory):
    raw, truth_root, options = tiny_set(tmp_path_factory, "facescape")
    rt_scale = json.loads((Path(options["toolkit_path"]) / "predef" / "Rt_scale_dict.json")
                          .read_text())
    for record in list_scans("facescape", raw, **options):
        scale, rt = rt_scale[record.subject][str(record.options["expression_index"])]
        assert abs(np.log(scale)) > 0.15
        assert np.degrees(Rotation.from_matrix(np.array(rt)[:, :3]).magnitude()) > 5.0
        scan = load_scan(record)
        with np.load(truth_root / record.scan_id / "truth.npz") as truth:
            masks = dict(zip(truth["photo_ids"], truth["photo_silhouettes"], strict=True))
        assert len(scan.photos) == 3
        for photo in scan.photos:
            assert iou(scan_mask(photo, scan.verts_m, scan.faces), masks[photo.camera_id]) >= 0.98


def test_ava256_npy_head_pose_and_pkl_calibration_read_like_txt_and_json(tmp_path_factory,
                                                                        tmp_path):
    raw, _, options = tiny_set(tmp_path_factory, "ava256")
    other, _, other_options = tiny_set(tmp_path_factory, "ava256", head_pose_form="npy",
                                       calibration_form="pkl")
    assert list(other.glob("*--*/decoder/camera_calibration.pkl"))
    assert not list(other.glob("*--*/decoder/camera_calibration.json"))
    for record, other_record in zip(list_scans("ava256", raw, **options),
                                    list_scans("ava256", other, **other_options), strict=True):
        assert other_record.files["head_pose"].endswith(".npy")
        scan, other_scan = load_scan(record), load_scan(other_record)
        np.testing.assert_allclose(other_scan.verts_m, scan.verts_m, atol=1e-9)
        np.testing.assert_allclose(other_scan.landmarks_m, scan.landmarks_m, atol=1e-6)
        assert other_scan.skipped_photos == [] and len(other_scan.photos) == 3
        for photo, other_photo in zip(scan.photos, other_scan.photos, strict=True):
            np.testing.assert_allclose(other_photo.K, photo.K, atol=1e-9)
            np.testing.assert_allclose(other_photo.w2c, photo.w2c, atol=1e-6)
    # a pickle naming code is refused by the allow-listed unpickler: photos dropped, scan read
    root, damaged_options = _copy(other, other_options, tmp_path / "ava256")

    class Payload:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    next(root.glob("*--*/decoder/camera_calibration.pkl")).write_bytes(pickle.dumps(Payload()))
    scan = load_scan(list_scans("ava256", root, **damaged_options)[0])
    assert scan.photos == [] and len(scan.verts_m) > 0
    assert "camera_calibration.pkl" in scan.skipped_photos[0]["reason"]
    assert "allow-list" in scan.skipped_photos[0]["reason"]


@pytest.mark.slow
def test_missing_rt_scale_dict_leaves_every_scan_registered_with_photos_skipped(
        tmp_path_factory, tmp_path, standin_model_path):
    raw, truth_root, options = tiny_set(tmp_path_factory, "facescape")
    root, options = _copy(raw, options, tmp_path / "facescape")
    (Path(options["toolkit_path"]) / "predef" / "Rt_scale_dict.json").unlink()
    records = list_scans("facescape", root, **options)
    out = tmp_path / "registration"
    for record in records:
        status = register_record((record, "key"), str(standin_model_path), str(out),
                                 str(truth_root), {})
        assert status["status"] == "registered", status.get("reason")
        assert [p["status"] for p in status["photos"]] == ["skipped"]
        assert "Rt_scale_dict.json" in status["photos"][0]["reason"]
        assert accepted_photos(registration_status(out, record.scan_id)) == []
    summary = summarise_dataset(out, [r.scan_id for r in records])
    assert summary["registered"] == len(records) == 2 and summary["quarantined"] == 0
    assert summary["photos"]["skipped"] == 2 and summary["photos"]["accepted"] == 0
    assert all("not found" in p["reason"] for p in summary["photos"]["not_used"])
