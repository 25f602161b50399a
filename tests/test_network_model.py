"""Model construction: output shapes and ranges, local DINOv2 weights, learning rates."""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import Dinov2Config, Dinov2Model

from network.config import ModelConfig, TrainConfig
from network.model import BackboneWeightsError, NormalUvPredictor

SMALL = dict(resolution=32, patch_size=8, head_dim=32, head_heads=2,
             decoder_channels=(16, 8, 8))


def test_outputs_are_unit_normals_and_uv_in_range():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = NormalUvPredictor(ModelConfig(**SMALL))
    assert any("RANDOMLY INITIALISED" in str(w.message) for w in caught)
    with torch.no_grad():
        normals, uv = model(torch.rand(2, 3, 32, 32))
    assert normals.shape == (2, 3, 32, 32) and uv.shape == (2, 2, 32, 32)
    assert torch.allclose(normals.norm(dim=1), torch.ones(2, 32, 32), atol=1e-5)
    assert float(uv.min()) >= 0.0 and float(uv.max()) <= 1.0
    with pytest.raises(ValueError, match="expected images of 32x32"):
        model(torch.rand(1, 3, 48, 48))


def test_backbone_weights_load_from_a_local_directory(tmp_path):
    saved = Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     patch_size=8, image_size=64))
    saved.save_pretrained(tmp_path / "dinov2")
    config = ModelConfig(**SMALL, backbone_weights=str(tmp_path / "dinov2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no random-init warning
        model = NormalUvPredictor(config)
    expected = saved.state_dict()
    assert all(torch.equal(value, expected[name])
               for name, value in model.backbone.state_dict().items())
    assert model(torch.rand(1, 3, 32, 32))[0].shape == (1, 3, 32, 32)
    assert TrainConfig(model=config).backbone_lr() == 1e-5
    assert TrainConfig(model=ModelConfig(**SMALL)).backbone_lr() == 2e-4
    with pytest.raises(BackboneWeightsError, match="no config.json"):
        NormalUvPredictor(ModelConfig(**SMALL, backbone_weights=str(tmp_path / "missing")))
