"""Release-density synthetic scans: PN-triangle subdivision and the NPHM writer's option."""

from __future__ import annotations

import numpy as np
import trimesh

from scans.datasets import load_scan
from scans.nphm import list_scans
from synthetic import write_synthetic
from synthetic.subdivide import splits_for, subdivide_pn


def test_splits_reach_the_target_face_count() -> None:
    assert splits_for(200_000, 3_500_000) == 5  # 25x: 5.0M faces
    assert splits_for(200_000, 3_200_000) == 4
    assert splits_for(200_000, 100) == 1


def test_pn_subdivision_is_watertight_curved_and_keeps_corners() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.1)  # 320 faces
    verts, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    uv = np.random.default_rng(0).random((len(faces), 3, 2))
    dense_v, dense_f, dense_uv = subdivide_pn(verts, faces, uv, 4)
    assert len(dense_f) == 16 * len(faces)
    # shared edge points: a closed mesh stays closed, every edge in two triangles
    dense = trimesh.Trimesh(dense_v, dense_f, process=False)
    assert dense.is_watertight and dense.is_winding_consistent
    assert len(dense_v) == len(verts) + len(sphere.edges_unique) * 3 + len(faces) * 3
    np.testing.assert_allclose(dense_v[: len(verts)], verts, atol=1e-7)
    # curved, not flat facets: new points lie near the sphere, nearer than the flat facets
    radius = np.linalg.norm(dense_v, axis=1)
    flat_v, _, _ = subdivide_pn(verts, faces, None, 1)
    facets = trimesh.Trimesh(verts, faces).sample(5000, seed=0)
    assert np.abs(radius - 0.1).max() < 0.4 * np.abs(np.linalg.norm(facets, axis=1) - 0.1).max()
    assert dense.volume > trimesh.Trimesh(flat_v, faces).volume
    # outward winding kept
    assert (dense.face_normals * dense.triangles_center).sum(axis=1).min() > 0
    # texture coordinates interpolate each face's corners linearly: the centroid of a face's
    # children's uv is its own centroid
    np.testing.assert_allclose(dense_uv.reshape(len(faces), 16, 3, 2).mean(axis=(1, 2)),
                               uv.mean(axis=1), atol=1e-6)


def test_nphm_writer_writes_release_density_scans_the_adapter_reads(tmp_path) -> None:
    small = write_synthetic("nphm", tmp_path / "a", tmp_path / "ta", subjects=1, expressions=1,
                            scan_vertices=3000, texture_tile=64)
    assert small == {}
    base = load_scan(list_scans(tmp_path / "a")[0])
    write_synthetic("nphm", tmp_path / "b", tmp_path / "tb", subjects=1, expressions=1,
                    scan_vertices=3000, texture_tile=64, nphm_scan_faces=4 * len(base.faces))
    dense = load_scan(list_scans(tmp_path / "b")[0])
    assert len(dense.faces) == 4 * len(base.faces)
    header = (tmp_path / "b" / "001" / "000" / "scan.ply").read_bytes()[:400]
    assert b"format binary_little_endian" in header and b"comment TextureFile texture.jpg" in header
    assert dense.vertex_colors is not None and dense.uv_corners.shape == (len(dense.faces), 3, 2)
    # the same scan, finer: its vertices come first, where the coarse file has them
    np.testing.assert_allclose(dense.verts_m[: len(base.verts_m)], base.verts_m, atol=1e-6)
    with np.load(tmp_path / "ta" / "001_000" / "truth.npz") as a, \
            np.load(tmp_path / "tb" / "001_000" / "truth.npz") as b:
        np.testing.assert_array_equal(a["verts_m"], b["verts_m"])
