"""The report's sections as HTML snippets, each from the JSON a pipeline stage wrote."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from reporting.page import image, table
from shards.contact_sheet import write_contact_sheet
from shards.manifest import read_manifest


def _flat(row: dict, prefix: str = "") -> dict:
    """Nested dicts flattened to 'a.b' keys (numbers and short strings only)."""
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}."))
        elif isinstance(value, int | float | str) or value is None:
            out[name] = value
    return out


def rows_table(rows: dict[str, dict]) -> str:
    """A table with one row per entry of ``rows`` and a column per (flattened) metric."""
    flat = {name: _flat(row) for name, row in rows.items()}
    columns = sorted({c for row in flat.values() for c in row})
    return table(["", *columns], [[name, *(row.get(c) for c in columns)]
                                  for name, row in flat.items()])


def dataset_table(datasets: dict[str, dict]) -> str:
    header = ["data set", "scans", "registered", "quarantined", "samples", "shards", "MB"]
    rows = [[name, d["registration"]["scans"], d["registration"]["registered"],
             d["quarantined"], d["samples"], d["shards"], d["bytes"] / 1e6]
            for name, d in datasets.items()]
    return table(header, rows)


def optional_file_lines(dataset: str, entries: list[dict]) -> list[str]:
    """One line per optional file of a data set (``scans.datasets.optional_files``): found
    where, or missing, where it was looked for, and what the scans lose without it."""
    lines = []
    for entry in entries:
        if "scans" in entry:
            counts = ", ".join(f"{k} {v}" for k, v in entry["scans"].items())
            state = f"scans by source: {counts}"
            reasons = "; ".join(f"{r['reason']} ({r['scans']})" for r in entry["reasons"])
            state += f" [{reasons}]" if reasons else ""
        elif entry["found"]:
            state = f"found: {entry['path']}"
        else:
            looked = ", ".join(entry["searched"]) or "not configured"
            state = f"MISSING (looked at: {looked})"
        lost = f" -> lost: {entry['lost']}" if entry["lost"] else ""
        lines.append(f"{dataset} {entry['file']}: {state}{lost}")
    return lines


def registration_signals(summaries: dict[str, dict]) -> str:
    """Per data set, the registration paths taken (scans each), the free signals used and
    every refusal with its scan and reason (``summary.json`` "signals")."""
    rows, refusals = [], []
    for name, summary in summaries.items():
        signals = summary.get("signals") or {}
        paths = ", ".join(f"{p} {n}" for p, n in sorted(signals.get("paths", {}).items()))
        used = ", ".join(f"{s} {n}" for s, n in sorted(signals.get("used", {}).items()))
        rows.append([name, paths or "-", used or "none"])
        refusals += [[name, signal, r["scan_id"], r["reason"]]
                     for signal, entries in sorted(signals.get("refused", {}).items())
                     for r in entries]
    html_rows = table(["data set", "paths (scans)", "signals used (scans)"], rows)
    if not refusals:
        return html_rows + "<p>No signal was refused.</p>"
    return html_rows + table(["data set", "signal refused", "scan", "reason"], refusals)


def optional_files(statements: dict[str, list[dict]]) -> str:
    """Per data set, its optional files: found or missing, and what is lost without them."""
    rows = []
    for name, entries in statements.items():
        for entry in entries:
            if "scans" in entry:
                found = ", ".join(f"{k} {v}" for k, v in entry["scans"].items())
                where = "; ".join(f"{r['reason']} ({r['scans']})" for r in entry["reasons"])
            else:
                found = "found" if entry["found"] else "missing"
                where = entry["path"] or "looked at: " + (", ".join(entry["searched"]) or
                                                          "not configured")
            rows.append([name, entry["file"], found, where, entry["lost"]])
    if not rows:
        return "<p>No data set has optional files.</p>"
    return table(["data set", "file", "found", "where", "lost without it"], rows)


def quarantine_list(quarantine: dict[str, list]) -> str:
    rows = [[dataset, q["scan_id"], q["reason"]] for dataset, qs in quarantine.items()
            for q in qs]
    if not rows:
        return "<p>None: every scan was read and registered.</p>"
    return table(["data set", "scan", "reason"], rows)


def registration_table(registration: dict[str, dict]) -> str:
    header = ["data set", "stage", "truth mean mm", "truth median mm", "truth P95 mm",
              "mesh-to-scan mm", "s / scan"]
    rows = []
    for name, summary in registration.items():
        truth = summary.get("truth_error_mm", {})
        for stage in ("model_fit", "registered"):
            error = truth.get(stage, {})
            rows.append([name, stage, error.get("mean"), error.get("median"), error.get("p95"),
                         summary.get("mesh_to_scan_mm_mean") if stage == "registered" else None,
                         summary.get("seconds_per_scan")])
    note = ("<p>Truth error: per-vertex distance to the ground-truth mesh over the FLAME face "
            "region (synthetic data only); mesh-to-scan: distance to the scan.</p>")
    return note + table(header, rows)


def heatmaps(folders: dict[str, Path], registration: dict[str, dict], per_dataset: int = 2
             ) -> str:
    parts = []
    for name, folder in folders.items():
        for scan_id in registration[name].get("registered_ids", [])[:per_dataset]:
            parts.append(image(folder / scan_id / "error.png", f"{name} / {scan_id}", 480))
    return "".join(parts) or "<p>No registered scans.</p>"


def photo_alignment(registration: dict[str, dict], folders: dict[str, Path],
                    per_dataset: int = 3) -> str:
    """Per data set: photo views accepted / failed / skipped, landmark reprojection error
    (px), IoU with the true silhouette (synthetic data), the views not used with their reason,
    and a few overlays (normal and uv maps over the photo, both kinds of landmarks)."""
    header = ["data set", "views", "accepted", "failed", "skipped", "landmark px mean",
              "landmark px median", "landmark px max", "landmark / face size", "IoU mean",
              "IoU min"]
    rows, problems, pictures = [], [], []
    for name, summary in registration.items():
        photos = summary.get("photos")
        if not photos or not photos["views"]:
            continue
        px, rel, iou = photos["landmark_px"] or {}, photos["landmark_rel"] or {}, \
            photos["iou"] or {}
        rows.append([name, photos["views"], photos["accepted"], photos["failed"],
                     photos["skipped"], px.get("mean"), px.get("median"), px.get("max"),
                     rel.get("mean"), *(None if iou.get(k) is None else f"{iou[k]:.4f}"
                                        for k in ("mean", "min"))])
        problems += [[name, p["scan_id"], p["camera_id"], p["status"], p["reason"]]
                     for p in photos["not_used"]]
        pictures += [image(folders[name] / overlay, f"{name} / {overlay}", 480)
                     for overlay in photos["overlays"][:per_dataset]]
    if not rows:
        return "<p>No data set has calibrated photos.</p>"
    thresholds = next(s["photos"]["thresholds"] for s in registration.values()
                      if s.get("photos"))
    note = ("<p>Per photo view, in the photo's pixels: the scan's own landmarks (Ava256 "
            "keypoints_3d, FaceScape landmark_indices) and the registered mesh's landmarks, "
            "both projected with the photo's camera (px: mean over views of each view's mean "
            "error); IoU: the scan rendered with the photo's camera against the subject's "
            "true silhouette (synthetic data only). A view becomes a sample only when "
            f"landmark error / face size &lt;= {thresholds['max_landmark_rel']}, at least "
            f"{thresholds['min_landmarks_in_image']:.0%} of the landmarks fall inside the "
            f"image and IoU &gt;= {thresholds['min_iou']}. Overlays: scan normals (left) and "
            "registered uv (right) over the undistorted photo; green circles: the scan's "
            "landmarks, magenta crosses: the registered mesh's.</p>")
    listed = (table(["data set", "scan", "camera", "status", "reason"], problems) if problems
              else "<p>Every photo view was read and passed.</p>")
    return note + table(header, rows) + listed + "".join(pictures)


def contact_sheets(folders: dict[str, Path], out_dir: Path, seed: int, per_dataset: int = 3
                   ) -> str:
    """Contact sheets of random samples (seeded), written into ``out_dir``.

    Reads the manifest and only the shards of the samples picked (uniform over samples; a
    sample's shard found from the cumulative counts, so thousands of shards cost nothing)."""
    parts = []
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, folder in folders.items():
        shard_records = read_manifest(folder)["shards"]
        starts = np.cumsum([0] + [r["samples"] for r in shard_records])
        total = int(starts[-1])
        for index in sorted(rng.choice(total, min(per_dataset, total), replace=False)):
            position = int(np.searchsorted(starts, index, side="right")) - 1
            shard, sample = shard_records[position]["name"], int(index - starts[position])
            png = out_dir / f"{name}-{Path(shard).stem}-{sample}.png"
            write_contact_sheet(folder / shard, sample, png)
            parts.append(image(png, f"{name} / {shard} #{sample}"))
    return "".join(parts)


def training(table_rows: dict[str, dict], curves_png: Path) -> str:
    note = ("<p>Held-out subjects. normal_* in degrees (pct_* = share of pixels under the "
            "angle); uv_l1 in uv units; vertex_px = 2D position error of the vertices the "
            "uv maps locate, in pixels. mean_baseline predicts the training set's mean normal "
            "and uv everywhere.</p>")
    return note + rows_table(table_rows) + image(curves_png, "loss curves", 640)


def fitting(table_rows: dict, folder: Path) -> str:
    note = ("<p>Reconstruction error in mm (ground truth to fitted mesh, face region, after "
            f"{html.escape(str(table_rows.get('alignment')))} alignment on 7 landmarks). "
            "oracle: fit from ground-truth maps; network: from the trained network's "
            "predictions; landmarks: 2D landmarks and priors only.</p>")
    pictures = "".join(image(folder / name, name, 800) for name in table_rows.get("overlays", []))
    return note + rows_table(table_rows.get("rows", {})) + pictures


def stage_timings(model: dict, synthesis: dict, registration: dict, render: dict,
                  trained: dict, fitting_result: dict) -> dict[str, float]:
    """Seconds each stage took in the run that produced its output (``synthesis``: the
    synthetic data sets' records, empty for real roots)."""
    timings = {"model": model.get("seconds")}
    for name, record in synthesis.items():
        timings[f"synthesize {name}"] = record.get("seconds")
    for name in registration:
        timings[f"register {name}"] = registration[name].get("seconds")
        timings[f"levels of detail {name}"] = render[name].get("levels", {}).get("seconds")
        timings[f"render {name}"] = render[name].get("seconds")
    timings["train"] = trained.get("seconds")
    timings["fit and evaluate"] = fitting_result.get("seconds")
    return timings


def timings(values: dict[str, float]) -> str:
    note = "<p>Seconds of the run that produced each output (an output reused as is keeps "\
           "the time of the run that made it).</p>"
    return note + table(["stage", "seconds"], list(values.items()))


def hashes(values: dict[str, str]) -> str:
    return table(["output", "key"], list(values.items()))


def console_summary(summary: dict, index_html: Path) -> str:
    """A few lines for the terminal at the end of a build: counts, quarantined, time, report."""
    lines = ["", "facefactory build summary"]
    for name, figures in summary["datasets"].items():
        registration = figures["registration"]
        lines.append(f"  {name:10s} scans {registration['scans']:4d}  registered "
                     f"{registration['registered']:4d}  quarantined {figures['quarantined']:3d}"
                     f"  samples {figures['samples']:6d}  shards {figures['shards']:4d}")
    for name, figures in summary["datasets"].items():
        lines += [f"  {line}" for line in
                  optional_file_lines(name, figures["registration"].get("optional_files", []))]
    seconds = sum(v for v in summary["timings_s"].values() if v)
    lines.append(f"  stage time {seconds / 60:.1f} min (sum of the stages' last runs)")
    lines.append(f"  report: {index_html}")
    return "\n".join(lines)
