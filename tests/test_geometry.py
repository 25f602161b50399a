"""The shared geometry module: numpy and torch agree with each other and with closed forms."""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from scipy.spatial.transform import Rotation

import geometry
from geometry import tensors


def test_vertex_normals_of_a_sphere_point_outwards_numpy_and_torch():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    verts, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    radial = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    normals = geometry.vertex_normals(verts, faces)
    assert np.degrees(np.arccos(np.clip((normals * radial).sum(1), -1, 1))).max() < 1.0
    torch_normals = tensors.vertex_normals(torch.from_numpy(verts),
                                           torch.from_numpy(faces.astype(np.int64))).numpy()
    assert np.abs(torch_normals - normals).max() < 1e-9


def test_unreferenced_vertex_and_degenerate_face_give_zero_normals():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5], [2, 0, 0]], float)
    faces = np.array([[0, 1, 2], [0, 1, 4]])  # the second is degenerate (collinear)
    normals = geometry.vertex_normals(verts, faces)
    assert np.allclose(normals[[0, 1, 2]], [0, 0, 1])
    assert np.all(normals[3] == 0)
    assert np.allclose(geometry.face_normals(verts, faces), [[0, 0, 1], [0, 0, 0]])


def test_axis_angle_matches_scipy_in_numpy_and_torch_and_is_identity_at_zero():
    rotvecs = np.random.default_rng(0).normal(size=(20, 3))
    expected = Rotation.from_rotvec(rotvecs).as_matrix()
    assert np.abs(geometry.axis_angle_to_matrix(rotvecs) - expected).max() < 1e-12
    assert np.abs(tensors.axis_angle_to_matrix(torch.from_numpy(rotvecs)).numpy()
                  - expected).max() < 1e-12
    assert np.allclose(geometry.axis_angle_to_matrix(np.zeros(3)), np.eye(3))
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    tensors.axis_angle_to_matrix(zero).sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_projection_numpy_and_torch_agree_and_points_behind_are_nan():
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    w2c = np.eye(4)
    w2c[:3, :3] = Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix()
    w2c[:3, 3] = [0.01, -0.02, 0.6]
    points = np.random.default_rng(1).uniform(-0.1, 0.1, (50, 3))
    pixels = geometry.project(points, K, w2c)
    camera = geometry.to_camera(points, w2c)
    assert np.allclose(pixels, tensors.project(torch.from_numpy(camera),
                                               torch.from_numpy(K)).numpy())
    assert np.allclose(pixels[:, 0], 500 * camera[:, 0] / camera[:, 2] + 320)
    behind = geometry.project(np.array([[0.0, 0.0, -1.0]]), K, np.eye(4))
    assert np.isnan(behind).all()
