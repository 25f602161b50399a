"""Train the DINO normal and uv predictor on every data set's shards."""

from __future__ import annotations

import time

import luigi

from flame import load_model
from network.config import ModelConfig, TrainConfig
from network.train import train as train_network
from network.uv_mirror import UvMirror
from pipeline.config import build, config_hash, section_values
from pipeline.config import train as train_section
from pipeline.keyed import KeyedJsonTarget
from pipeline.lock import hold_build_lock
from pipeline.paths import out_dir, shards_dir, train_dir
from pipeline.tasks_data import PrepareModel
from pipeline.tasks_render import VerifyShards
from shards.manifest import list_shards


def train_config() -> TrainConfig:
    """The ``[train]`` section as the network package's config."""
    settings = train_section()
    return TrainConfig(
        model=ModelConfig(backbone=settings.backbone,
                          backbone_weights=settings.dino_checkpoint or None,
                          resolution=settings.resolution),
        steps=settings.steps, batch_size=settings.batch_size, seed=build().seed,
        val_fraction=settings.holdout_fraction,
        warmup_steps=max(1, min(100, settings.steps // 10)),
        checkpoint_every=max(1, min(250, settings.steps // 4)))


class Train(luigi.Task):
    """``<out>/train/<key>/`` (checkpoints, curves, split, held-out table) and ``result.json``."""

    def requires(self) -> dict:
        return {"model": PrepareModel(),
                "shards": [VerifyShards(dataset=d) for d in build().datasets]}

    def output(self) -> KeyedJsonTarget:
        upstream = [VerifyShards(dataset=d).output().key for d in build().datasets]
        key = config_hash(section_values(train_section), build().seed, upstream)
        return KeyedJsonTarget(out_dir() / "train" / "result.json", key)

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        model = load_model(self.input()["model"].read()["model_path"])
        shard_paths = [p for d in build().datasets for p in list_shards(shards_dir(d))]
        vertex_uv = model.vertex_uv()
        mirror = UvMirror.from_mesh(model.v_template, model.faces, model.vt, model.ft)
        run_dir = train_dir(self.output().key)
        result = train_network(train_config(), shard_paths, run_dir,
                               device=train_section().device, vertex_uv=vertex_uv,
                               uv_mirror=mirror)
        self.output().write({
            "run_dir": str(run_dir), "checkpoint": str(result.checkpoint),
            "config_hash": result.config_hash, "table": result.table,
            "split": result.split, "curves_png": str(result.curves_png),
            "curves_csv": str(result.curves_csv), "seconds": time.perf_counter() - start})

