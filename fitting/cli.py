"""Command line: ``python -m fitting fit PHOTO --checkpoint CKPT --out DIR`` (see ``--help``).

Sources of the maps: ``--checkpoint`` (the network, on the detected face's crop),
``--maps DIR --convention pixel3dmm`` (a frame folder in Pixel3DMM's layout,
:mod:`faces.pixel3dmm`), or ``--landmarks-only`` (the detected 68 landmarks alone).
``--no-detect`` fits the whole image as before (a rendered face on a plain backdrop or
``--mask``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faces import FaceCrop, NoFaceError, PhotoError, face_crop
from faces.pixel3dmm import MapsError
from fitting.fit import FaceFitter, FitError
from fitting.image_fit import ImageError, fit_image
from fitting.maps_fit import fit_maps_folder
from fitting.photo_fit import FIT_SIZE, fit_face
from fitting.predictor import network_predictor
from fitting.settings import FitSettings
from flame import ModelFileError, load_model

DEFAULT_MODEL = Path("build/model/generic_model.pkl")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m fitting",
                                   description="FLAME fit from predicted normal and uv maps")
    commands = root.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="reconstruct the face in one photo")
    fit.add_argument("image", type=Path, nargs="?",
                     help="the photo (not needed with --maps)")
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    source = fit.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="trained network (step-*.pt)")
    source.add_argument("--maps", type=Path,
                        help="frame folder with the maps (cropped/, seg_og/, p3dmm/)")
    source.add_argument("--landmarks-only", action="store_true",
                        help="fit the detected 68 landmarks alone")
    fit.add_argument("--convention", choices=["pixel3dmm"], default="pixel3dmm",
                     help="layout of --maps (Pixel3DMM's tracker input)")
    fit.add_argument("--frame", type=int, default=0, help="frame index in --maps")
    fit.add_argument("--face", type=int, help="which face, 0 = largest (default)")
    fit.add_argument("--size", type=int, default=FIT_SIZE, help="crop side in pixels")
    fit.add_argument("--no-detect", action="store_true",
                     help="fit the whole image (a face on a plain backdrop, or --mask)")
    fit.add_argument("--focal", type=float, help="--no-detect: focal length in pixels")
    fit.add_argument("--mask", type=Path, help="--no-detect: face mask image")
    fit.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                     help=f"FLAME model pickle (default {DEFAULT_MODEL})")
    fit.add_argument("--steps", type=int, help="iterations of the full fitting stage")
    fit.add_argument("--device", default="cpu", help="cpu or cuda (network and fit)")
    return root


def _run(args: argparse.Namespace, settings: FitSettings) -> int:
    # A photo without a face fails before the model and the network are loaded.
    face = None if args.maps is not None or args.no_detect else face_crop(
        args.image, args.size, args.face)
    fitter = FaceFitter(load_model(args.model), settings)
    try:
        return _run_fit(args, fitter, face)
    finally:
        fitter.close()


def _run_fit(args: argparse.Namespace, fitter: FaceFitter, face: FaceCrop | None) -> int:
    if args.maps is not None:
        done = fit_maps_folder(args.maps, args.frame, args.out, fitter, args.size)
    elif args.no_detect:
        if args.checkpoint is None:
            raise ImageError("--no-detect needs --checkpoint")
        predict_maps = network_predictor(args.checkpoint, device=args.device)
        plain = fit_image(args.image, args.out, fitter, predict_maps, args.focal, args.mask)
        result = plain.result
        print(f"{args.image}: {len(result.matches or [])} vertices located, median 2D "
              f"residual {result.residual_px:.2f} px, {result.seconds:.1f} s")
        for path in (plain.mesh_path, plain.params_path, plain.overlay_path):
            print(f"  wrote {path}")
        return 0
    else:
        predict_maps = (None if args.landmarks_only
                        else network_predictor(args.checkpoint, device=args.device))
        done = fit_face(args.image, face, args.out, fitter, predict_maps)
    result = done.result
    source = args.maps if args.maps is not None else args.image
    print(f"{source}: {len(result.matches or [])} vertices located by uv, 68 landmarks "
          f"reproject {done.landmark_error_px:.2f} px from the detected ones (mean), "
          f"{result.seconds:.1f} s")
    for path in done.paths.values():
        print(f"  wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input or a failed fit)."""
    from network.checkpoint import CheckpointError
    from network.model import BackboneWeightsError

    args = parser().parse_args(argv)
    if args.image is None and args.maps is None:
        print("error: give a photo (or --maps DIR)", file=sys.stderr)
        return 2
    # A photo's (or a frame's) camera is a guess: learn it; a render's K is given.
    settings = FitSettings(device=args.device, learn_camera=not args.no_detect)
    if args.steps is not None:
        settings = settings.replace(full_steps=args.steps)
    try:
        return _run(args, settings)
    except (ModelFileError, CheckpointError, BackboneWeightsError, ImageError, PhotoError,
            NoFaceError, MapsError, FitError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
