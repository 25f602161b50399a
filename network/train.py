"""Training run: split by subject, train with resumable checkpoints, evaluate held out.

``train(config, shard_paths, out_dir)`` is the one call the pipeline makes. It writes::

    out_dir/split.json            subjects (and sample counts) of each side of the split
    out_dir/checkpoints/step-*.pt atomic checkpoints; the last is the trained model
    out_dir/curves.csv, curves.png
    out_dir/eval.json             held-out table: the model and the constant mean baseline

Calling it again after a kill resumes from the newest checkpoint and ends with the same
weights as an unbroken run; calling it on a finished run returns the stored result.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from atomicfile import write_json
from network.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from network.config import TrainConfig, config_hash
from network.curves import plot_curves, write_curves_csv
from network.data import StepSampler, TrainingSamples, collate, split_by_subject, subject_keys
from network.evaluate import constant_predictor, evaluate, mean_maps
from network.losses import training_loss
from network.model import NormalUvPredictor
from network.uv_mirror import UvMirror

log = logging.getLogger(__name__)

StepCallback = Callable[[int, dict[str, float | None]], None]


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced.

    Attributes
    ----------
    out_dir : the run folder
    config_hash : key of the config (and uv mirror map) the run used
    checkpoint : the final checkpoint (the trained model for ``python -m network predict``)
    table : {'model': metrics row, 'mean_baseline': metrics row} on held-out subjects
    split : contents of split.json
    """

    out_dir: Path
    config_hash: str
    checkpoint: Path
    table: dict[str, dict[str, float | int | None]]
    split: dict[str, Any]

    @property
    def curves_csv(self) -> Path:
        return self.out_dir / "curves.csv"

    @property
    def curves_png(self) -> Path:
        return self.out_dir / "curves.png"


def train(config: TrainConfig, shard_paths: Sequence[Path], out_dir: Path, device: str = "cpu",
          vertex_uv: np.ndarray | None = None, uv_mirror: UvMirror | None = None,
          progress: bool = True, on_step: StepCallback | None = None) -> TrainResult:
    """Train on HDF5 shards (``shards.ShardDataset``); see ``train_on_dataset``.

    Subjects are read from the shards' small per-sample fields (no map is decoded); the
    shards' names and sizes are folded into the run's hash.
    """
    from shards import ShardDataset, ShardReader  # here: the network package works without it

    paths = [Path(path) for path in shard_paths]
    keys = []
    for path in paths:
        with ShardReader(path) as reader:
            for index in range(len(reader)):
                ids = reader.read_sample(index, maps=())
                keys.append(f"{ids['dataset']}/{ids['subject']}")
    data_key = ",".join(f"{path.name}:{path.stat().st_size}" for path in paths)
    return train_on_dataset(ShardDataset(paths), config, out_dir, device, vertex_uv, uv_mirror,
                            progress, on_step, keys, data_key)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def build_optimiser(model: NormalUvPredictor, config: TrainConfig
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with a head and a backbone learning rate, cosine schedule with warm-up."""
    groups = [{"params": list(model.backbone.parameters()), "lr": config.backbone_lr()},
              {"params": model.head_parameters(), "lr": config.lr_head}]
    optimiser = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: lr_factor(step, config.warmup_steps, config.steps))
    return optimiser, scheduler


def _to_device(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {name: value.to(device) if isinstance(value, torch.Tensor) else value
            for name, value in batch.items()}


def _held_out_loss(model: NormalUvPredictor, loader: DataLoader, batches: int,
                   config: TrainConfig, device: str) -> float:
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for index, batch in enumerate(loader):
            if index >= batches:
                break
            batch = _to_device(batch, device)
            normals, uv = model(batch["rgb"])
            total += float(training_loss(normals, uv, batch, config.weight_normal,
                                         config.weight_uv)["loss"])
            count += 1
    model.train()
    return total / max(count, 1)


def _subset_positions(size: int, limit: int | None, seed: int) -> list[int]:
    if limit is None or limit >= size:
        return list(range(size))
    return sorted(np.random.default_rng(seed).permutation(size)[:limit].tolist())


def _finished_result(out_dir: Path, run_hash: str) -> TrainResult | None:
    eval_path = out_dir / "eval.json"
    if not eval_path.is_file():
        return None
    stored = json.loads(eval_path.read_text())
    if stored.get("config_hash") != run_hash:
        raise CheckpointError(f"{eval_path}: run of config {stored.get('config_hash')}, not "
                              f"{run_hash}; use another out_dir or delete this one")
    split = json.loads((out_dir / "split.json").read_text())
    return TrainResult(out_dir, run_hash, out_dir / stored["checkpoint"], stored["table"], split)


def train_on_dataset(dataset: Dataset, config: TrainConfig, out_dir: Path, device: str = "cpu",
                     vertex_uv: np.ndarray | None = None, uv_mirror: UvMirror | None = None,
                     progress: bool = True, on_step: StepCallback | None = None,
                     sample_subjects: Sequence[str] | None = None,
                     data_key: str = "") -> TrainResult:
    """Split ``dataset`` by subject, train, evaluate on held-out subjects, write ``out_dir``.

    Parameters
    ----------
    dataset : any Dataset of the shard item contract (see ``network.data``)
    config : the run
    out_dir : run folder (created); resumed when it holds checkpoints of the same config
    device : 'cpu' or 'cuda' (or 'cuda:N')
    vertex_uv : (V, 2) uv of the model's vertices for the vertex position error, or None
    uv_mirror : uv symmetry map enabling horizontal flips, or None (no flip)
    progress : show a tqdm bar
    on_step : called after each step with (step, curve row)
    sample_subjects : 'dataset/subject' of each item when known (else read from the items)
    data_key : identity of the data, folded into the run hash with the uv mirror's digest
    """
    out_dir = Path(out_dir)
    mirror_key = uv_mirror.digest() if uv_mirror is not None else ""
    run_hash = config_hash(config, f"{mirror_key}|{data_key}")
    finished = _finished_result(out_dir, run_hash)
    if finished is not None:
        return finished

    keys = list(sample_subjects) if sample_subjects is not None else subject_keys(dataset)
    if len(keys) != len(dataset):
        raise ValueError(f"{len(keys)} subject keys for {len(dataset)} samples")
    train_subjects, val_subjects = split_by_subject(keys, config.val_fraction, config.seed)
    val_set = set(val_subjects)
    train_indices = [i for i, key in enumerate(keys) if key not in val_set]
    val_indices = [i for i, key in enumerate(keys) if key in val_set]
    split = {"config_hash": run_hash, "train_subjects": train_subjects,
             "val_subjects": val_subjects, "train_samples": len(train_indices),
             "val_samples": len(val_indices)}
    write_json(out_dir / "split.json", split)
    log.info("training on %d samples of %d subjects; holding out %d samples of %d subjects",
             len(train_indices), len(train_subjects), len(val_indices), len(val_subjects))

    train_samples = TrainingSamples(dataset, train_indices, config, True, uv_mirror)
    val_samples = TrainingSamples(dataset, val_indices, config, False)
    checkpoint = _run_steps(train_samples, val_samples, config, (run_hash, data_key), out_dir,
                            device, uv_mirror, progress, on_step)

    state = load_checkpoint(checkpoint, run_hash)
    model = NormalUvPredictor(config.model, state["backbone_config"]).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    table, means = _evaluate_held_out(model, train_indices, dataset, val_samples, config,
                                      vertex_uv, device)
    write_json(out_dir / "eval.json", {
        "config_hash": run_hash, "steps": config.steps,
        "checkpoint": str(checkpoint.relative_to(out_dir)), "table": table,
        "baseline_means": means, "split": {k: split[k] for k in
                                           ("train_samples", "val_samples")},
        "vertex_uv_threshold": config.uv_match_threshold})
    return TrainResult(out_dir, run_hash, checkpoint, table, split)


def _evaluate_held_out(model: NormalUvPredictor, train_indices: list[int], dataset: Dataset,
                       val_samples: TrainingSamples, config: TrainConfig,
                       vertex_uv: np.ndarray | None, device: str
                       ) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    plain_train = TrainingSamples(dataset, train_indices, config, False)
    baseline_positions = _subset_positions(len(plain_train), config.baseline_samples,
                                           config.seed)
    loader_args = {"batch_size": config.batch_size, "collate_fn": collate,
                   "num_workers": config.num_workers}
    mean_normal, mean_uv = mean_maps(DataLoader(
        torch.utils.data.Subset(plain_train, baseline_positions), **loader_args))
    eval_positions = _subset_positions(len(val_samples), config.eval_max_samples, config.seed)
    val_loader = DataLoader(torch.utils.data.Subset(val_samples, eval_positions), **loader_args)
    table = {
        "model": evaluate(model, val_loader, vertex_uv, config.uv_match_threshold, device),
        "mean_baseline": evaluate(constant_predictor(mean_normal, mean_uv), val_loader,
                                  vertex_uv, config.uv_match_threshold, device),
    }
    return table, {"normal": mean_normal.tolist(), "uv": mean_uv.tolist()}


def _run_steps(train_samples: TrainingSamples, val_samples: TrainingSamples,
               config: TrainConfig, identity: tuple[str, str], out_dir: Path, device: str,
               uv_mirror: UvMirror | None, progress: bool,
               on_step: StepCallback | None) -> Path:
    """Optimise from the newest checkpoint (or from scratch) to ``config.steps``; return the
    final checkpoint's path. ``identity`` is (run hash, data key)."""
    run_hash, data_key = identity
    folder = out_dir / "checkpoints"
    torch.manual_seed(config.seed)
    model = NormalUvPredictor(config.model).to(device)
    optimiser, scheduler = build_optimiser(model, config)
    step, curves = 0, []
    existing = list_checkpoints(folder)
    if existing:
        state = load_checkpoint(existing[-1], run_hash)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng_state(state["rng"])
        step, curves = state["step"], list(state["curves"])
        log.info("resuming %s from step %d", existing[-1], step)
        if step >= config.steps:
            return existing[-1]

    workers = config.num_workers
    train_loader = DataLoader(
        train_samples, batch_size=config.batch_size, collate_fn=collate, num_workers=workers,
        sampler=StepSampler(len(train_samples), config.batch_size, config.seed, step,
                            config.steps), drop_last=False)
    val_loader = DataLoader(val_samples, batch_size=config.batch_size, collate_fn=collate,
                            num_workers=workers, persistent_workers=workers > 0)
    checkpoint = existing[-1] if existing else None
    model.train()
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train",
               dynamic_ncols=True)
    for batch in train_loader:
        batch = _to_device(batch, device)
        normals, uv = model(batch["rgb"])
        losses = training_loss(normals, uv, batch, config.weight_normal, config.weight_uv)
        optimiser.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimiser.step()
        row: dict[str, float | None] = {
            "step": step + 1, "lr_head": optimiser.param_groups[1]["lr"],
            "loss": losses["loss"].item(), "loss_normal": losses["normal"].item(),
            "loss_uv": losses["uv"].item(), "val_loss": None}
        scheduler.step()
        step += 1
        if config.val_every and config.val_batches and (
                step % config.val_every == 0 or step == config.steps):
            row["val_loss"] = _held_out_loss(model, val_loader, config.val_batches, config,
                                             device)
        curves.append(row)
        bar.update(1)
        bar.set_postfix(loss=f"{row['loss']:.4f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            state = {"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                     "scheduler": scheduler.state_dict(), "step": step, "rng": rng_state(),
                     "config": config.to_dict(), "config_hash": run_hash, "data_key": data_key,
                     "backbone_config": model.backbone_config_dict(),
                     "uv_mirror": (torch.from_numpy(uv_mirror.grid)
                                   if uv_mirror is not None else None),
                     "curves": curves}
            checkpoint = save_checkpoint(folder, step, state, config.keep_checkpoints)
            write_curves_csv(out_dir / "curves.csv", curves)
            plot_curves(out_dir / "curves.png", curves)
        if on_step is not None:
            on_step(step, row)
    bar.close()
    return checkpoint
