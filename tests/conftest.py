"""Shared fixtures: the FLAME-format stand-in, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from flame import FlameModel, load_model
from flame.standin import build_standin
from rendering import Renderer


@pytest.fixture(scope="module")
def renderer(request: pytest.FixtureRequest) -> Renderer:
    """An EGL renderer of the test module's ``WIDTH`` x ``HEIGHT`` (or ``SIZE`` x ``SIZE``)."""
    size = getattr(request.module, "SIZE", 128)
    r = Renderer(getattr(request.module, "WIDTH", size), getattr(request.module, "HEIGHT", size))
    yield r
    r.release()


@pytest.fixture(scope="session")
def standin_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the stand-in's ``generic_model.pkl`` (with its side files)."""
    return build_standin(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="session")
def standin_model(standin_model_path: Path) -> FlameModel:
    return load_model(standin_model_path)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, barely trained network checkpoint (32 px, 2 steps): it cannot locate a face."""
    import warnings

    import torch

    from network.config import ModelConfig, TrainConfig
    from network.train import train_on_dataset
    from synthetic.sphere_faces import SphereFaces

    run = TrainConfig(
        model=ModelConfig(resolution=32, patch_size=8, head_dim=32, head_heads=2,
                          head_blocks=1, decoder_channels=(16, 16, 8)),
        steps=2, batch_size=2, warmup_steps=1, checkpoint_every=2, val_every=0, num_workers=0,
        eval_max_samples=2, baseline_samples=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = train_on_dataset(SphereFaces(2, 2, 32), run,
                                      tmp_path_factory.mktemp("tiny_run"), progress=False)
    finally:
        torch.set_num_threads(threads)
    return result.checkpoint
