"""Photo fitting on real photos shipped inside installed packages: detection, landmark
agreement per term setting, and time per photo.

    python bench/photo_fit.py --checkpoint CKPT [--model PKL] [--steps 100] [--out DIR]
    python bench/photo_fit.py --make-tiny-checkpoint DIR     # the 2-step test network

Photos (public domain, in the wheels): scikit-image's ``astronaut.png`` (Eileen Collins,
NASA) and ``camera.png`` (the cameraman), matplotlib's ``sample_data/grace_hopper.jpg``;
each also in grey. Rows (fit settings): the landmarks alone; the network's maps weighed by
their agreement with the landmarks (the default); the network's maps as given with the
refusal above 8 px (``--strict``). For each photo and row: faces found (HOG, else the CNN
detector), the mean distance between the fitted mesh's 68 projected landmarks and the
detected ones in the photo's pixels divided by the detected inter-ocular distance (outer eye
corners 36-45), the same for the detected and the fitted landmarks against hand-annotated
points (``bench/data/photo_landmarks.json``: 7 points each of the astronaut and Grace Hopper,
with how they were made), the map terms' weights, and wall / CPU seconds of the fit. Uses the
stand-in (built into a temporary folder) unless --model names a FLAME file. Writes
``photo_fit.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

ANNOTATION = Path(__file__).resolve().parent / "data" / "photo_landmarks.json"
"""Hand-annotated points (7 of the 68) of two of the photos, with how they were made."""

ROWS = {"landmarks only": {"maps": False, "map_agreement": True},
        "network, weighed by agreement (default)": {"maps": True, "map_agreement": True},
        "network as given (--strict)": {"maps": True, "map_agreement": False}}


def photos(scratch: Path) -> dict[str, Path]:
    """Name -> path of the packaged photos, and their grey versions written to scratch."""
    import matplotlib
    import skimage
    from PIL import Image

    found = {"astronaut": Path(skimage.__file__).parent / "data" / "astronaut.png",
             "cameraman": Path(skimage.__file__).parent / "data" / "camera.png",
             "grace_hopper": Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"}
    for name, path in list(found.items()):
        grey = scratch / f"{name}_grey.png"
        Image.open(path).convert("L").save(grey)
        if name != "cameraman":  # already grey
            found[f"{name} (grey)"] = grey
    return found


def make_tiny_checkpoint(folder: Path) -> Path:
    """Train the 2-step, 32 px network of the tests (tests/conftest.py) into ``folder``."""
    import torch

    from network.config import ModelConfig, TrainConfig
    from network.train import train_on_dataset
    from synthetic.sphere_faces import SphereFaces

    run = TrainConfig(model=ModelConfig(resolution=32, patch_size=8, head_dim=32, head_heads=2,
                                        head_blocks=1, decoder_channels=(16, 16, 8)),
                      steps=2, batch_size=2, warmup_steps=1, checkpoint_every=2, val_every=0,
                      num_workers=0, eval_max_samples=2, baseline_samples=2)
    torch.set_num_threads(1)
    return train_on_dataset(SphereFaces(2, 2, 32), run, folder, progress=False).checkpoint


def annotated_errors(name: str, detected: np.ndarray, fitted: np.ndarray) -> dict:
    """Mean distance of the detected and fitted landmarks (68, 2) photo px to the hand
    annotation of photo ``name`` (its grey version too) on its points, over the annotated
    inter-ocular distance (36-45); empty when the photo is not annotated."""
    photos = json.loads(ANNOTATION.read_text())["photos"]
    points = photos.get(name.removesuffix(" (grey)"))
    if points is None:
        return {}
    ids = [int(key) for key in points]
    truth = np.array([points[str(i)] for i in ids])
    iod = float(np.linalg.norm(truth[ids.index(36)] - truth[ids.index(45)]))

    def error(landmarks: np.ndarray) -> float:
        return round(float(np.linalg.norm(landmarks[ids] - truth, axis=1).mean()) / iod, 4)

    return {"detected_vs_annotated_iod": error(detected),
            "fitted_vs_annotated_iod": error(fitted)}


def run(model_path: Path, checkpoint: Path | None, steps: int, out: Path) -> dict:
    from faces import find_faces
    from fitting import FaceFitter, FitSettings, network_predictor
    from fitting.photo_fit import fit_face, inter_ocular_px
    from flame import load_model

    model = load_model(model_path)
    predictor = network_predictor(checkpoint) if checkpoint is not None else None
    records = []
    for name, path in photos(out).items():
        started = time.perf_counter()
        detector, found = "hog", find_faces(path, "hog")
        if not found.faces:
            detector, found = "cnn", find_faces(path, "cnn")
        detect_s = time.perf_counter() - started
        if not found.faces:
            records.append({"photo": name, "faces": 0})
            continue
        face = found.crop(0, 256)
        iod = inter_ocular_px(face.face.landmarks_px)
        for row, spec in ROWS.items():
            if spec["maps"] and predictor is None:
                continue
            settings = FitSettings(full_steps=steps, learn_camera=True,
                                   map_agreement=spec["map_agreement"])
            fitter = FaceFitter(model, settings)
            record = {"photo": name, "row": row, "detector": detector,
                      "faces": len(found.faces), "detect_s": round(detect_s, 2),
                      "inter_ocular_px": round(iod, 1)}
            try:
                done = fit_face(path, face, out / name.replace(" ", "_") / row.split()[0],
                                fitter, predictor if spec["maps"] else None, found.rgb)
                report = json.loads(done.paths["result"].read_text())
                terms = report["terms"]
                record.update(
                    fitted_vs_detected_iod=report["landmarks"]["mean_error_inter_ocular"],
                    seconds=report["seconds"], cpu_seconds=report["cpu_seconds"],
                    uv_weight=terms.get("uv", {}).get("agreement", {}).get("weight"),
                    normal_weight=terms.get("normal", {}).get("agreement", {}).get("weight"),
                    decision=terms["decision"],
                    **annotated_errors(name, face.face.landmarks_px,
                                       np.loadtxt(done.paths["landmarks_photo"])))
            except Exception as error:  # a refused fit is a result of the row
                record["failed"] = str(error).splitlines()[0]
            finally:
                fitter.close()
            records.append(record)
    return {"steps": steps, "model": str(model_path), "checkpoint": str(checkpoint),
            "records": records}


def table(result: dict) -> str:
    lines = ["| photo | detector (faces) | fit | fitted vs detected / IOD | detected, fitted vs "
             "annotation / IOD | uv, normal weight | fit s (CPU s) |",
             "|---|---|---|---|---|---|---|"]
    for r in result["records"]:
        if "row" not in r:
            lines.append(f"| {r['photo']} | none | - | - | - | - | - |")
            continue
        if "failed" in r:
            lines.append(f"| {r['photo']} | {r['detector']} ({r['faces']}) | {r['row']} | "
                         f"refused: {r['failed'][-60:]} | - | - | - |")
            continue
        weights = ("-" if r["uv_weight"] is None and r["normal_weight"] is None
                   else f"{r['uv_weight']}, {r['normal_weight']}")
        annotated = (f"{100 * r['detected_vs_annotated_iod']:.1f}%, "
                     f"{100 * r['fitted_vs_annotated_iod']:.1f}%"
                     if "fitted_vs_annotated_iod" in r else "-")
        lines.append(f"| {r['photo']} | {r['detector']} ({r['faces']}) | {r['row']} | "
                     f"{100 * r['fitted_vs_detected_iod']:.1f}% | {annotated} | {weights} | "
                     f"{r['seconds']:.1f} ({r['cpu_seconds']:.1f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="FLAME model pickle (default: stand-in)")
    parser.add_argument("--checkpoint", type=Path, help="network checkpoint (step-*.pt)")
    parser.add_argument("--steps", type=int, default=100, help="full-stage iterations")
    parser.add_argument("--out", type=Path, help="output folder (default: temporary)")
    parser.add_argument("--make-tiny-checkpoint", type=Path, metavar="DIR",
                        help="train the tests' 2-step network into DIR and exit")
    args = parser.parse_args()
    if args.make_tiny_checkpoint is not None:
        print(make_tiny_checkpoint(args.make_tiny_checkpoint))
        return
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model
        if model is None:
            from flame.standin import build_standin

            model = build_standin(Path(scratch) / "model")
        out = args.out or Path(scratch) / "out"
        out.mkdir(parents=True, exist_ok=True)
        result = run(model, args.checkpoint, args.steps, out)
        (out / "photo_fit.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
