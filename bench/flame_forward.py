"""Batched FLAME forward time: the torch layer against a plain numpy loop, in the same run.

    python bench/flame_forward.py [--model PATH] [--repeats 3]

Uses the stand-in (built into a temporary folder) unless --model names a FLAME file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from flame import FLAME, FlameModel, load_model
from flame.reference import forward_numpy
from flame.standin import build_standin


def numpy_forward(model: FlameModel, shape: np.ndarray, expr: np.ndarray,
                  pose: np.ndarray) -> np.ndarray:
    """The numpy reference over a batch: shape (B, s), expr (B, e), pose (B, J, 3) -> (B, V, 3)."""
    return np.stack([forward_numpy(model, shape[b], expr[b], pose[b]) for b in range(len(shape))])


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(args.model or build_standin(tmp))
    layer = FLAME(model)
    rng = np.random.default_rng(0)
    print(f"model: {model.n_vertices} vertices, torch threads {torch.get_num_threads()}")
    print(f"{'batch':>6} {'torch ms':>10} {'numpy ms':>10} {'speed-up':>9} {'max diff m':>11}")
    for batch in (1, 64, 512):
        shape = rng.normal(size=(batch, 50))
        expr = rng.normal(size=(batch, 20))
        pose = rng.normal(scale=0.1, size=(batch, model.n_joints, 3))
        args_t = [torch.tensor(a, dtype=torch.float32) for a in (shape, expr, pose)]
        with torch.no_grad():
            t_torch = best_of(lambda: layer(*args_t), args.repeats)  # noqa: B023
            result = layer(*args_t).vertices.numpy()
        ref = min(batch, 64)
        ref_args = (shape[:ref], expr[:ref], pose[:ref])
        t_numpy = best_of(lambda: numpy_forward(model, *ref_args), 1) * batch / ref  # noqa: B023
        diff = np.abs(numpy_forward(model, shape[:2], expr[:2], pose[:2]) - result[:2]).max()
        print(f"{batch:>6} {t_torch * 1e3:>10.1f} {t_numpy * 1e3:>10.1f} "
              f"{t_numpy / t_torch:>8.1f}x {diff:>11.1e}")
    print("numpy timed on min(batch, 64) samples and scaled linearly to the batch")


if __name__ == "__main__":
    main()
