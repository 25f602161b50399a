"""Each adapter reads its synthetic data set: geometry on the true surface, cameras that
put the true landmarks and silhouette where the photos show them."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest
from scans_support import distance_to_mesh, foreground, silhouette_outside, tiny_set

from scans import list_scans, load_photos
from scans.datasets import load_scan
from scans.errors import ScanError
from scans.images import load_photo
from scans.meshio import write_ply


@pytest.fixture(scope="module", params=["nphm", "facescape", "ava256"])
def synthetic(request, tmp_path_factory):
    return (request.param, *tiny_set(tmp_path_factory, request.param))


def test_listing_is_cheap_and_ids_are_unique_and_safe(synthetic):
    dataset, raw, _, options = synthetic
    start = time.perf_counter()
    records = list_scans(dataset, raw, **options)
    assert time.perf_counter() - start < 0.5
    assert len(records) == 2
    ids = [r.scan_id for r in records]
    assert len(set(ids)) == len(ids)
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
               for i in ids)
    if dataset == "ava256":
        middle = list_scans(dataset, raw, **{**options, "frames_per_segment": 1})
        assert [r.options["frame"] for r in middle] == [10]


def test_scan_lies_on_true_surface_within_noise(synthetic):
    dataset, raw, truth_root, options = synthetic
    for record in list_scans(dataset, raw, **options):
        scan = load_scan(record)
        truth = np.load(truth_root / record.scan_id / "truth.npz")
        dist_mm = 1e3 * distance_to_mesh(scan.verts_m[truth["scan_inlier"]], truth["verts_m"],
                                         truth["faces"])
        bound_mm = 1e3 * (3 * float(truth["noise_m"]) + float(truth["detail_m"]))
        assert np.median(dist_mm) < 0.5 * bound_mm, record.scan_id
        assert np.percentile(dist_mm, 99) < bound_mm, record.scan_id
        if (~truth["scan_inlier"]).any():  # hair and shoulders really are off the head
            outlier_mm = 1e3 * distance_to_mesh(scan.verts_m[~truth["scan_inlier"]],
                                                truth["verts_m"], truth["faces"])
            assert np.median(outlier_mm) > 4.0
        if scan.landmarks_m is not None and dataset != "nphm":  # NPHM's: a fit, see below
            assert np.abs(scan.landmarks_m - truth["landmarks_m"]).max() * 1e3 < bound_mm
        if scan.vertex_colors is not None:
            assert scan.vertex_colors.shape == (len(scan.verts_m), 3)
            assert scan.vertex_colors.dtype == np.uint8


def test_geometry_only_and_photos_only_reads_match_the_whole_read(synthetic):
    """What the registration reads (no appearance) and the render stage reads beside a level
    of detail (photos only) are the same as the whole read's parts."""
    dataset, raw, _, options = synthetic
    record = list_scans(dataset, raw, **options)[0]
    whole = load_scan(record)
    geometry = load_scan(record, appearance=False)
    np.testing.assert_array_equal(geometry.verts_m, whole.verts_m)
    np.testing.assert_array_equal(geometry.faces, whole.faces)
    np.testing.assert_array_equal(geometry.landmarks_m, whole.landmarks_m)
    assert geometry.texture is None and whole.texture is not None
    photos = load_photos(record)
    assert len(photos) == len(whole.photos)
    for a, b in zip(photos, whole.photos, strict=True):
        for field in dataclasses.fields(a):
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
    assert (len(whole.photos) > 0) == (dataset != "nphm")


def test_photo_cameras_put_true_landmarks_and_silhouette_on_the_face(synthetic):
    dataset, raw, truth_root, options = synthetic
    record = list_scans(dataset, raw, **options)[-1]
    scan = load_scan(record)
    if dataset == "nphm":  # NPHM releases no calibrated photos: the adapter must say none
        assert record.n_photos == 0 and scan.photos == []
        return
    truth = np.load(truth_root / record.scan_id / "truth.npz")
    assert [p.camera_id for p in scan.photos] == list(truth["photo_ids"])
    for photo, expected_px in zip(scan.photos, truth["photo_landmarks_px"], strict=True):
        landmarks_px = photo.project(truth["landmarks_m"])
        assert np.abs(landmarks_px - expected_px).max() < 1.0
        image = load_photo(photo)
        assert image.shape == (photo.height, photo.width, 3)
        col, row = np.round(landmarks_px[[30, 36, 45, 48, 54]]).astype(int).T
        assert foreground(image)[row, col].all()
        outside = silhouette_outside(photo, image, truth["verts_m"], truth["faces"])
        assert outside < 0.002
        shifted = photo.K.copy()
        shifted[0, 2] += 2.0  # two pixels off must be seen
        outside_shifted = silhouette_outside(photo, image, truth["verts_m"], truth["faces"],
                                             shifted)
        assert outside_shifted > max(4 * outside, 0.004)


def test_nphm_landmarks_are_read_from_the_registration_where_nphms_code_reads_them(
        tmp_path_factory, tmp_path):
    """``registration.ply``'s vertices ``lm_inds_upsampled`` (NPHM ``DataManager
    .get_landmarks``), in the scan's frame: within the registration's 1 mm fit noise of the
    true landmarks; a registration of another topology is refused, naming the file."""
    raw, truth_root, _ = tiny_set(tmp_path_factory, "nphm")
    for record in list_scans("nphm", raw):
        scan = load_scan(record)
        truth = np.load(truth_root / record.scan_id / "truth.npz")
        error_mm = 1e3 * np.linalg.norm(scan.landmarks_m - truth["landmarks_m"], axis=1)
        assert error_mm.mean() < 2.5 and error_mm.max() < 6.0, record.scan_id
    record = list_scans("nphm", raw)[0]
    other = tmp_path / "registration.ply"
    write_ply(other, np.random.default_rng(0).normal(size=(500, 3)))
    with pytest.raises(ScanError, match="registration.ply.*not NPHM's registration topology"):
        load_scan(dataclasses.replace(record, files={**record.files, "registration": str(other)}))


def test_synthetic_cli_writes_a_set_the_scans_cli_lists(tmp_path, capsys):
    from scans.cli import main as scans_main
    from synthetic.__main__ import main as synthetic_main

    assert synthetic_main(["--dataset", "nphm", "--out", str(tmp_path / "raw"), "--truth",
                           str(tmp_path / "truth"), "--subjects", "1", "--expressions", "1",
                           "--scan-vertices", "6000"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["dataset"] == "nphm" and written["options"] == {}
    assert scans_main(["list", "--dataset", "nphm", "--root", str(tmp_path / "raw")]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["scan_id"] for r in listed] == ["001_000"]
    assert (tmp_path / "truth" / "001_000" / "truth.npz").is_file()
