"""The scan pass's level of detail: how many faces a view needs, the decimation, its cache,
and the maps it draws against the full mesh's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from rendering.camera import Camera, look_at_w2c
from rendering.geometry import Surface
from rendering.level_of_detail import (
    DetailSettings,
    decimate,
    level_stamp,
    map_difference,
    pixel_footprint_m,
    read_level,
    scan_for_views,
    surface_area_m2,
    target_faces,
    write_level,
)
from rendering.renderer import Renderer


def _sphere(subdivisions: int = 6, radius: float = 0.1) -> Surface:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    verts = np.asarray(mesh.vertices)
    colors = np.clip((verts / radius + 1) * 127.5, 0, 255).astype(np.uint8)  # colour = position
    return Surface(verts, np.asarray(mesh.faces), colors)


def test_target_faces_follow_the_pixel_footprint() -> None:
    pixel_m = pixel_footprint_m(512, 0.7, 0.25)
    assert pixel_m == pytest.approx(0.25 / (0.7 * 512))
    settings = DetailSettings(pixels_per_edge=2.0, min_faces=10)
    edge = 2.0 * pixel_m
    assert target_faces(0.1, pixel_m, settings) == math.ceil(0.1 / (math.sqrt(3) / 4 * edge**2))
    # twice the resolution: four times the faces; the floor holds for tiny surfaces
    assert target_faces(0.1, pixel_m / 2, settings) == pytest.approx(
        4 * target_faces(0.1, pixel_m, settings), rel=1e-4)
    assert target_faces(1e-9, pixel_m, settings) == 10
    sphere = _sphere(4)
    assert surface_area_m2(sphere.verts_m, sphere.faces) == pytest.approx(4 * math.pi * 0.01,
                                                                           rel=0.01)


def test_a_scan_within_the_target_is_drawn_as_it_is() -> None:
    sphere = _sphere(3)
    same, choice = scan_for_views(sphere, 0.0007, DetailSettings(min_faces=1000))
    assert same is sphere and choice.faces_used == choice.faces_in == len(sphere.faces)
    off, choice = scan_for_views(_sphere(6), 0.01, DetailSettings(pixels_per_edge=0))
    assert choice.faces_used == choice.faces_in  # 0: the level of detail is off


def test_decimated_sphere_draws_the_same_normals_and_depth() -> None:
    full = _sphere(6)  # 81,920 faces
    pixel_m = pixel_footprint_m(128, 0.7, 0.25)
    lod, choice = scan_for_views(full, pixel_m, DetailSettings(pixels_per_edge=1.5,
                                                               min_faces=1000))
    assert choice.faces_used < 0.25 * len(full.faces)
    renderer = Renderer(128, 128)
    focal = 0.7 * 128 * 0.6 / 0.25
    for eye in ([0.0, 0.0, 0.6], [0.4, 0.2, 0.4]):
        w2c = look_at_w2c(np.array(eye), np.zeros(3), 0.0)
        camera = Camera(K=np.array([[focal, 0, 63.5], [0, focal, 63.5], [0, 0, 1]]), w2c=w2c,
                        width=128, height=128)
        a = renderer.render_surface(full.verts_m, full.faces, camera)
        b = renderer.render_surface(lod.verts_m, lod.faces, camera)
        diff = map_difference(a, b, a["mask"] & b["mask"])
        assert diff["pixels"] > 3000
        assert diff["normal_mean_deg"] <= 0.5 and diff["normal_p95_deg"] <= 2.0, diff
        assert diff["depth_mean_mm"] <= 0.1, diff
    # colours follow the surface: each kept vertex coloured like the original nearest to it
    expected = np.clip((lod.verts_m / 0.1 + 1) * 127.5, 0, 255)
    assert np.abs(lod.vertex_colors - expected).max() <= 8


def test_open_borders_stay_where_they_are() -> None:
    sphere = _sphere(6)
    upper = sphere.faces[(sphere.verts_m[sphere.faces][:, :, 2] > 0.02).all(axis=1)]
    cap = Surface(sphere.verts_m, upper, sphere.vertex_colors)  # a cap: one open border
    edges = np.sort(upper[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    border = np.unique(unique[counts == 1])
    for lod in (decimate(cap, len(upper) // 10), decimate(cap, len(upper) // 10, 8_000)):
        assert len(lod.faces) < 0.2 * len(upper)  # in one piece, then in slabs welded back
        kept = {tuple(v) for v in lod.verts_m.round(6)}
        assert all(tuple(v) in kept for v in np.asarray(cap.verts_m, np.float32)[border]
                   .round(6))
        lod_edges = np.sort(lod.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
        _, lod_counts = np.unique(lod_edges, axis=0, return_counts=True)
        assert (lod_counts == 1).sum() <= (counts == 1).sum()  # no cut left open


def test_a_level_is_read_back_only_under_its_stamp(tmp_path) -> None:
    settings = DetailSettings(pixels_per_edge=1.5, min_faces=1000)
    lod, _ = scan_for_views(_sphere(6), 0.002, settings)
    stamp = level_stamp("registration-1", 0.002, settings)
    assert len({stamp, level_stamp("registration-2", 0.002, settings),
                level_stamp("registration-1", 0.001, settings),
                level_stamp("registration-1", 0.002, DetailSettings(2.0, 1000))}) == 4
    path = tmp_path / "lod" / "scan.npz"
    assert read_level(path, stamp) is None  # not written yet
    write_level(path, stamp, lod)
    again = read_level(path, stamp)
    np.testing.assert_array_equal(again.faces, lod.faces)
    np.testing.assert_array_equal(again.verts_m, lod.verts_m)
    np.testing.assert_array_equal(again.vertex_colors, lod.vertex_colors)
    assert sorted(p.name for p in path.parent.iterdir()) == ["scan.npz"]  # no temporary left
    assert read_level(path, level_stamp("registration-2", 0.002, settings)) is None
    path.write_bytes(path.read_bytes()[:200])  # truncated: read as missing, not an error
    assert read_level(path, stamp) is None


def test_map_difference_measures_angles_and_depth() -> None:
    normal = np.zeros((4, 4, 3), np.float32)
    normal[..., 2] = 1
    tilted = normal.copy()
    tilted[..., 0] = math.tan(math.radians(10))
    a = {"normal": normal, "depth": np.full((4, 4), 0.5, np.float32)}
    b = {"normal": tilted, "depth": np.full((4, 4), 0.5002, np.float32)}
    diff = map_difference(a, b, np.ones((4, 4), bool))
    assert diff["normal_mean_deg"] == pytest.approx(10, abs=1e-3)
    assert diff["depth_mean_mm"] == pytest.approx(0.2, abs=1e-3)
    with pytest.raises(ValueError, match="no pixels"):
        map_difference(a, b, np.zeros((4, 4), bool))


def test_level_stage_decimates_a_dense_scan_once_and_render_never_reads_it(
        tmp_path, standin_model_path, monkeypatch) -> None:
    import rendering.worker
    from registration.worker import register_record
    from rendering.levels import level_path, prepare_level
    from rendering.worker import plan_shards, render_shard
    from scans.nphm import list_scans
    from synthetic import write_synthetic

    write_synthetic("nphm", tmp_path / "raw", tmp_path / "truth", subjects=1, expressions=1,
                    scan_vertices=4000, texture_tile=64, nphm_scan_faces=110_000)
    record = list_scans(tmp_path / "raw")[0]
    registration = tmp_path / "registration"
    status = register_record((record, "k"), str(standin_model_path), str(registration),
                             str(tmp_path / "truth"), {})
    assert status["status"] == "registered", status.get("reason")
    settings = {"resolution": 64, "views_per_scan": 2, "photo_views_per_scan": 0,
                "samples_per_shard": 2, "yaw_deg": 30.0, "pitch_deg": 10.0, "roll_deg": 5.0,
                "scan_pixels_per_edge": 4.0, "scan_min_faces": 2000}
    shards = tmp_path / "shards"
    done = prepare_level(record.to_json(), str(registration), str(shards), settings)
    assert done["level"] == "decimated" and done["faces_used"] < 0.6 * done["faces_in"], done
    path = level_path(shards, record.scan_id)
    written = path.stat().st_mtime_ns
    again = prepare_level(record.to_json(), str(registration), str(shards), settings)
    assert again["level"] == "cached" and path.stat().st_mtime_ns == written
    [job] = plan_shards("nphm", [record], registration, shards, settings, seed=0)
    with monkeypatch.context() as patch:  # the render stage draws the level, unread scan
        patch.setattr(rendering.worker, "load_scan", _refuse)
        first = render_shard(job, str(standin_model_path))
    assert first["samples"] == 2
    path.unlink()  # no level (e.g. its stage failed): the scan is read and decimated there
    assert render_shard(job, str(standin_model_path))["sha256"] == first["sha256"]
    full = {**settings, "scan_pixels_per_edge": 0.0}
    write_level(path, "old", _sphere(2))
    done = prepare_level(record.to_json(), str(registration), str(shards), full)
    assert done["level"] == "full" and not path.exists()  # 0: the full scan, old level gone
    small = {**settings, "scan_min_faces": 100_000}  # under twice the floor: not even read
    with monkeypatch.context() as patch:
        patch.setattr("rendering.levels.load_scan", _refuse)
        assert prepare_level(record.to_json(), str(registration), str(shards),
                             small)["level"] == "full"


def _refuse(*args, **kwargs):
    raise AssertionError("the scan was read")
