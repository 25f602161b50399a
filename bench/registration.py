"""Benchmark: registration of synthetic ICT scans vs trimesh's nricp_amberg, same scans, same
rigid start, one core; and (``--ablation``) the free correspondence signals per data set.

    python bench/registration.py --scans 3 --points 100000 [--landmarks]
    python bench/registration.py --ablation [--seed 0 --scan-vertices 30000 ...]

The ablation writes the three synthetic data sets (default: the default build's 4 subjects x
2 expressions, 30k vertices, seed 0), reads them through the adapters, registers every scan
with each signal alone and all together (:func:`registration.signals.register_with_signals`)
and prints per data set the vertex error against truth.npz (mean, median, P95 over the face
region, mean of the per-scan figures), the distance to the true surface and CPU seconds per
scan. "before" is the path before the signals (landmarks in the model fit only). The
shared-topology map is built, as the build does, from the scans registered with every other
signal ("landmarks" where there are some); its CPU time is printed once per data set.

Prints CPU and wall seconds per scan and the error against ground truth over the face region
(mm): vertex-to-vertex correspondence error (mean, median, P95, and its mean parts along the
true surface's normal and across it) and distance to the true surface. The "projection floor"
row is the least-squares projection of the truth onto the model's span (given the true
correspondences, no scan): no registration in this model's topology can do better. The "ours
on the true surface" row registers the noise-free, complete true surface itself (subdivided
once, no holes, no hair): what registration from geometry alone reaches with perfect data,
since the position of a vertex along a smooth surface is not visible in its shape.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as a Dask worker runs it

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import trimesh  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flame import load_model  # noqa: E402
from flame.ict import load_ict  # noqa: E402
from flame.standin import build_standin  # noqa: E402
from registration import prepare_model, register_scan, truth_error, truth_surface_error  # noqa: E402
from registration.projection import project_to_model, split_error  # noqa: E402
from registration.register import _rigid_start  # noqa: E402
from registration.scan_surface import ScanSurface  # noqa: E402
from registration.settings import RegistrationSettings  # noqa: E402
from registration.signals import SIGNALS, register_with_signals  # noqa: E402
from registration.topology_map import build_topology_map, topology_signature  # noqa: E402
from scans.datasets import list_scans, load_scan  # noqa: E402
from synthetic import write_synthetic  # noqa: E402
from synthetic.registration_scan import make_synthetic_scan  # noqa: E402

METHODS = ("projection floor", "ours on the true surface", "ours (fit only)", "ours",
           "nricp_amberg")


def _row(name: str, condition: str, rows: list[dict]) -> str:
    def mean(key: str) -> str:
        values = [r[key] for r in rows]
        return "-" if any(v is None for v in values) else f"{np.mean(values):.2f}"

    return (f"| {name:<24} | {condition:<10} | {mean('cpu')} | {mean('wall')} | "
            f"{mean('mean')} | {mean('median')} | {mean('p95')} | {mean('normal')} | "
            f"{mean('tangential')} | {mean('surf_mean')} | {mean('surf_p95')} |")


def _scores(verts: np.ndarray, truth: np.ndarray, faces: np.ndarray, face: np.ndarray,
            cpu: float | None, wall: float | None) -> dict:
    corr = truth_error(verts, truth, face)
    parts = split_error(verts, truth, faces, face)
    surface = truth_surface_error(verts, truth, faces, face)
    return {"cpu": cpu, "wall": wall, "mean": corr["mean"], "median": corr["median"],
            "p95": corr["p95"], "normal": parts["normal"], "tangential": parts["tangential"],
            "surf_mean": surface["mean"], "surf_p95": surface["p95"]}


def _ablation_rows(dataset: str, prepared, root: Path, options: dict) -> list[str]:
    """The ablation table's rows of one written data set."""
    records = list_scans(dataset, root / "raw" / dataset, **options)
    scans = [load_scan(r) for r in records]
    truths = [np.load(root / "truth" / dataset / r.scan_id / "truth.npz")["verts_m"]
              for r in records]
    settings = RegistrationSettings()
    before = replace(settings, landmark_refine_weight=0.0)

    def run(use: tuple[str, ...], topology_map=None, run_settings=settings) -> list[dict]:
        rows = []
        for scan, truth in zip(scans, truths, strict=True):
            cpu = time.process_time()
            reg, _ = register_with_signals(prepared, scan.verts_m, scan.faces, run_settings,
                                           scan.landmarks_m, scan.init_verts_m, topology_map,
                                           use=use)
            cpu = time.process_time() - cpu
            rows.append({**_scores(reg.verts_m, truth, prepared.model.faces, prepared.face_ids,
                                   cpu, None), "verts": reg.verts_m})
        return rows

    has = {"landmarks": any(s.landmarks_m is not None for s in scans),
           "flame_ply": any(s.init_verts_m is not None for s in scans),
           "topology_map": len({topology_signature(len(s.verts_m), s.faces)
                                for s in scans if s.faces is not None}) == 1
           and scans[0].faces is not None}
    results = {"before": run(("landmarks",), run_settings=before), "geometry only": run(())}
    for name in ("landmarks", "flame_ply"):
        if has[name]:
            results[f"{name} alone"] = run((name,))
    extra = ""
    if has["topology_map"]:
        first = run(tuple(n for n in ("landmarks", "flame_ply") if has[n]))
        cpu = time.process_time()
        shared = build_topology_map([(s.verts_m, r["verts"]) for s, r in zip(scans, first,
                                                                             strict=True)],
                                    scans[0].faces, np.flatnonzero(prepared.free),
                                    settings.map_max_distance_m, settings.map_max_spread_m)
        extra = (f" (map: {time.process_time() - cpu:.1f} CPU s over {len(scans)} scans, "
                 f"{len(shared.vertex_ids)} vertices)")
        results["topology_map alone"] = run(("topology_map",), shared)
        results["all"] = run(SIGNALS, shared)
    else:
        results["all"] = run(SIGNALS)
    return [_row(f"{dataset}: {name}", f"{len(scans)}", rows) + (extra if name == "all" else "")
            for name, rows in results.items()]


def ablation(args: argparse.Namespace) -> int:
    """Write the three data sets and print the ablation table."""
    model_path = args.model or build_standin(tempfile.mkdtemp(prefix="standin-"))
    prepared = prepare_model(load_model(model_path))
    root = Path(tempfile.mkdtemp(prefix="ablation-"))
    print(f"seed {args.seed}, {args.subjects} subjects x {args.expressions} expressions, "
          f"{args.scan_vertices} scan vertices, Ava256 tracked topology "
          f"{args.tracked_vertices}; errors in mm over the face region, CPU s per scan")
    print("| data set: signals | scans | CPU s | wall s | corr mean | median | P95 | normal "
          "| tangential | surf mean | P95 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dataset in args.datasets:
        options = write_synthetic(dataset, root / "raw" / dataset, root / "truth" / dataset,
                                  subjects=args.subjects, expressions=args.expressions,
                                  seed=args.seed, scan_vertices=args.scan_vertices,
                                  tracked_vertices=args.tracked_vertices, texture_tile=32,
                                  views=1, photo_size=(32, 24), ava256_downscale=16)
        for line in _ablation_rows(dataset, prepared, root, options):
            print(line, flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=3, help="scans per condition")
    parser.add_argument("--points", type=int, default=100_000, help="points per scan")
    parser.add_argument("--model", type=Path, default=None, help="FLAME pickle (default: "
                        "the stand-in, built into a temporary folder)")
    parser.add_argument("--landmarks", action="store_true",
                        help="give the registration the scans' 68 landmarks (1 mm noise)")
    parser.add_argument("--skip-amberg", action="store_true")
    parser.add_argument("--ablation", action="store_true",
                        help="the signals' ablation on written synthetic data sets")
    parser.add_argument("--datasets", nargs="+", default=["nphm", "facescape", "ava256"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--expressions", type=int, default=2)
    parser.add_argument("--scan-vertices", type=int, default=30_000)
    parser.add_argument("--tracked-vertices", type=int, default=8000)
    args = parser.parse_args()
    if args.ablation:
        return ablation(args)

    model_path = args.model or build_standin(tempfile.mkdtemp(prefix="standin-"))
    model = load_model(model_path)
    prepared = prepare_model(model)
    ict = load_ict()
    settings = RegistrationSettings()
    face, faces = prepared.face_ids, model.faces
    print(f"{args.scans} scans per condition, {args.points} points, landmarks: "
          f"{'yes' if args.landmarks else 'no'}; errors in mm over the face region, "
          "seconds per scan on one core")
    print("| method | scans | CPU s | wall s | corr mean | median | P95 | normal | tangential "
          "| surf mean | P95 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    conditions = {"clean": {}, "holes+hair": {"hole_fraction": 0.3, "hair_fraction": 0.05}}
    for condition, options in conditions.items():
        results: dict[str, list[dict]] = {name: [] for name in METHODS}
        for seed in range(args.scans):
            scan = make_synthetic_scan(ict, 100 + seed, n_points=args.points, **options)
            truth = scan.truth_verts_m
            floor, _ = project_to_model(prepared.lin, truth, face)
            results["projection floor"].append(_scores(floor, truth, faces, face, None, None))
            if condition == "clean":
                perfect = register_scan(prepared, *trimesh.remesh.subdivide(truth, faces),
                                        settings=settings)
                results["ours on the true surface"].append(
                    _scores(perfect.verts_m, truth, faces, face, None, None))
            landmarks = scan.landmarks_m if args.landmarks else None
            wall, cpu = time.perf_counter(), time.process_time()
            reg = register_scan(prepared, scan.verts_m, scan.faces, landmarks, settings)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stages = reg.metrics["stage_seconds"]
            fit_wall = stages["prepare"] + stages["rigid"] + stages["model_fit"]
            results["ours (fit only)"].append(_scores(reg.fit_verts_m, truth, faces, face,
                                                      None, fit_wall))
            results["ours"].append(_scores(reg.verts_m, truth, faces, face, cpu, wall))
            if args.skip_amberg:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            rigid = _rigid_start(prepared, ScanSurface(scan.verts_m, scan.faces), landmarks,
                                 settings)
            source = trimesh.Trimesh(rigid.apply(model.v_template), faces, process=False)
            verts = np.asarray(trimesh.registration.nricp_amberg(
                source, scan.verts_m, distance_threshold=0.01, use_faces=False))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results["nricp_amberg"].append(_scores(verts, truth, faces, face, cpu, wall))
        for name, rows in results.items():
            if rows:
                print(_row(name, condition, rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
