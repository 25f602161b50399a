"""Held-out metrics and losses against known errors (degrees, pixels, uv units)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from network.data import StepSampler, split_by_subject
from network.evaluate import (
    MetricAccumulator,
    constant_predictor,
    mean_maps,
    vertex_uv_from_mesh,
)
from network.losses import MASK_NORMAL, MASK_UV, masked_l1, training_loss
from network.train import lr_factor

SIZE = 32


def linear_uv_batch() -> dict[str, torch.Tensor]:
    """One image: normals all +z, uv = pixel centre / SIZE, every pixel valid."""
    ys, xs = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    uv = torch.stack([(xs + 0.5) / SIZE, (ys + 0.5) / SIZE]).float()[None]
    normal = torch.zeros(1, 3, SIZE, SIZE)
    normal[:, 2] = 1.0
    mask = torch.full((1, SIZE, SIZE), MASK_NORMAL | MASK_UV, dtype=torch.uint8)
    return {"normal": normal, "uv": uv, "mask": mask}


def test_metrics_of_a_known_tilt_and_shift():
    batch = linear_uv_batch()
    tilt = np.deg2rad(20.0)
    normals_pred = torch.zeros_like(batch["normal"])
    normals_pred[:, 0], normals_pred[:, 2] = np.sin(tilt), np.cos(tilt)
    shift_px = 3
    uv_pred = torch.roll(batch["uv"], shifts=shift_px, dims=-1)  # content 3 pixels right
    vertex_uv = (np.stack(np.meshgrid(np.arange(8, 24), np.arange(8, 24)), -1).reshape(-1, 2)
                 + 0.5) / SIZE
    metrics = MetricAccumulator(vertex_uv, threshold=0.25 / SIZE)
    metrics.add(normals_pred, uv_pred, batch)
    row = metrics.summary()
    assert row["normal_angle_mean_deg"] == pytest.approx(20.0, abs=1e-3)
    assert row["normal_angle_median_deg"] == pytest.approx(20.0, abs=1e-3)
    assert row["normal_within_11.25deg_pct"] == 0.0
    assert row["normal_within_22.5deg_pct"] == 100.0
    assert row["vertex_px_error_mean"] == pytest.approx(shift_px, abs=1e-6)
    assert row["vertices_located_pct"] == 100.0
    inner = (batch["uv"][..., shift_px:] - uv_pred[..., shift_px:]).abs().mean()
    assert float(inner) == pytest.approx(shift_px / SIZE / 2, rel=1e-5)  # u off, v exact


def test_constant_mean_predictor_and_mean_maps():
    batch = linear_uv_batch()
    mean_normal, mean_uv = mean_maps([batch])
    assert np.allclose(mean_normal, [0, 0, 1]) and np.allclose(mean_uv, [0.5, 0.5])
    normals, uv = constant_predictor(mean_normal, mean_uv)(torch.zeros(2, 3, 4, 4))
    assert normals.shape == (2, 3, 4, 4) and float(uv[1, 0, 3, 3]) == pytest.approx(0.5)


def test_losses_ignore_invalid_pixels():
    batch = linear_uv_batch()
    batch["mask"][:, :, : SIZE // 2] = MASK_UV  # left half: normals invalid
    prediction = batch["normal"].clone()
    prediction[:, :, :, : SIZE // 2] = 5.0  # garbage only where invalid
    valid = (batch["mask"] & MASK_NORMAL) != 0
    assert float(masked_l1(prediction, batch["normal"], valid)) == 0.0
    uv_pred = batch["uv"] + 0.01
    losses = training_loss(prediction, uv_pred, batch, weight_normal=0.1, weight_uv=10.0)
    assert float(losses["uv"]) == pytest.approx(0.01, rel=1e-4)
    assert float(losses["loss"]) == pytest.approx(10.0 * 0.01, rel=1e-4)


def test_split_is_by_subject_and_stable():
    keys = [f"d/s{i}" for i in range(10) for _ in range(3)]
    train, held_out = split_by_subject(keys, 0.2, seed=0)
    assert len(held_out) == 2 and not set(train) & set(held_out)
    assert set(train) | set(held_out) == set(keys)
    _, held_out_more = split_by_subject(keys + ["d/s99"], 0.2, seed=0)
    assert set(held_out) & set(held_out_more)  # adding a subject keeps earlier choices


def test_step_sampler_resumes_the_same_stream():
    full = list(StepSampler(size=7, batch_size=3, seed=1, start_step=0, steps=6))
    resumed = list(StepSampler(size=7, batch_size=3, seed=1, start_step=4, steps=6))
    assert resumed == full[12:] and len(full) == 18
    assert sorted(p for p, epoch in full if epoch == 0) == list(range(7))


def test_learning_rate_warms_up_then_decays_to_zero():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)


def test_vertex_uv_from_mesh_takes_a_corner_uv_per_vertex():
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    ft = np.array([[0, 1, 2], [4, 1, 3]])  # vertex 2 sits on a seam: uv 2 and uv 4
    vt = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    vertex_uv = vertex_uv_from_mesh(faces, ft, vt, vertex_count=5)
    assert np.allclose(vertex_uv[:4], [[0, 0], [1, 0], [0, 1], [1, 1]])
    assert np.isnan(vertex_uv[4]).all()
