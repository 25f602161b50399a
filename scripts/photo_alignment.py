"""Photo alignment of a synthetic data set as the adapters read it, against its ground truth.

Usage: ``python scripts/photo_alignment.py DATASET RAW_ROOT TRUTH_ROOT [KEY=VALUE ...]``
(adapter options as in ``python -m scans list``). Per photo view: IoU between the scan
rendered with the photo's camera and the true silhouette, and the pixel distance between the
scan's landmarks projected with the photo's camera and the true landmarks' pixels. A scan the
adapter cannot read is counted with its reason. Prints one JSON summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from rendering.photo_alignment import iou, scan_mask
from scans import ScanError, list_scans
from scans.cli import parse_options
from scans.datasets import load_scan


def measure(dataset: str, raw: Path, truth_root: Path, options: dict) -> dict:
    """{"views", "iou_mean", "iou_min", "camera_px_mean", "camera_px_max", "unread"}."""
    ious, pixels, unread = [], [], []
    for record in list_scans(dataset, raw, **options):
        try:
            scan = load_scan(record)
        except ScanError as exc:
            unread.append(f"{record.scan_id}: {exc}")
            continue
        with np.load(truth_root / record.scan_id / "truth.npz") as truth:
            ids = [str(i) for i in truth["photo_ids"]]
            masks, true_px = truth["photo_silhouettes"], truth["photo_landmarks_px"]
        for photo in scan.photos:
            view = ids.index(photo.camera_id)
            mask = scan_mask(photo, scan.verts_m, scan.faces)
            ious.append(iou(mask, masks[view]) if mask.shape == masks[view].shape else 0.0)
            if scan.landmarks_m is not None:
                error = np.linalg.norm(photo.project(scan.landmarks_m) - true_px[view], axis=1)
                pixels.append(float(np.nanmean(error)) if np.isfinite(error).any() else np.inf)
    return {"dataset": dataset, "views": len(ious),
            "iou_mean": float(np.mean(ious)) if ious else None,
            "iou_min": float(np.min(ious)) if ious else None,
            "camera_px_mean": float(np.mean(pixels)) if pixels else None,
            "camera_px_max": float(np.max(pixels)) if pixels else None,
            "unread": unread}


if __name__ == "__main__":
    dataset, raw, truth = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(measure(dataset, raw, truth, parse_options(sys.argv[4:])), indent=1))
