"""The torch FLAME layer against an independent numpy reference (``flame.reference``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from flame import FLAME, FlameModel
from flame.reference import forward_numpy


@pytest.fixture(scope="module")
def posed_model(standin_model: FlameModel) -> FlameModel:
    """The stand-in with random pose correctives, so the reference checks them too."""
    rng = np.random.default_rng(1)
    posedirs = rng.normal(scale=1e-3, size=standin_model.posedirs.shape)
    return dataclasses.replace(standin_model, posedirs=posedirs)


def test_layer_matches_numpy_reference_to_1e5_m(posed_model):
    rng = np.random.default_rng(2)
    layer = FLAME(posed_model, dtype=torch.float64)
    for _ in range(2):
        shape, expr = rng.normal(size=30), rng.normal(size=12)
        pose, transl = rng.normal(scale=0.2, size=(5, 3)), rng.normal(scale=0.05, size=3)
        expected = forward_numpy(posed_model, shape, expr, pose, transl)
        out = layer(torch.tensor(shape)[None], torch.tensor(expr)[None], torch.tensor(pose)[None],
                    torch.tensor(transl)[None])
        assert np.abs(out.vertices[0].numpy() - expected).max() < 1e-5
    layer32 = FLAME(posed_model)
    out32 = layer32(torch.tensor(shape, dtype=torch.float32)[None],
                    torch.tensor(expr, dtype=torch.float32)[None],
                    torch.tensor(pose, dtype=torch.float32)[None],
                    torch.tensor(transl, dtype=torch.float32)[None])
    assert np.abs(out32.vertices[0].numpy() - expected).max() < 1e-5


def test_zero_parameters_give_the_template(standin_model):
    out = FLAME(standin_model, dtype=torch.float64)(pose=torch.zeros(2, 5, 3))
    np.testing.assert_allclose(out.vertices[1].numpy(), standin_model.v_template, atol=1e-12)


def test_jaw_rotation_moves_only_jaw_weighted_vertices(standin_model):
    pose = torch.zeros(1, 5, 3, dtype=torch.float64)
    pose[0, 2, 0] = 0.3
    out = FLAME(standin_model, dtype=torch.float64)(pose=pose)
    moved = np.linalg.norm(out.vertices[0].numpy() - standin_model.v_template, axis=1) > 1e-9
    jaw_weighted = standin_model.weights[:, 2] > 0
    assert moved.any()
    assert not (moved & ~jaw_weighted).any()


def test_gradcheck_float64(standin_model):
    small = dataclasses.replace(
        standin_model,
        posedirs=np.random.default_rng(3).normal(scale=1e-3, size=standin_model.posedirs.shape),
    )
    layer = FLAME(small, dtype=torch.float64)
    index = torch.arange(0, small.n_vertices, 997)

    def f(shape, expr, pose, transl):
        return layer(shape, expr, pose, transl).vertices[:, index]

    generator = torch.Generator().manual_seed(0)
    args = (torch.randn(1, 4, dtype=torch.float64, generator=generator),
            torch.randn(1, 3, dtype=torch.float64, generator=generator),
            0.3 * torch.randn(1, 5, 3, dtype=torch.float64, generator=generator),
            torch.randn(1, 3, dtype=torch.float64, generator=generator))
    for a in args:
        a.requires_grad_(True)
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6)


def test_landmarks_follow_the_embedding(standin_model):
    out = FLAME(standin_model, dtype=torch.float64)(shape=torch.ones(1, 10, dtype=torch.float64))
    corners = out.vertices[0].numpy()[standin_model.faces[standin_model.lmk_faces]]
    expected = np.einsum("lkc,lk->lc", corners, standin_model.lmk_bary)
    np.testing.assert_allclose(out.landmarks[0].numpy(), expected, atol=1e-12)


def test_too_many_coefficients_is_an_error(standin_model):
    with pytest.raises(ValueError, match="shape has 301"):
        FLAME(standin_model)(shape=torch.zeros(1, 301))
