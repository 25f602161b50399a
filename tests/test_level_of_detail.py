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
    map_difference,
    pixel_footprint_m,
    scan_for_views,
    surface_area_m2,
    target_faces,
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


def test_decimated_sphere_draws_the_same_normals_and_depth(tmp_path) -> None:
    full = _sphere(6)  # 81,920 faces
    pixel_m = pixel_footprint_m(128, 0.7, 0.25)
    lod, choice = scan_for_views(full, pixel_m, DetailSettings(pixels_per_edge=1.5,
                                                               min_faces=1000),
                                 tmp_path / "lod" / "sphere.npz", key="k")
    assert choice.faces_used < 0.25 * len(full.faces) and not choice.cached
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


def test_the_decimation_is_cached_per_scan_and_key(tmp_path) -> None:
    full = _sphere(6)
    settings = DetailSettings(pixels_per_edge=1.5, min_faces=1000)
    path = tmp_path / "lod" / "scan.npz"
    first, choice = scan_for_views(full, 0.002, settings, path, key="registration-1")
    again, cached = scan_for_views(full, 0.002, settings, path, key="registration-1")
    assert cached.cached and not choice.cached
    np.testing.assert_array_equal(first.faces, again.faces)
    np.testing.assert_array_equal(first.verts_m, again.verts_m)
    np.testing.assert_array_equal(first.vertex_colors, again.vertex_colors)
    assert sorted(p.name for p in path.parent.iterdir()) == ["scan.npz"]  # no temporary left
    _, other = scan_for_views(full, 0.002, settings, path, key="registration-2")
    assert not other.cached  # another registration: decimated anew, one file per scan
    _, finer = scan_for_views(full, 0.001, settings, path, key="registration-2")
    assert not finer.cached and finer.faces_used > other.faces_used


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


def test_decimation_in_slabs_welds_them_back_into_one_surface() -> None:
    full = _sphere(6)  # closed: the welded result must have no open edge
    whole = decimate(full, 8000)
    slabs = decimate(full, 8000, chunk_faces=20_000)  # 5 slabs
    assert abs(len(slabs.faces) - 8000) < 0.25 * 8000
    edges = np.sort(slabs.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 1).sum() == 0  # the cuts are closed again
    # as close to the sphere as the decimation in one piece (mean; max within 1 mm)
    off = [np.abs(np.linalg.norm(m.verts_m, axis=1) - 0.1) for m in (whole, slabs)]
    assert off[1].mean() < 1.5 * off[0].mean() + 1e-5 and off[1].max() < 1e-3
    assert slabs.vertex_colors.shape == (len(slabs.verts_m), 3)


def test_render_worker_decimates_a_dense_scan_once_and_reuses_it(tmp_path,
                                                                  standin_model_path) -> None:
    from registration.worker import register_record
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
                "scan_pixels_per_edge": 4.0}
    shards = tmp_path / "shards"
    shards.mkdir()
    [job] = plan_shards("nphm", [record], registration, shards, settings, seed=0)
    first = render_shard(job, str(standin_model_path))
    cache = shards / "lod" / f"{record.scan_id}.npz"
    with np.load(cache) as stored:
        assert len(stored["faces"]) < 0.6 * status["scan_budget"]["faces_in"]
    written = cache.stat().st_mtime_ns
    again = render_shard(job, str(standin_model_path))  # e.g. the scan's second shard
    assert cache.stat().st_mtime_ns == written  # read from the cache, not decimated again
    assert again["sha256"] == first["sha256"] and first["samples"] == 2
    full = tmp_path / "full"
    full.mkdir()
    [job_full] = plan_shards("nphm", [record], registration, full,
                             {**settings, "scan_pixels_per_edge": 0.0}, seed=0)
    render_shard(job_full, str(standin_model_path))
    assert not (full / "lod").exists()  # 0: the full scan, nothing cached
