"""Command line: ``python -m network predict|train ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from faces import NoFaceError
from network.checkpoint import CheckpointError
from network.config import TrainConfig
from network.model import BackboneWeightsError
from network.predict import (
    load_predictor,
    predict,
    predict_image,
    read_image,
    write_prediction,
)
from rgbimage import ImageError


def _read_config(path: Path | None) -> TrainConfig | None:
    if path is None:
        return None
    try:
        return TrainConfig.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: not a readable TrainConfig JSON ({error})") from error


def run_predict(args: argparse.Namespace) -> None:
    model, mirror, config = load_predictor(args.checkpoint, _read_config(args.config),
                                           args.device)
    if args.flip_tta and mirror is None:
        print("warning: checkpoint has no uv mirror map; --flip-tta averages normals only",
              file=sys.stderr)
    resolution = config.model.resolution
    if args.convention == "pixel3dmm":
        _predict_pixel3dmm(args, model, mirror, resolution)
        return
    images = [read_image(path, resolution) for path in args.images]  # fail before writing
    for path, rgb in zip(args.images, images, strict=True):
        normals, uv = predict(model, rgb.unsqueeze(0).to(args.device), args.flip_tta, mirror)
        write_prediction(args.out, Path(path).stem, normals[0], uv[0])
        print(f"{path} -> {args.out / Path(path).stem}_{{normal,uv}}.{{png,npy}}")


def _predict_pixel3dmm(args: argparse.Namespace, model, mirror, resolution: int) -> None:
    """Detect and crop each photo (``--crop-size`` px), predict, write frame i of a
    Pixel3DMM folder (cropped/, seg_og/, p3dmm/normals/, p3dmm/uv_map/, PIPnet_landmarks/
    from dlib's 68 points, and mica/NNNNN/identity.npy: the mean identity, zeros, as no fit
    is made here; ``python -m fitting fit`` writes its fitted one; :mod:`faces.pixel3dmm`)."""
    from faces import face_crop
    from faces.pixel3dmm import write_frame

    crops = [face_crop(path, args.crop_size, args.face) for path in args.images]  # fail first
    for index, (path, crop) in enumerate(zip(args.images, crops, strict=True)):
        normals, uv = predict_image(model, crop.rgb, resolution, args.device, args.flip_tta,
                                    mirror)
        write_frame(args.out, index, normals, uv, crop.labels, crop.rgb,
                    landmarks_px=crop.landmarks_px, shape=np.zeros(0))
        print(f"{path} -> {args.out}/{{cropped,seg_og,p3dmm/normals,p3dmm/uv_map}}/"
              f"{index:05d}.png")


def run_train(args: argparse.Namespace) -> None:
    from network.train import train

    config = _read_config(args.config) or TrainConfig()
    result = train(config, args.shards, args.out, device=args.device)
    print(json.dumps(result.table, indent=2))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m network",
                                   description="DINOv2 normal and uv predictor")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("predict", help="predict normal and uv maps for images")
    run.add_argument("images", nargs="+", type=Path)
    run.add_argument("--checkpoint", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--flip-tta", action="store_true", help="average with the mirrored image")
    run.add_argument("--config", type=Path, help="TrainConfig JSON the checkpoint must match")
    run.add_argument("--device", default="cpu", help="cpu or cuda")
    run.add_argument("--convention", choices=["project", "pixel3dmm"], default="project",
                     help="project: <stem>_{normal,uv}.{png,npy} of the whole image; "
                          "pixel3dmm: detect and crop the face, write Pixel3DMM's frame layout")
    run.add_argument("--face", type=int, help="pixel3dmm: which face, 0 = largest (default)")
    run.add_argument("--crop-size", type=int, default=512,
                     help="pixel3dmm: side of the face crop in pixels (Pixel3DMM: 512)")
    run.set_defaults(handler=run_predict)
    fit = commands.add_parser("train", help="train on HDF5 shards (no flip: no uv mirror map)")
    fit.add_argument("shards", nargs="+", type=Path)
    fit.add_argument("--out", type=Path, required=True)
    fit.add_argument("--config", type=Path, help="TrainConfig JSON (default: TrainConfig())")
    fit.add_argument("--device", default="cpu", help="cpu or cuda")
    fit.set_defaults(handler=run_train)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input, with the reason)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.handler(args)
    except (CheckpointError, ImageError, BackboneWeightsError, NoFaceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
