"""Command line: ``python -m fitting fit IMAGE --checkpoint CKPT --out DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fitting.fit import FaceFitter, FitError
from fitting.image_fit import ImageError, fit_image
from fitting.predictor import network_predictor
from fitting.settings import FitSettings
from flame import ModelFileError, load_model

DEFAULT_MODEL = Path("build/model/generic_model.pkl")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m fitting",
                                   description="FLAME fit from predicted normal and uv maps")
    commands = root.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="reconstruct the face in one image")
    fit.add_argument("image", type=Path)
    fit.add_argument("--checkpoint", type=Path, required=True, help="trained network (step-*.pt)")
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    fit.add_argument("--focal", type=float, help="focal length in pixels (default 1.8 x size)")
    fit.add_argument("--mask", type=Path, help="face mask image (default: foreground against "
                                               "a plain backdrop)")
    fit.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                     help=f"FLAME model pickle (default {DEFAULT_MODEL})")
    fit.add_argument("--steps", type=int, help="iterations of the full fitting stage")
    fit.add_argument("--device", default="cpu", help="cpu or cuda (network and fit)")
    return root


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input or a failed fit)."""
    from network.checkpoint import CheckpointError
    from network.model import BackboneWeightsError

    args = parser().parse_args(argv)
    settings = FitSettings(device=args.device)
    if args.steps is not None:
        settings = settings.replace(full_steps=args.steps)
    try:
        model = load_model(args.model)
        predict_maps = network_predictor(args.checkpoint, device=args.device)
        fitter = FaceFitter(model, settings)
        try:
            done = fit_image(args.image, args.out, fitter, predict_maps, args.focal, args.mask)
        finally:
            fitter.close()
    except (ModelFileError, CheckpointError, BackboneWeightsError, ImageError,
            FitError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = done.result
    print(f"{args.image}: {len(result.matches or [])} vertices located, median 2D residual "
          f"{result.residual_px:.2f} px, {result.seconds:.1f} s")
    for path in (done.mesh_path, done.params_path, done.overlay_path):
        print(f"  wrote {path}")
    return 0
