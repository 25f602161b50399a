"""The single-image reconstruction benchmark over rendered test samples.

Three rows, each a FLAME fit per test image, measured against the ground-truth mesh after a
7-landmark alignment (:mod:`fitting.metrics`):

- ``oracle``: fit to the sample's ground-truth uv and normal maps (checks the fit itself);
- ``network``: fit to the trained network's predicted maps, searched inside the sample's
  foreground mask (the stand-in for a face segmenter);
- ``landmarks``: fit to the 68 ground-truth landmarks projected into the image (an ideal
  landmark detector) with the same priors and schedule.

The table (``fitting.json``) holds, per row, the mean over images of each image's mean and
median distance (mm), posed (fit vs. truth with expression) and neutral (identity only, both
with expression and pose zero), and the fit's seconds per image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from atomicfile import write_json
from fitting.fit import FaceFitter, FitError, FitInputs, FitResult
from fitting.metrics import aligned_error, landmarks_of
from fitting.output import write_png
from fitting.overlay import overlay_picture
from fitting.predictor import MapPredictor, network_predictor
from fitting.settings import EvalSettings
from flame import FlameModel, load_model

MASK_NORMAL, MASK_UV = 1, 2
"""Mask bits of a shard sample (see rendering.maps)."""
ROWS = ("oracle", "network", "landmarks")
ROW_NOTES = {
    "oracle": "fit to the sample's ground-truth uv and normal maps",
    "network": "fit to the network's predicted maps inside the sample's foreground mask",
    "landmarks": "fit to the exact projections of the true 68 landmarks (an ideal detector) "
                 "with the same priors",
}


@dataclass(frozen=True)
class TruthMesh:
    """Ground truth of one sample in model topology, in the cameras' world frame, metres.

    Attributes
    ----------
    posed_m : (V, 3) the scan's true surface (with expression)
    neutral_m : (V, 3) the same identity with a neutral expression, or None (no neutral
        columns then)
    """

    posed_m: np.ndarray
    neutral_m: np.ndarray | None = None


TruthLookup = Callable[[dict], TruthMesh]
"""sample dict (ids: ``dataset``, ``subject``, ``expression``, ``scan``, ``view``,
``sample_id``) -> its TruthMesh."""


def truth_from_npz(path: Path) -> TruthMesh:
    """Read a ``truth.npz``: ``verts_m`` (V, 3) and, when present, ``neutral_verts_m``."""
    path = Path(path)
    try:
        with np.load(path) as data:
            posed = np.asarray(data["verts_m"], dtype=np.float64)
            neutral = (np.asarray(data["neutral_verts_m"], dtype=np.float64)
                       if "neutral_verts_m" in data else None)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: not a ground-truth file with 'verts_m' ({error})") from error
    return TruthMesh(posed_m=posed, neutral_m=neutral)


def _hwc(array: np.ndarray, channels: int) -> np.ndarray:
    """A map as (H, W, C) whether given channel-last or channel-first (as shards store it)."""
    array = np.asarray(array)
    if array.shape[-1] == channels:
        return array
    return np.moveaxis(array, 0, -1)


def sample_inputs(sample: dict, row: str, model: FlameModel, truth: TruthMesh,
                  predicted: tuple[np.ndarray, np.ndarray] | None = None) -> FitInputs:
    """The FitInputs of one test sample for one benchmark row.

    Parameters
    ----------
    sample : shard sample dict (``rgb``, ``normal``, ``uv``, ``mask``, ``K``, ``w2c``)
    row : one of ROWS
    model : gives the landmark embedding (landmarks row)
    truth : the sample's ground truth (landmarks row)
    predicted : (normal (H, W, 3), uv (H, W, 2)) from the network (network row)
    """
    height, width = np.asarray(sample["rgb"]).shape[:2]
    K, w2c = np.asarray(sample["K"], np.float64), np.asarray(sample["w2c"], np.float64)
    mask = np.asarray(sample["mask"])
    common = {"K": K, "width": width, "height": height, "w2c": w2c}
    if row == "oracle":
        return FitInputs(uv=_hwc(sample["uv"], 2), uv_valid=(mask & MASK_UV) > 0,
                         normal_model=_hwc(sample["normal"], 3),
                         normal_valid=(mask & MASK_NORMAL) > 0, **common)
    if row == "network":
        if predicted is None:
            raise ValueError("the network row needs predicted maps")
        foreground = (mask & MASK_NORMAL) > 0
        return FitInputs(uv=predicted[1], uv_valid=foreground, normal_model=predicted[0],
                         normal_valid=foreground, **common)
    if row == "landmarks":
        lmk_world = landmarks_of(truth.posed_m, model.faces, model.lmk_faces, model.lmk_bary)
        lmk_camera = lmk_world @ w2c[:3, :3].T + w2c[:3, 3]
        lmk_px = (lmk_camera[:, :2] / lmk_camera[:, 2:]) @ K[:2, :2].T + K[:2, 2]
        return FitInputs(landmarks_px=lmk_px, **common)
    raise ValueError(f"unknown benchmark row {row!r}; rows are {ROWS}")


def measure(result: FitResult, truth: TruthMesh, model: FlameModel,
            settings: EvalSettings) -> dict:
    """Posed and neutral errors of one fit (mm; neutral None without a neutral truth)."""
    region = model.masks.get(settings.region, np.arange(model.n_vertices))
    with_scale = settings.alignment == "similarity"
    posed = aligned_error(result.verts_camera, truth.posed_m, model.faces, model.lmk_faces,
                          model.lmk_bary, region, with_scale)
    record = {"posed_mean_mm": posed.mean_mm, "posed_median_mm": posed.median_mm,
              "neutral_mean_mm": None, "neutral_median_mm": None}
    if truth.neutral_m is not None:
        neutral = aligned_error(result.verts_neutral, truth.neutral_m, model.faces,
                                model.lmk_faces, model.lmk_bary, region, with_scale)
        record.update(neutral_mean_mm=neutral.mean_mm, neutral_median_mm=neutral.median_mm)
    return record


def _summary(records: list[dict]) -> dict:
    done = [r for r in records if "failed" not in r]

    def mean(key: str) -> float | None:
        values = [r[key] for r in done if r.get(key) is not None]
        return float(np.mean(values)) if values else None

    summary = {key: mean(key) for key in ("posed_mean_mm", "posed_median_mm",
                                           "neutral_mean_mm", "neutral_median_mm")}
    summary.update(seconds_per_image=mean("seconds"), cpu_seconds_per_image=mean("cpu_seconds"),
                   images=len(done),
                   failed=len(records) - len(done))
    if any("predict_seconds" in r for r in done):
        summary["predict_seconds_per_image"] = mean("predict_seconds")
    return summary


def _file_stem(sample: dict, index: int) -> str:
    name = str(sample.get("sample_id", f"sample-{index:05d}"))
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def evaluate_samples(model: FlameModel, samples: Iterable[dict], truth_lookup: TruthLookup,
                     out_dir: Path, settings: EvalSettings | None = None,
                     predict_maps: MapPredictor | None = None) -> dict:
    """Run the benchmark on samples; write ``out_dir/fitting.json`` and overlay PNGs.

    Parameters
    ----------
    model : the FLAME model fitted (its topology must be the ground truth's)
    samples : shard sample dicts (see :func:`sample_inputs`), the test images
    truth_lookup : sample -> TruthMesh
    out_dir : output folder (``fitting.json``, ``overlays/*.png``)
    settings : benchmark settings
    predict_maps : the network (None: no network row)

    Returns
    -------
    the table written to ``fitting.json``: ``rows`` (row name -> summary), ``images``
    (per-image records), ``overlays`` (file names), ``settings``
    """
    settings = settings or EvalSettings()
    out_dir = Path(out_dir)
    rows = [r for r in ROWS if r != "network" or predict_maps is not None]
    fitter = FaceFitter(model, settings.fit)
    vertex_uv = fitter.vertex_uv.first_uv()
    records: dict[str, list[dict]] = {row: [] for row in rows}
    overlays: list[str] = []
    try:
        for index, sample in enumerate(samples):
            truth = truth_lookup(sample)
            predicted, predict_seconds = None, None
            if predict_maps is not None:
                started = time.perf_counter()
                predicted = predict_maps(np.asarray(sample["rgb"]))
                predict_seconds = time.perf_counter() - started
            fitted: dict[str, tuple[FitInputs, FitResult]] = {}
            for row in rows:
                inputs = sample_inputs(sample, row, model, truth, predicted)
                record = {"sample_id": str(sample.get("sample_id", index))}
                try:
                    result = fitter.fit(inputs)
                except FitError as error:
                    records[row].append({**record, "failed": str(error)})
                    continue
                fitted[row] = (inputs, result)
                record.update(measure(result, truth, model, settings), seconds=result.seconds,
                              cpu_seconds=result.cpu_seconds, residual_px=result.residual_px,
                              matches=0 if result.matches is None else len(result.matches))
                if row == "network":
                    record["predict_seconds"] = predict_seconds
                records[row].append(record)
            shown = next((row for row in ("network", "oracle") if row in fitted), None)
            if shown is not None and len(overlays) < settings.overlays:
                inputs, result = fitted[shown]
                picture = overlay_picture(np.asarray(sample["rgb"]), inputs.normal_model,
                                          inputs.normal_valid, result, vertex_uv, model.faces,
                                          inputs.K, fitter.renderer(inputs.width, inputs.height))
                name = f"overlays/{_file_stem(sample, index)}_{shown}.png"
                write_png(out_dir / name, picture)
                overlays.append(name)
    finally:
        fitter.close()
    table = {
        "rows": {row: _summary(records[row]) for row in rows},
        "row_notes": {row: ROW_NOTES[row] for row in rows},
        "alignment": settings.alignment,
        "region": settings.region,
        "images": {row: records[row] for row in rows},
        "overlays": overlays,
        "settings": asdict(settings),
    }
    write_json(out_dir / "fitting.json", table, sort_keys=False)
    return table


def shard_samples(shard_paths: Sequence[Path], subjects: set[str] | None = None,
                  max_images: int | None = None) -> Iterator[dict]:
    """Samples of the shards in order, optionally only of ``subjects`` ('dataset/subject'
    keys, as in the network's ``split.json``), at most ``max_images``."""
    from shards import ShardReader

    count = 0
    for path in shard_paths:
        with ShardReader(path) as reader:
            for index in range(len(reader)):
                if max_images is not None and count >= max_images:
                    return
                if subjects is not None:
                    ids = reader.read_sample(index, maps=())
                    if f"{ids['dataset']}/{ids['subject']}" not in subjects:
                        continue
                count += 1
                yield reader.read_sample(index)


def evaluate(model_path: Path, checkpoint_path: Path | None, shard_paths: Sequence[Path],
             truth_lookup: TruthLookup, out_dir: Path, settings: EvalSettings | None = None,
             subjects: set[str] | None = None, device: str = "cpu") -> dict:
    """The benchmark on test shards: what the pipeline's ``Evaluate`` task calls.

    Parameters
    ----------
    model_path : the FLAME model pickle (its side files beside it)
    checkpoint_path : the trained network (None: no network row)
    shard_paths : test shards, read in order
    truth_lookup : sample -> TruthMesh (e.g. via :func:`truth_from_npz`)
    out_dir : writes ``fitting.json`` and ``overlays/``
    settings : benchmark settings (``max_images`` caps the images)
    subjects : evaluate only samples of these 'dataset/subject' keys (the held-out split of
        the network's ``split.json``); None: all
    device : device of the network

    Returns
    -------
    the table dict (see :func:`evaluate_samples`)
    """
    settings = settings or EvalSettings()
    model = load_model(Path(model_path))
    predict_maps = (None if checkpoint_path is None
                    else network_predictor(Path(checkpoint_path), device=device))
    samples = shard_samples(shard_paths, subjects, settings.max_images)
    return evaluate_samples(model, samples, truth_lookup, out_dir, settings, predict_maps)
