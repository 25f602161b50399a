"""Benchmark: registration of synthetic ICT scans vs trimesh's nricp_amberg, same scans, same
rigid start, one core.

    python bench/registration.py --scans 4 --points 100000

Prints seconds per scan and the error against ground truth over the face region (mm):
vertex-to-vertex correspondence error and distance to the true surface.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as a Dask worker runs it

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import trimesh  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flame import load_model  # noqa: E402
from flame.ict import load_ict  # noqa: E402
from flame.standin import build_standin  # noqa: E402
from registration import prepare_model, register_scan, truth_error, truth_surface_error  # noqa: E402
from registration.register import _rigid_start  # noqa: E402
from registration.scan_surface import ScanSurface  # noqa: E402
from registration.settings import RegistrationSettings  # noqa: E402
from registration.synthetic import make_synthetic_scan  # noqa: E402


def _row(name: str, condition: str, seconds: list[float], corr: list[dict],
         surface: list[dict]) -> str:
    def mean(rows: list[dict], key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    return (f"| {name:<22} | {condition:<13} | {np.mean(seconds):7.2f} | "
            f"{mean(corr, 'mean'):5.2f} | {mean(corr, 'median'):5.2f} | {mean(corr, 'p95'):5.2f} | "
            f"{mean(surface, 'mean'):5.2f} | {mean(surface, 'p95'):5.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=4, help="scans per condition")
    parser.add_argument("--points", type=int, default=100_000, help="points per scan")
    parser.add_argument("--model", type=Path, default=None, help="FLAME pickle (default: "
                        "the stand-in, built into a temporary folder)")
    parser.add_argument("--skip-amberg", action="store_true")
    args = parser.parse_args()

    model_path = args.model or build_standin(tempfile.mkdtemp(prefix="standin-"))
    model = load_model(model_path)
    prepared = prepare_model(model)
    ict = load_ict()
    settings = RegistrationSettings()
    face, faces = prepared.face_ids, model.faces
    print("| method                 | scans         | s/scan  | corr mean | median | P95 "
          "| surf mean | P95 |")
    print("|---|---|---|---|---|---|---|---|")
    conditions = {"clean": {}, "holes+hair": {"hole_fraction": 0.3, "hair_fraction": 0.05}}
    for condition, options in conditions.items():
        results = {name: ([], [], [], []) for name in ("ours (fit only)", "ours", "nricp_amberg")}
        for seed in range(args.scans):
            scan = make_synthetic_scan(ict, 100 + seed, n_points=args.points, **options)
            start = time.perf_counter()
            reg = register_scan(prepared, scan.verts_m, scan.faces, settings=settings)
            ours_seconds = time.perf_counter() - start
            for name, verts, seconds in (("ours (fit only)", reg.fit_verts_m,
                                          reg.metrics["stage_seconds"]["rigid"]
                                          + reg.metrics["stage_seconds"]["model_fit"]
                                          + reg.metrics["stage_seconds"]["prepare"]),
                                         ("ours", reg.verts_m, ours_seconds)):
                results[name][0].append(seconds)
                results[name][1].append(truth_error(verts, scan.truth_verts_m, face))
                results[name][2].append(truth_surface_error(verts, scan.truth_verts_m, faces,
                                                            face))
            if args.skip_amberg:
                continue
            start = time.perf_counter()
            rigid = _rigid_start(prepared, ScanSurface(scan.verts_m, scan.faces), None,
                                 settings)
            source = trimesh.Trimesh(rigid.apply(model.v_template), faces, process=False)
            verts = np.asarray(trimesh.registration.nricp_amberg(
                source, scan.verts_m, distance_threshold=0.01, use_faces=False))
            results["nricp_amberg"][0].append(time.perf_counter() - start)
            results["nricp_amberg"][1].append(truth_error(verts, scan.truth_verts_m, face))
            results["nricp_amberg"][2].append(truth_surface_error(verts, scan.truth_verts_m,
                                                                  faces, face))
        for name, (seconds, corr, surface, _) in results.items():
            if seconds:
                print(_row(name, condition, seconds, corr, surface), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
