"""Calibrated photos as samples: the crop's camera and pixels stay in register."""

from __future__ import annotations

import json

import numpy as np

from rendering.camera import Camera, project
from rendering.photo import crop_box, crop_camera, crop_photo


def test_cropped_photo_and_camera_agree_to_a_pixel():
    width, height = 320, 240
    K = np.array([[300.0, 0, 161.3], [0, 300.0, 118.7], [0, 0, 1]])
    w2c = np.eye(4)
    w2c[:3, 3] = [0.01, -0.02, 0.6]
    points = np.random.default_rng(0).uniform(-0.08, 0.08, size=(40, 3))
    full = Camera(K=K, w2c=w2c, width=width, height=height)
    pixels = project(points, full)
    photo = np.zeros((height, width, 3), np.uint8)
    target = np.round(pixels[7]).astype(int)
    photo[target[1] - 1:target[1] + 2, target[0] - 1:target[0] + 2] = 255  # a 3x3 dot
    box = crop_box(pixels, margin=0.2)
    crop_size = 96
    camera = crop_camera(K, w2c, box, crop_size)
    crop = crop_photo(photo, box, crop_size).astype(float)[..., 0]
    ys, xs = np.nonzero(crop > 0)
    weights = crop[ys, xs]
    found = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    # The dot's centre is the rounded projection; map that photo pixel through the crop.
    expected = project(np.linalg.solve(K, [*target, 1.0])[None] * 1.0, Camera(
        K=camera.K, w2c=np.eye(4), width=crop_size, height=crop_size))[0]
    assert np.abs(found - expected).max() < 0.5
    assert np.all((project(points, camera) > -0.5) & (project(points, camera) < crop_size - 0.5))


def test_only_accepted_photo_views_become_samples(tmp_path):
    from rendering.worker import plan_shards
    from scans import ScanRecord

    views = [{"camera_id": "a", "index": 0, "status": "accepted"},
             {"camera_id": "b", "index": 1, "status": "failed", "reason": "IoU 0.4"},
             {"camera_id": "c", "index": None, "status": "skipped", "reason": "no params"},
             {"camera_id": "d", "index": 2, "status": "accepted"}]
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "status.json").write_text(json.dumps({"key": "k", "photos": views}))
    record = ScanRecord("facescape", "1", "1_neutral", "s1", {}, {}, n_photos=4)
    settings = {"views_per_scan": 2, "photo_views_per_scan": 3, "samples_per_shard": 8}
    jobs = plan_shards("facescape", [record], tmp_path, tmp_path / "shards", settings, seed=0)
    specs = [s for job in jobs for s in job.samples]
    assert [s.photo for s in specs] == [None, None, 0, 2]
