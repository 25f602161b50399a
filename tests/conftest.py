"""Shared fixtures: the FLAME-format stand-in, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from flame import FlameModel, load_model
from flame.standin import build_standin


@pytest.fixture(scope="session")
def standin_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the stand-in's ``generic_model.pkl`` (with its side files)."""
    return build_standin(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="session")
def standin_model(standin_model_path: Path) -> FlameModel:
    return load_model(standin_model_path)
