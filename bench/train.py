"""Training speed against shard-loader speed, in one run.

Writes analytic sphere samples into real HDF5 shards (``--shard-size`` pixels, as rendered),
then measures (1) optimisation steps/s of the default ``TrainConfig`` model at its default
resolution on pre-loaded batches, and (2) samples/s of the training loader (ShardDataset ->
resize -> augmentation, ``--workers`` processes) on its own. The loader should deliver at
least 10x the samples the steps consume.

    .venv/bin/python bench/train.py [--shard-size 512] [--samples 64] [--steps 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from network.config import TrainConfig
from network.data import StepSampler, TrainingSamples, collate
from network.losses import training_loss
from network.model import NormalUvPredictor
from network.train import build_optimiser
from network.uv_mirror import UvMirror
from shards import ShardDataset, ShardInfo, write_shard
from synthetic.sphere_faces import SphereFaces, to_shard_sample


def write_bench_shards(folder: Path, samples: int, size: int, per_shard: int = 16) -> list[Path]:
    spheres = SphereFaces(subjects=max(2, samples // 8), views=8, size=size)
    paths = []
    for start in range(0, samples, per_shard):
        indices = range(start, min(start + per_shard, samples))
        path = folder / f"shard-{start // per_shard:05d}.h5"
        write_shard(path, (to_shard_sample(spheres[i]) for i in indices), len(indices),
                    ShardInfo(config_hash="bench"))
        paths.append(path)
    return paths


def measure_steps(config: TrainConfig, batches: list[dict], steps: int) -> float:
    torch.manual_seed(0)
    model = NormalUvPredictor(config.model)
    optimiser, scheduler = build_optimiser(model, config)
    start = 0.0
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            start = time.perf_counter()
        batch = batches[step % len(batches)]
        normals, uv = model(batch["rgb"])
        loss = training_loss(normals, uv, batch, config.weight_normal, config.weight_uv)["loss"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
    return steps / (time.perf_counter() - start)


def measure_loader(samples: TrainingSamples, config: TrainConfig, workers: int,
                   batches: int) -> tuple[float, list[dict]]:
    loader = DataLoader(samples, batch_size=config.batch_size, collate_fn=collate,
                        num_workers=workers,
                        sampler=StepSampler(len(samples), config.batch_size, 0, 0, batches + 1))
    loaded, start = [], 0.0
    for index, batch in enumerate(loader):
        if index == 0:  # worker start-up excluded
            start = time.perf_counter()
        else:
            loaded.append(batch)
    return len(loaded) * config.batch_size / (time.perf_counter() - start), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard-size", type=int, default=512)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="DINOv2 backbone is RANDOMLY")
    config = TrainConfig()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_bench_shards(Path(folder), args.samples, args.shard_size)
        samples = TrainingSamples(ShardDataset(paths), range(args.samples), config, True,
                                  UvMirror.symmetric_u())
        loader_rate, batches = measure_loader(samples, config, args.workers,
                                              args.samples // config.batch_size - 1)
    step_rate = measure_steps(config, batches, args.steps)
    needed = step_rate * config.batch_size
    model = config.model
    print(f"default TrainConfig: backbone {model.backbone}, {model.resolution}x{model.resolution}"
          f", batch {config.batch_size}; shards rendered at {args.shard_size}x{args.shard_size}"
          f"; torch threads {torch.get_num_threads()}")
    print(f"| measure | value |\n| --- | --- |\n"
          f"| training steps/s | {step_rate:.2f} |\n"
          f"| samples/s the steps consume | {needed:.1f} |\n"
          f"| loader samples/s ({args.workers} workers) | {loader_rate:.1f} |\n"
          f"| loader / need | {loader_rate / needed:.1f}x |")


if __name__ == "__main__":
    main()
