"""Augmentation keeps image, maps and camera consistent; flip mirrors normals and uv."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from network.augment import AugmentParams, apply_augmentation, resize_sample
from network.config import ModelConfig, TrainConfig
from network.data import TrainingSamples
from network.losses import MASK_NORMAL, MASK_UV
from network.uv_mirror import UvMirror
from synthetic.sphere_faces import SphereFaces

SIZE = 48


def angles_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.arccos((a * b).sum(0).clamp(-1, 1)))


def test_flip_equals_rendering_the_mirrored_scene():
    spheres, mirrored = SphereFaces(2, 2, SIZE, seed=3), SphereFaces(2, 2, SIZE, seed=3)
    mirrored.yaw_rad[0, 1] = -spheres.yaw_rad[0, 1]
    mirrored.centre_px[0, 1, 0] = (SIZE - 1) - spheres.centre_px[0, 1, 0]
    sample, truth = spheres[1], mirrored[1]
    assert abs(np.rad2deg(spheres.yaw_rad[0, 1])) > 3  # the flip changes the pose

    flipped = apply_augmentation(sample, AugmentParams(flip=True), UvMirror.symmetric_u())

    assert torch.equal(flipped["mask"], truth["mask"])
    valid = (truth["mask"] & MASK_NORMAL) != 0
    assert angles_deg(flipped["normal"], truth["normal"])[valid].max() < 0.05
    uv_valid = (truth["mask"] & MASK_UV) != 0
    assert (flipped["uv"] - truth["uv"]).abs()[:, uv_valid].max() < 1e-4
    assert torch.allclose(flipped["w2c"], truth["w2c"], atol=1e-6)
    assert torch.allclose(flipped["rgb"], torch.flip(sample["rgb"], dims=[-1]), atol=1e-5)
    # Keeping the stored uv (no mirror) would be wrong by far more than the tolerance.
    assert (torch.flip(sample["uv"], dims=[-1]) - truth["uv"]).abs()[:, uv_valid].max() > 0.05


def test_zoom_and_shift_match_rendering_the_moved_sphere():
    scale, shift = 1.25, (3.0, -2.0)
    spheres, moved = SphereFaces(1, 1, SIZE, seed=1), SphereFaces(1, 1, SIZE, seed=1)
    half = (SIZE - 1) / 2
    moved.radius_frac[0] *= scale
    moved.centre_px[0, 0] = scale * (spheres.centre_px[0, 0] - half) + half + np.array(shift)
    sample, truth = spheres[0], moved[0]

    zoomed = apply_augmentation(sample, AugmentParams(scale=scale, shift_px=shift), None)

    both = ((zoomed["mask"] & truth["mask"] & MASK_NORMAL) != 0)
    either = (((zoomed["mask"] | truth["mask"]) & MASK_NORMAL) != 0)
    assert both.sum() / either.sum() > 0.95
    assert angles_deg(zoomed["normal"], truth["normal"])[both].median() < 2.0
    expected_cx = scale * (float(sample["K"][0, 2]) - half) + half + shift[0]
    assert float(zoomed["K"][0, 2]) == pytest.approx(expected_cx, abs=1e-4)
    assert float(zoomed["K"][1, 1]) == pytest.approx(scale * float(sample["K"][1, 1]), rel=1e-6)


def test_uv_mirror_from_symmetric_mesh_with_asymmetric_layout():
    xs, ys = np.linspace(-1, 1, 9), np.linspace(-1, 1, 5)
    grid_x, grid_y = np.meshgrid(xs, ys)
    verts = np.stack([grid_x.ravel(), grid_y.ravel(), 1 - 0.3 * grid_x.ravel() ** 2], axis=-1)
    layout = lambda x, y: np.stack([0.1 + 0.8 * ((x + 1) / 2) ** 1.3,  # noqa: E731
                                    0.2 + 0.6 * (y + 1) / 2], axis=-1)
    vt = layout(verts[:, 0], verts[:, 1])
    faces = []
    for row in range(len(ys) - 1):
        for col in range(len(xs) - 1):
            a, b = row * len(xs) + col, row * len(xs) + col + 1
            c, d = a + len(xs), b + len(xs)
            # Diagonals mirror about x = 0 so the triangulation itself is symmetric.
            faces += [[a, b, d], [a, d, c]] if xs[col] < 0 else [[a, b, c], [b, d, c]]
    faces = np.array(faces)

    mirror = UvMirror.from_mesh(verts, faces, vt, faces, size=257)

    mirrored, defined = mirror(torch.from_numpy(vt.T[:, :, None].astype(np.float32)))
    expected = layout(-verts[:, 0], verts[:, 1])
    assert bool(defined.all())
    # Within one grid cell at the hull edge.
    assert np.abs(mirrored[:, :, 0].numpy().T - expected).max() < 5e-3
    naive = np.stack([1 - vt[:, 0], vt[:, 1]], axis=-1)
    assert np.abs(naive - expected).max() > 0.05  # the layout is really asymmetric


def test_flip_without_mirror_map_is_refused_and_never_drawn():
    sample = SphereFaces(1, 1, SIZE)[0]
    with pytest.raises(ValueError, match="uv mirror"):
        apply_augmentation(sample, AugmentParams(flip=True), None)
    config = TrainConfig(model=ModelConfig(resolution=SIZE), flip_prob=1.0, jitter=0.0,
                         scale_range=(1.0, 1.0), shift_frac=0.0)
    plain = TrainingSamples(SphereFaces(1, 1, SIZE), [0], config, augment=True)[(0, 0)]
    assert torch.equal(plain["normal"], sample["normal"])


def test_augmentation_is_seeded_by_sample_and_epoch():
    config = TrainConfig(model=ModelConfig(resolution=SIZE))
    samples = TrainingSamples(SphereFaces(1, 2, SIZE), [0, 1], config, True,
                              UvMirror.symmetric_u())
    again = TrainingSamples(SphereFaces(1, 2, SIZE), [0, 1], config, True,
                            UvMirror.symmetric_u())
    assert torch.equal(samples[(1, 3)]["rgb"], again[(1, 3)]["rgb"])
    assert not torch.equal(samples[(1, 3)]["rgb"], samples[(1, 4)]["rgb"])


def test_resize_keeps_mask_values_and_scales_intrinsics():
    sample = SphereFaces(1, 1, 64)[0]
    small = resize_sample(sample, 32)
    assert small["rgb"].shape == (3, 32, 32) and small["mask"].shape == (32, 32)
    assert set(small["mask"].unique().tolist()) <= set(sample["mask"].unique().tolist())
    assert float(small["K"][0, 2]) == pytest.approx(31 / 2)
    assert float(small["K"][0, 0]) == pytest.approx(float(sample["K"][0, 0]) / 2)
