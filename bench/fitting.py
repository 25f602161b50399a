"""FLAME fit speed and accuracy against the number of iterations, on synthetic images.

    python bench/fitting.py [--model PATH] [--images 4] [--size 256] [--steps 25 50 100 200]
                            [--rows oracle landmarks] [--threads 1]

Each image is the FLAME model itself rendered with known parameters (fitting.synthetic), so
the oracle row (fit to the exact uv and normal maps) has no model-span error; the landmarks
row fits the 68 exact projected landmarks only. Prints, per row and number of full-stage
iterations: wall and CPU seconds per image and the posed / neutral error (mm, 7-landmark
similarity alignment, face region). Uses the stand-in (built into a temporary folder) unless
--model names a FLAME file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

# This script is named like the package it measures: drop its own folder from the import
# path (Python puts it first) so that `import fitting` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def main() -> None:
    from fitting import EvalSettings, FaceFitter, FitSettings
    from fitting.evaluate import measure, sample_inputs
    from fitting.synthetic import synthetic_sample
    from flame import load_model
    from flame.standin import build_standin
    from rendering import Renderer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="FLAME model pickle (default: stand-in)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--rows", nargs="+", default=["oracle", "landmarks"],
                        choices=["oracle", "landmarks"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
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
