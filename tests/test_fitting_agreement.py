"""Map terms weighed by their agreement with the landmarks: good maps kept, wrong maps
dropped, the fit always finishes with landmarks; ``map_agreement=False`` refuses as before."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fitting import FaceFitter, FitError, FitSettings, aligned_error
from fitting.agreement import REGIONS, region_weight, vertex_regions
from fitting.evaluate import sample_inputs
from synthetic.fit_sample import synthetic_sample

STEPS = 40


@pytest.fixture(scope="module")
def scene(standin_model, renderer):
    return synthetic_sample(standin_model, np.random.default_rng(11), renderer)


@pytest.fixture(scope="module")
def inputs(standin_model, scene):
    """The oracle maps with the exact 68 landmarks."""
    sample, truth = scene
    oracle = sample_inputs(sample, "oracle", standin_model, truth)
    landmarks = sample_inputs(sample, "landmarks", standin_model, truth).landmarks_px
    return dataclasses.replace(oracle, landmarks_px=landmarks)


def test_region_weight_ramps_between_the_agreement_bounds():
    assert region_weight(2, 5) == 0.0  # too few samples
    assert region_weight(20, 100) == 0.0 and region_weight(90, 100) == 1.0
    assert 0.0 < region_weight(45, 100) < 1.0


def test_every_vertex_has_one_region(standin_model):
    regions = vertex_regions(standin_model.masks, standin_model.n_vertices)
    assert regions.min() >= 0 and regions.max() == len(REGIONS) - 1
    nose = np.asarray(standin_model.masks["nose"])
    assert (regions[nose] == REGIONS.index("nose")).mean() > 0.9


def test_agreeing_maps_are_used_fully(standin_model, scene, inputs):
    fitter = FaceFitter(standin_model, FitSettings(full_steps=STEPS))
    try:
        result = fitter.fit(inputs)
    finally:
        fitter.close()
    terms = result.terms
    assert terms["decision"].startswith("map terms weighed")
    assert terms["uv"]["used"] and terms["uv"]["agreement"]["weight"] > 0.9
    assert terms["normal"]["used"] and terms["normal"]["agreement"]["weight"] > 0.9
    error = aligned_error(result.verts_camera, scene[1].posed_m, standin_model.faces,
                          standin_model.lmk_faces, standin_model.lmk_bary,
                          standin_model.masks["face"])
    assert error.mean_mm < 2.0


def test_wrong_maps_are_dropped_and_the_fit_follows_the_landmarks(standin_model, inputs):
    # Maps of another head: the uv and normal maps mirrored left-right.
    wrong = dataclasses.replace(inputs, uv=inputs.uv[:, ::-1].copy(),
                                uv_valid=inputs.uv_valid[:, ::-1].copy(),
                                normal_model=-inputs.normal_model[::-1].copy())
    fitter = FaceFitter(standin_model, FitSettings(full_steps=STEPS))
    alone = FaceFitter(standin_model, FitSettings(full_steps=STEPS))
    try:
        result = fitter.fit(wrong)
        reference = alone.fit(dataclasses.replace(inputs, uv=None, normal_model=None))
    finally:
        fitter.close()
        alone.close()
    assert result.terms["normal"]["agreement"]["weight"] < 0.2
    assert result.landmark_error_px <= 1.2 * reference.landmark_error_px + 0.5
    assert set(result.terms) >= {"landmarks", "uv", "normal", "decision", "median_residual_px"}


def test_strict_refuses_what_the_default_finishes(standin_model, inputs):
    strict = FitSettings(full_steps=STEPS, max_residual_px=0.01, map_agreement=False)
    fitter = FaceFitter(standin_model, strict)
    try:
        with pytest.raises(FitError, match="did not converge"):
            fitter.fit(inputs)
    finally:
        fitter.close()
    fitter = FaceFitter(standin_model, strict.replace(map_agreement=True))
    try:
        result = fitter.fit(inputs)
    finally:
        fitter.close()
    assert not result.converged and result.terms["decision"]
