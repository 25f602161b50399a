"""Where each stage writes, under the build's output directory (see DESIGN.md's layout)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import build


def out_dir() -> Path:
    return Path(build().out_dir)


def model_dir() -> Path:
    return out_dir() / "model"


def raw_dir(dataset: str) -> Path:
    return out_dir() / "raw" / dataset


def truth_dir(dataset: str) -> Path:
    return out_dir() / "truth" / dataset


def registration_dir(dataset: str) -> Path:
    return out_dir() / "registration" / dataset


def shards_dir(dataset: str) -> Path:
    return out_dir() / "shards" / dataset


def train_dir(key: str) -> Path:
    return out_dir() / "train" / key


def fitting_dir(key: str) -> Path:
    return out_dir() / "fitting" / key


def report_dir() -> Path:
    return out_dir() / "report"
