"""Training checkpoints: written atomically, found by step, checked against the run hash.

A checkpoint (``step-00000100.pt``, loadable with ``torch.load(weights_only=True)``) holds:
'model', 'optimizer', 'scheduler' state dicts, 'step', 'rng' (torch, numpy, python states),
'config' (``TrainConfig.to_dict()``), 'config_hash' (of config, uv mirror and 'data_key'),
'data_key', 'backbone_config', 'uv_mirror'
((G, G, 2) tensor or None) and 'curves' (rows so far).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atomicfile import write_atomic

CHECKPOINT_PATTERN = re.compile(r"^step-(\d{8})\.pt$")
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "step", "rng", "config", "config_hash",
                   "data_key", "backbone_config", "uv_mirror", "curves")


class CheckpointError(ValueError):
    """A checkpoint cannot be read or belongs to another configuration."""


def checkpoint_path(folder: Path, step: int) -> Path:
    """Path of the checkpoint after ``step`` optimisation steps."""
    return Path(folder) / f"step-{step:08d}.pt"


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in ``folder``, oldest step first."""
    if not Path(folder).is_dir():
        return []
    found = [path for path in Path(folder).iterdir() if CHECKPOINT_PATTERN.match(path.name)]
    return sorted(found, key=lambda path: path.name)


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write ``state`` as the checkpoint of ``step`` atomically; keep the newest ``keep``."""
    path = checkpoint_path(folder, step)
    write_atomic(path, lambda tmp: torch.save(state, tmp))
    for old in list_checkpoints(folder)[:-max(keep, 1)]:
        old.unlink()
    return path


def load_checkpoint(path: Path, expected_hash: str | None = None) -> dict[str, Any]:
    """Read a checkpoint; raise CheckpointError naming the file when unreadable or when its
    config hash differs from ``expected_hash``."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for corrupt or foreign files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckpointError(f"{path}: not a readable network checkpoint "
                              f"({type(error).__name__}: {reason})") from error
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a network checkpoint (holds a {type(state)})")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a network checkpoint of this version "
                              f"(missing {missing})")
    if expected_hash is not None and state["config_hash"] != expected_hash:
        raise CheckpointError(f"{path}: checkpoint is from config {state['config_hash']}, "
                              f"expected {expected_hash}")
    return state


def rng_state() -> dict[str, Any]:
    """torch, numpy and python global RNG states in weights_only-loadable types."""
    # The legacy global numpy RNG is saved because third-party code may draw from it.
    name, keys, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {"torch": torch.get_rng_state(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
            "python": random.getstate()}


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``rng_state``."""
    torch.set_rng_state(state["torch"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    random.setstate(state["python"])
