"""FLAME fit speed and accuracy: against the number of iterations on synthetic images, or
per fitting term on a build's held-out shards.

    python bench/fitting.py [--model PATH] [--images 4] [--size 256] [--steps 25 50 100 200]
                            [--rows oracle landmarks] [--threads 1]
    python bench/fitting.py --build build [--images 8] [--steps 100] [--threads 1]

With ``--build`` (a finished build folder): the held-out test samples of its newest trained
network (``train/*/split.json``, the subjects the network never saw), fitted once per
variant of the fit (the defaults; each Pixel3DMM term switched alone; all; none) for
the oracle row (ground-truth maps) and the network row (the build's checkpoint), each
measured as the mean face-region distance to the ground truth after the 7-landmark
similarity alignment (mm), posed and neutral.

Each image is the FLAME model itself rendered with known parameters (synthetic.fit_sample), so
the oracle row (fit to the exact uv and normal maps) has no model-span error; the landmarks
row fits the 68 exact projected landmarks only. Prints, per row and number of full-stage
iterations: wall and CPU seconds per image and the posed / neutral error (mm, 7-landmark
similarity alignment, face region). Uses the stand-in (built into a temporary folder) unless
--model names a FLAME file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

# This script is named like the package it measures: drop its own folder from the import
# path (Python puts it first) so that `import fitting` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


TERM_VARIANTS = {
    "default (gate, subset, outliers)": {},
    "no 20 px uv gate": {"uv_gate_px": None},
    "no vertex subset": {"uv_regions": None},
    "no normal outlier rejection": {"normal_outlier": None},
    "with uv visibility": {"uv_visibility": True},
    "with learnt focal / principal point": {"learn_camera": True},
    "all five Pixel3DMM terms": {"uv_visibility": True, "learn_camera": True},
    "none of the five": {"uv_gate_px": None, "uv_regions": None, "normal_outlier": None},
}
"""Fit settings changed from the defaults in each row of the term table."""


def held_out(build: Path, images: int) -> tuple[list[dict], Path]:
    """The first ``images`` held-out samples of the build's newest network, and its
    newest checkpoint."""
    from fitting.evaluate import shard_samples

    splits = sorted(build.glob("train/*/split.json"), key=lambda p: p.stat().st_mtime)
    checkpoints = sorted(splits[-1].parent.glob("checkpoints/step-*.pt")) if splits else []
    if not checkpoints:
        raise SystemExit(f"{build}: no trained network (train/*/checkpoints/step-*.pt)")
    subjects = set(json.loads(splits[-1].read_text())["val_subjects"])
    shards = sorted(build.glob("shards/*/shard-*.h5"))
    return list(shard_samples(shards, subjects, images)), checkpoints[-1]


def truth_of(build: Path, sample: dict):
    """The sample's ground truth in the frame of its cameras (as the Evaluate task reads it)."""
    from fitting import TruthMesh, truth_from_npz
    from rendering.worker import to_sample_frame

    truth = truth_from_npz(build / "truth" / sample["dataset"] / sample["scan"] / "truth.npz")
    registration = build / "registration" / sample["dataset"] / sample["scan"]
    neutral = (None if truth.neutral_m is None
               else to_sample_frame(truth.neutral_m, registration))
    return TruthMesh(to_sample_frame(truth.posed_m, registration), neutral)


def _mean(values: list[float]) -> str:
    return f"{np.mean(values):.2f}" if values else "-"


def term_table(build: Path, images: int, steps: int, threads: int, device: str) -> None:
    """Print the per-term table (markdown) on the build's held-out samples."""
    from fitting import EvalSettings, FaceFitter, FitError, FitSettings
    from fitting.evaluate import measure, sample_inputs
    from fitting.predictor import network_predictor
    from flame import load_model

    model = load_model(build / "model" / "generic_model.pkl")
    samples, checkpoint = held_out(build, images)
    predict_maps = network_predictor(checkpoint, device=device)
    truths = [truth_of(build, sample) for sample in samples]
    predicted = [predict_maps(np.asarray(sample["rgb"])) for sample in samples]
    print(f"{len(samples)} held-out images of {build} "
          f"({np.asarray(samples[0]['rgb']).shape[0]} px), network {checkpoint}, "
          f"{steps} full steps, {threads} thread(s)")
    print("| fit | oracle posed / neutral mm | oracle failed | network posed / neutral mm "
          "| network failed | CPU s/image |")
    print("|---|---|---|---|---|---|")
    for name, changes in TERM_VARIANTS.items():
        settings = FitSettings(full_steps=steps, threads=threads, device=device, **changes)
        fitter = FaceFitter(model, settings)
        cells, cpu = [], []
        for row in ("oracle", "network"):
            posed, neutral, failed = [], [], 0
            for sample, truth, maps in zip(samples, truths, predicted, strict=True):
                try:
                    result = fitter.fit(sample_inputs(sample, row, model, truth, maps))
                except FitError:
                    failed += 1
                    continue
                errors = measure(result, truth, model, EvalSettings())
                posed.append(errors["posed_mean_mm"])
                if errors["neutral_mean_mm"] is not None:
                    neutral.append(errors["neutral_mean_mm"])
                cpu.append(result.cpu_seconds)
            cells += [f"{_mean(posed)} / {_mean(neutral)}", str(failed)]
        fitter.close()
        print(f"| {name} | {' | '.join(cells)} | {np.mean(cpu):.1f} |", flush=True)


def main() -> None:
    from fitting import EvalSettings, FaceFitter, FitSettings
    from fitting.evaluate import measure, sample_inputs
    from flame import load_model
    from flame.standin import build_standin
    from rendering import Renderer
    from synthetic.fit_sample import synthetic_sample

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="FLAME model pickle (default: stand-in)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--rows", nargs="+", default=["oracle", "landmarks"],
                        choices=["oracle", "landmarks"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--build", type=Path,
                        help="per-term table on this build's held-out shards")
    args = parser.parse_args()
    if args.build is not None:
        term_table(args.build, args.images, args.steps[0] if len(args.steps) == 1 else 100,
                   args.threads, args.device)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(args.model or build_standin(Path(tmp)))
    renderer = Renderer(args.size, args.size)
    rng = np.random.default_rng(0)
    scenes = [synthetic_sample(model, rng, renderer, view=i) for i in range(args.images)]
    renderer.release()
    fitter = FaceFitter(model, FitSettings(threads=args.threads, device=args.device))
    fitter.fit(sample_inputs(*scenes[0][:1], "oracle", model, scenes[0][1]))  # warm-up
    print(f"{args.images} images {args.size}x{args.size}, {args.threads} thread(s), "
          f"device {fitter.device}; rigid stage {fitter.settings.rigid_steps} steps")
    print(f"{'row':10} {'steps':>5} {'wall s':>7} {'cpu s':>7} {'posed mm':>9} "
          f"{'(median)':>9} {'neutral mm':>10} {'failed':>6}")
    for row in args.rows:
        for steps in args.steps:
            fitter.settings = fitter.settings.replace(full_steps=steps)
            wall, cpu, posed, posed_median, neutral, failed = [], [], [], [], [], 0
            for sample, truth in scenes:
                try:
                    result = fitter.fit(sample_inputs(sample, row, model, truth))
                except RuntimeError:
                    failed += 1
                    continue
                errors = measure(result, truth, model, EvalSettings())
                wall.append(result.seconds)
                cpu.append(result.cpu_seconds)
                posed.append(errors["posed_mean_mm"])
                posed_median.append(errors["posed_median_mm"])
                neutral.append(errors["neutral_mean_mm"])
            print(f"{row:10} {steps:5d} {np.mean(wall):7.2f} {np.mean(cpu):7.2f} "
                  f"{np.mean(posed):9.3f} {np.mean(posed_median):9.3f} "
                  f"{np.mean(neutral):10.3f} {failed:6d}", flush=True)
    fitter.close()


if __name__ == "__main__":
    main()
