"""Renderer against analytic answers: projection, pixel centres, normals, uv, visibility."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from rendering import (
    MASK_FACE,
    MASK_NORMAL,
    MASK_UV,
    Camera,
    Surface,
    UVMesh,
    ViewSampling,
    look_at_w2c,
    project,
    render_training_maps,
    sample_view_camera,
)

WIDTH, HEIGHT = 160, 120  # not square, so a swapped axis shows



def _camera(centre, target=(0.0, 0.0, 0.0), roll=0.0, f=(210.0, 190.0), c=(83.0, 55.0)):
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    return Camera(K, look_at_w2c(np.array(centre), np.array(target), roll), WIDTH, HEIGHT)


def _pixel_rays(camera: Camera) -> np.ndarray:
    """(H, W, 3) world directions of the rays through each pixel centre."""
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(camera.K).T
    return rays @ camera.rotation


def _grid_plane(half: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Plane z = 0, [-half, half]^2, n x n quads, counter-clockwise seen from +z."""
    xs = np.linspace(-half, half, n + 1)
    gx, gy = np.meshgrid(xs, xs, indexing="xy")
    verts = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return verts, faces


def test_project_known_point_to_expected_pixel():
    w2c = np.eye(4)
    w2c[:3, 3] = [0.0, 0.0, 1.0]
    camera = Camera(np.array([[500.0, 0, 100], [0, 400.0, 80], [0, 0, 1]]), w2c, 200, 160)
    pixels = project(np.array([[0.1, -0.05, 1.0], [0.0, 0.0, -2.0]]), camera)
    np.testing.assert_allclose(pixels[0], [125.0, 70.0], atol=1e-12)
    assert np.all(np.isnan(pixels[1]))  # behind the camera


def test_calibrated_camera_renders_a_point_on_its_projected_pixel(renderer):
    camera = _camera((0.12, -0.05, 0.45), roll=0.3)
    # The 3D point that projects exactly to the centre of pixel (col 37, row 51).
    ray = _pixel_rays(camera)[51, 37]
    point = camera.centre_world + 0.4 * ray
    np.testing.assert_allclose(project(point[None], camera)[0], [37.0, 51.0], atol=1e-9)
    # A triangle about +-0.3 px around it covers that pixel centre and no other.
    right, down = camera.rotation[0], camera.rotation[1]
    depth = (camera.w2c[:3, :3] @ point + camera.w2c[:3, 3])[2]
    step = 0.3 * depth / camera.K[0, 0]
    verts = point + step * np.array([-right - down, right - down, 1.5 * down])
    face_id, bary, depth_map = renderer.rasterize(verts, np.array([[0, 1, 2]]), camera)
    assert np.argwhere(face_id == 0).tolist() == [[51, 37]]
    assert depth_map[51, 37] == pytest.approx(depth, abs=1e-5)


def test_rasterize_barycentrics_reproject_to_pixel_centres(renderer):
    camera = _camera((0.1, 0.08, 0.5))
    verts = np.array([[-0.2, -0.15, 0.0], [0.2, -0.1, 0.05], [0.0, 0.2, -0.05]])
    face_id, bary, depth = renderer.rasterize(verts, np.array([[0, 1, 2]]), camera)
    rows, cols = np.nonzero(face_id == 0)
    assert len(rows) > 2000
    points = bary[rows, cols] @ verts
    np.testing.assert_allclose(project(points, camera), np.stack([cols, rows], 1), atol=2e-3)
    cam_z = (points @ camera.rotation.T + camera.w2c[:3, 3])[:, 2]
    np.testing.assert_allclose(depth[rows, cols], cam_z, atol=1e-5)
    assert np.all(face_id[depth == 0] == -1)


def test_plane_with_linear_uv_renders_exact_uv(renderer):
    verts, faces = _grid_plane(0.2, 4)
    vt = np.stack([0.1 + 2.0 * (verts[:, 0] + 0.2), 0.3 + 1.5 * (verts[:, 1] + 0.2)], 1)
    camera = _camera((0.07, -0.04, 0.5), roll=0.2)
    uv, valid, face_id = renderer.render_uv(verts, faces, vt, faces, camera)
    # Analytic uv of each pixel centre: intersect its ray with the plane z = 0.
    rays = _pixel_rays(camera)
    centre = camera.centre_world
    hit = centre + (-centre[2] / rays[..., 2])[..., None] * rays
    inside = np.all(np.abs(hit[..., :2]) < 0.2 - 0.004, axis=-1)
    outside = np.any(np.abs(hit[..., :2]) > 0.2 + 0.004, axis=-1)
    assert inside.sum() > 5000
    assert valid[inside].all() and not valid[outside].any()
    expected = np.stack([0.1 + 2.0 * (hit[..., 0] + 0.2), 0.3 + 1.5 * (hit[..., 1] + 0.2)], -1)
    assert np.abs(uv[inside] - expected[inside]).max() < 1e-4
    assert np.all(uv[~valid] == 0) and np.all(face_id[~valid] == -1)


def test_sphere_normals_within_0_2_degrees_of_truth(renderer):
    radius = 0.1
    sphere = trimesh.creation.icosphere(subdivisions=6, radius=radius)
    camera = _camera((0.1, 0.05, 0.6), f=(240.0, 240.0), c=(79.5, 59.5))
    out = renderer.render_surface(sphere.vertices, sphere.faces, camera)
    rays = _pixel_rays(camera)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    centre = camera.centre_world
    b = rays @ centre
    disc = b**2 - (centre @ centre - radius**2)
    hit = centre + (-b - np.sqrt(np.maximum(disc, 0)))[..., None] * rays
    true_normal = hit / radius
    facing = -(true_normal * rays).sum(-1)  # cosine between view ray and normal
    away_from_silhouette = (disc > 0) & (facing > 0.5)
    assert away_from_silhouette.sum() > 1000
    assert out["mask"][away_from_silhouette].all()
    cosine = (out["normal"][away_from_silhouette] * true_normal[away_from_silhouette]).sum(-1)
    assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).max() < 0.2
    np.testing.assert_allclose(np.linalg.norm(out["normal"][out["mask"]], axis=-1), 1, atol=1e-5)
    hit_depth = (hit @ camera.rotation.T + camera.w2c[:3, 3])[..., 2]
    assert np.abs(out["depth"] - hit_depth)[away_from_silhouette].max() < 2e-4
    assert "rgb" not in out


def test_open_surface_seen_from_inside_gets_normals_towards_the_camera(renderer):
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    keep = sphere.triangles_center[:, 2] > 0  # a bowl open towards -z
    camera = _camera((0.0, 0.02, -0.5))  # looks into the bowl: sees its inner (back) side
    out = renderer.render_surface(sphere.vertices, sphere.faces[keep], camera)
    seen = out["mask"]
    assert seen.sum() > 1000
    to_camera = -_pixel_rays(camera)[seen]
    assert np.all((out["normal"][seen] * to_camera).sum(-1) > 0)


def _two_colour_sphere(radius=0.1):
    """Sphere whose faces with centroid z > 0 have uv (0.25, 0.5), the others (0.75, 0.5)."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    front = sphere.triangles_center[:, 2] > 0
    vt = np.array([[0.25, 0.5], [0.75, 0.5]])
    ft = np.repeat(np.where(front, 0, 1)[:, None], 3, axis=1)
    return sphere, vt, ft


def test_back_facing_or_occluded_faces_never_show_uv(renderer):
    sphere, vt, ft = _two_colour_sphere()
    front_camera = _camera((0.0, 0.0, 0.5))
    uv, valid, _ = renderer.render_uv(sphere.vertices, sphere.faces, vt, ft, front_camera)
    assert valid.sum() > 1000
    assert np.abs(uv[valid][:, 0] - 0.25).max() < 1e-5  # the far hemisphere is occluded
    inside_camera = _camera((0.0, 0.0, 0.02), target=(0.0, 0.0, -1.0))
    _, valid_inside, _ = renderer.render_uv(sphere.vertices, sphere.faces, vt, ft, inside_camera)
    assert not valid_inside.any()  # from inside every face is a back face
    verts, faces = _grid_plane(0.2, 2)
    behind_camera = _camera((0.03, 0.02, -0.5))
    _, valid_behind, _ = renderer.render_uv(verts, faces, verts[:, :2], faces, behind_camera)
    assert not valid_behind.any()


def test_training_maps_give_no_uv_under_an_occluder_and_face_bits_in_region(renderer):
    sphere, vt, ft = _two_colour_sphere()
    hair_verts, hair_faces = _grid_plane(0.04, 1)
    hair_verts = hair_verts + [0.0, 0.05, 0.11]  # a patch 1 to 2 cm in front of the sphere
    scan_verts = np.concatenate([sphere.vertices, hair_verts])
    scan_faces = np.concatenate([sphere.faces, hair_faces + len(sphere.vertices)])
    colours = np.full((len(scan_verts), 3), 180, dtype=np.uint8)
    scan = Surface(scan_verts, scan_faces, colours)
    registered = UVMesh(sphere.vertices, sphere.faces, vt, ft)
    upper = sphere.vertices[:, 1] > 0.0
    camera = _camera((0.0, 0.0, 0.5))
    maps = render_training_maps(renderer, scan, registered, camera, None, face_vertex_mask=upper)
    mask = maps["mask"]
    sphere_only = renderer.render_surface(sphere.vertices, sphere.faces, camera)
    occluded = sphere_only["mask"] & (maps["depth"] < sphere_only["depth"] - 0.005)
    assert occluded.sum() > 100
    assert not np.any(mask[occluded] & MASK_UV)
    assert np.all(mask[occluded] & MASK_NORMAL)
    assert np.all(maps["uv"][(mask & MASK_UV) == 0] == 0)
    clear = sphere_only["mask"] & ~occluded
    assert (mask[clear] & MASK_UV).mean() > 0.99
    face = (mask & MASK_FACE) > 0
    assert face.sum() > 100 and np.all(mask[face] & MASK_UV)
    rows = np.nonzero(face)[0]
    assert rows.max() < camera.K[1, 2] + 1  # upper half of the sphere is above the centre row
    assert maps["rgb"].dtype == np.uint8 and maps["rgb"][mask > 0].min() > 0


def test_sampled_views_look_at_the_target_within_ranges():
    settings = ViewSampling(width=200, height=100, target_jitter_m=0.0)
    target = np.array([0.0, 0.02, 0.03])
    for seed in range(20):
        camera = sample_view_camera(np.random.default_rng(seed), settings, target)
        np.testing.assert_allclose(project(target[None], camera)[0], [99.5, 49.5], atol=1e-9)
        np.testing.assert_allclose(camera.rotation @ camera.rotation.T, np.eye(3), atol=1e-12)
        offset = camera.centre_world - target
        distance = np.linalg.norm(offset)
        assert 0.45 <= distance <= 1.2
        assert abs(np.degrees(np.arctan2(offset[0], offset[2]))) <= 60.0 + 1e-9
        assert abs(np.degrees(np.arcsin(offset[1] / distance))) <= 25.0 + 1e-9
        fill = camera.K[1, 1] * settings.head_extent_m / distance / settings.height
        assert 0.4 <= fill <= 0.7
    a = sample_view_camera(np.random.default_rng(3), settings, target)
    b = sample_view_camera(np.random.default_rng(3), settings, target)
    assert np.array_equal(a.w2c, b.w2c) and np.array_equal(a.K, b.K)
