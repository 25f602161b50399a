"""NPHM at release density against the same scans at rehearsal density, one run: rendering
rate, registration time, peak memory, and what the scan pass's level of detail costs in the
maps.

    LP_NUM_THREADS=1 python bench/release_density.py --out /tmp/release [--scans 2] \
        [--views 6 100]

Writes the same synthetic NPHM scans twice (same seed): at rehearsal density
(``--scan-vertices``, <= 200k faces) and subdivided to release density (``--release-faces``,
NPHM's ~3.5M; :mod:`synthetic.subdivide`). Each stage runs in a fresh process, one at a time,
as one local worker would (one thread, ``LP_NUM_THREADS=1``): registration
(:func:`registration.worker.register_record`, the build's defaults: the scan budget
included), the level-of-detail stage (:func:`rendering.levels.prepare_level`, its folder
emptied first, so each dense scan is read and decimated inside the measured time) and
rendering (:func:`rendering.worker.render_shard` at 512 px, drawing those levels), once for
each ``--views`` count of sampled views a scan (the rehearsal's view ranges). Then, for the
release-density scans, the scan pass at its level of detail against the full scan
(``scan_pixels_per_edge`` 0) from
``--quality-views`` of the same sampled views each, on the pixels that both see in the FLAME
face region (mask bit 4 of the full render): normal angle and depth difference.

Prints a table: samples per CPU-s (rendering process user+sys over the samples; and with the
level stage's CPU-s added), registration s a scan (wall and CPU), each process's peak RSS, the
ratios, and the map differences.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as a Dask worker runs it

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RENDER = {"resolution": 512, "views_per_scan": 100, "photo_views_per_scan": 0,
          "samples_per_shard": 100, "yaw_deg": 80.0, "pitch_deg": 30.0, "roll_deg": 15.0,
          "scan_pixels_per_edge": 3.0, "scan_min_faces": 200_000}
"""configs/rehearsal.cfg's [render] (samples_per_shard: one scan a shard) with the level of
detail's defaults (:class:`rendering.level_of_detail.DetailSettings`)."""


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``: ``ru_maxrss`` keeps the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _records(root: Path) -> list:
    from scans.nphm import list_scans
    return list_scans(root / "raw")


def stage_register(root: Path, model_path: str) -> dict:
    """Register every scan of ``root`` (one process, one after another)."""
    from registration.worker import register_record
    rows = []
    for record in _records(root):
        wall, cpu = time.perf_counter(), _cpu_s()
        status = register_record((record, "bench"), model_path, str(root / "registration"),
                                 str(root / "truth"), {})
        rows.append({"scan": record.scan_id, "status": status["status"],
                     "wall_s": time.perf_counter() - wall, "cpu_s": _cpu_s() - cpu,
                     "register_scan_s": status.get("metrics", {}).get("seconds"),
                     "truth_mm": status.get("truth_error_mm", {}).get("registered"),
                     "truth_mean_mm": status.get("truth_error_mm", {}).get("registered",
                                                                          {}).get("mean"),
                     "scan_budget": status.get("scan_budget"), "reason": status.get("reason")})
    return {"scans": rows, "peak_rss_mb": _peak_rss_mb()}


def _render_settings(views: int, pixels_per_edge: float) -> dict:
    return {**RENDER, "views_per_scan": views, "samples_per_shard": views,
            "scan_pixels_per_edge": pixels_per_edge}


def _registered(root: Path) -> list:
    return [r for r in _records(root)
            if (root / "registration" / r.scan_id / "mesh.ply").is_file()]


def stage_levels(root: Path, views: int, pixels_per_edge: float) -> dict:
    """The level-of-detail stage (:func:`rendering.levels.prepare_level`) for every
    registered scan, one process, the folder emptied first (each scan decimated in the
    measured time)."""
    import shutil

    from rendering.levels import LEVELS_FOLDER, prepare_level
    shards = root / f"shards-{pixels_per_edge:g}-{views}"
    shutil.rmtree(shards / LEVELS_FOLDER, ignore_errors=True)
    rows = []
    for record in _registered(root):
        cpu = _cpu_s()
        done = prepare_level(record.to_json(), str(root / "registration"), str(shards),
                             _render_settings(views, pixels_per_edge))
        rows.append({**done, "stage_cpu_s": _cpu_s() - cpu})
    return {"scans": rows, "cpu_s": sum(r["stage_cpu_s"] for r in rows),
            "peak_rss_mb": _peak_rss_mb()}


def stage_render(root: Path, model_path: str, views: int, pixels_per_edge: float) -> dict:
    """Render every registered scan's ``views`` sampled views into shards (one process),
    drawing the levels :func:`stage_levels` wrote."""
    from rendering.worker import _renderer, plan_shards, render_shard
    settings = _render_settings(views, pixels_per_edge)
    records = _registered(root)
    shards = root / f"shards-{pixels_per_edge:g}-{views}"
    shards.mkdir(parents=True, exist_ok=True)
    for old in shards.glob("shard-*"):
        old.unlink()  # rendered anew each run
    (shards / "manifest.json").unlink(missing_ok=True)
    jobs = plan_shards("nphm", records, root / "registration", shards, settings, seed=0)
    _renderer(settings["resolution"])  # the worker's context, made before the clock starts
    wall, cpu = time.perf_counter(), _cpu_s()
    samples = sum(render_shard(job, model_path)["samples"] for job in jobs)
    cpu = _cpu_s() - cpu
    return {"samples": samples, "cpu_s": cpu, "wall_s": time.perf_counter() - wall,
            "samples_per_cpu_s": samples / cpu, "peak_rss_mb": _peak_rss_mb(),
            "lod_faces": _lod_faces(shards)}


def _lod_faces(shards: Path) -> dict:
    out = {}
    for path in sorted((shards / "lod").glob("*.npz")):
        with np.load(path) as stored:
            out[path.stem] = int(len(stored["faces"]))
    return out


def stage_quality(root: Path, model_path: str, n_views: int, levels: list[float]) -> dict:
    """The scan pass at each level of detail (``levels``: pixels per edge) against the full
    scan, the same views, on face pixels; with each level's decimation and draw CPU time."""
    from flame import load_model
    from rendering.camera import ViewSampling
    from rendering.level_of_detail import (
        DetailSettings,
        map_difference,
        pixel_footprint_m,
        scan_for_views,
    )
    from rendering.levels import aligned_surface, registration_frame
    from rendering.renderer import Renderer
    from rendering.sample import render_sample
    from rendering.worker import _load_registration
    from scans import load_scan
    from shards import sample_rng
    model = load_model(model_path)
    size = RENDER["resolution"]
    views = ViewSampling(width=size, height=size, yaw_deg=(-80.0, 80.0),
                         pitch_deg=(-30.0, 30.0), roll_deg=(-15.0, 15.0))
    face_mask = np.zeros(model.n_vertices, dtype=bool)
    face_mask[model.masks["face"]] = True
    renderer = Renderer(size, size)
    pixel_m = pixel_footprint_m(size, views.head_fill[1], views.head_extent_m)
    rows = []
    for record in _records(root):
        registration = root / "registration" / record.scan_id
        if not (registration / "mesh.ply").is_file():
            continue
        surface = aligned_surface(load_scan(record), *registration_frame(registration))
        registered, _ = _load_registration(registration, model)
        reg_gpu = renderer.upload_uv_mesh(registered)
        target = registered.verts_m[face_mask].mean(axis=0)

        def draw(mesh, reg_gpu=reg_gpu, target=target, scan_id=record.scan_id,
                 faces=registered.faces):
            gpu = renderer.upload_surface(mesh)
            start = _cpu_s()
            maps = [render_sample(renderer, gpu, reg_gpu, sample_rng(0, "nphm", scan_id, v),
                                  target, views=views, face_vertex_mask=face_mask,
                                  registered_faces=faces) for v in range(n_views)]
            gpu.release()
            return maps, (_cpu_s() - start) / n_views

        full, full_cpu = draw(surface)
        averaged = _pixel_averaged_normals(surface, full)
        renderer.ctx.__enter__()  # its context current again (the reference drew in another)
        against_averaged = [map_difference({"normal": n, "depth": a["depth"]}, a, pixels & v)
                            for a, (n, v), pixels in zip(full, averaged, _face_pixels(full),
                                                         strict=True)]
        for level in levels:
            start = _cpu_s()
            lod, choice = scan_for_views(surface, pixel_m,
                                         DetailSettings(level, RENDER["scan_min_faces"]))
            decimate_cpu = _cpu_s() - start
            maps, cpu = draw(lod)
            diffs, smooth = [], []
            for a, b, (n, v), pixels in zip(full, maps, averaged, _face_pixels(full),
                                            strict=True):
                pixels = pixels & ((b["mask"] & 1) > 0)
                diffs.append(map_difference(a, b, pixels))
                smooth.append(map_difference({"normal": n, "depth": a["depth"]}, b, pixels & v))
            rows.append({"scan": record.scan_id, "pixels_per_edge": level,
                         "faces_in": choice.faces_in, "faces_used": choice.faces_used,
                         "decimate_cpu_s": decimate_cpu, "draw_cpu_s": cpu,
                         "full_draw_cpu_s": full_cpu,
                         **{k: float(np.mean([d[k] for d in diffs])) for k in diffs[0]},
                         "vs_averaged_normal_mean_deg": float(np.mean(
                             [d["normal_mean_deg"] for d in smooth])),
                         "full_vs_averaged_normal_mean_deg": float(np.mean(
                             [d["normal_mean_deg"] for d in against_averaged]))})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        reg_gpu.release()
    return {"levels": rows, "pixel_mm": pixel_m * 1e3, "peak_rss_mb": _peak_rss_mb()}


def _face_pixels(maps: list[dict]) -> list[np.ndarray]:
    from rendering.maps import MASK_FACE
    return [(m["mask"] & MASK_FACE) > 0 for m in maps]


def _pixel_averaged_normals(surface, maps: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The full scan's normals averaged over each pixel (2 x 2 samples: the same cameras at
    twice the resolution), and where all four samples see the scan: the normal map without
    the aliasing of one sample a pixel, for reference."""
    from rendering.camera import Camera
    from rendering.renderer import Renderer
    size = maps[0]["normal"].shape[0]
    renderer = Renderer(2 * size, 2 * size)
    gpu = renderer.upload_surface(surface)
    out = []
    for m in maps:
        K = np.asarray(m["K"], np.float64).copy()
        K[:2, :2] *= 2
        K[:2, 2] = 2 * K[:2, 2] + 0.5
        fine = renderer.draw_surface(gpu, Camera(K=K, w2c=np.asarray(m["w2c"], np.float64),
                                                 width=2 * size, height=2 * size))
        normal = fine["normal"].reshape(size, 2, size, 2, 3).sum(axis=(1, 3))
        normal /= np.maximum(np.linalg.norm(normal, axis=2, keepdims=True), 1e-12)
        valid = fine["mask"].reshape(size, 2, size, 2).all(axis=(1, 3))
        out.append((normal, valid))
    gpu.release()
    renderer.release()
    return out


def _child(args: list[str]) -> None:
    stage, root, model_path = args[0], Path(args[1]), args[2]
    if stage == "register":
        result = stage_register(root, model_path)
    elif stage == "levels":
        result = stage_levels(root, int(args[3]), float(args[4]))
    elif stage == "render":
        result = stage_render(root, model_path, int(args[3]), float(args[4]))
    else:
        result = stage_quality(root, model_path, int(args[3]), [float(a) for a in args[4:]])
    print("RESULT " + json.dumps(result))


def _run(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"stage {args[0]} failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scans", type=int, default=2)
    parser.add_argument("--views", type=int, nargs="+", default=[6, 100],
                        help="sampled views a scan, one run each (6: the default config's "
                             "8 less its photo views; 100: the rehearsal's)")
    parser.add_argument("--quality-views", type=int, default=6)
    parser.add_argument("--scan-vertices", type=int, default=90_000)
    parser.add_argument("--release-faces", type=int, default=3_500_000)
    parser.add_argument("--noise-mm", type=float, default=0.1,
                        help="the synthetic scans' sensor noise (0: noise-free)")
    parser.add_argument("--detail-mm", type=float, default=0.1,
                        help="the synthetic scans' fine-detail amplitude (0: none)")
    parser.add_argument("--pixels-per-edge", type=float, default=RENDER["scan_pixels_per_edge"])
    parser.add_argument("--quality-levels", type=float, nargs="*", default=[],
                        help="more pixels-per-edge levels to measure against the full scan")
    parser.add_argument("--only-quality", action="store_true",
                        help="measure the levels of an existing --out only")
    args = parser.parse_args()
    from flame.standin import build_standin
    from synthetic import write_synthetic
    model_path = str(build_standin(args.out / "model"))
    roots = {"rehearsal": args.out / "rehearsal", "release": args.out / "release"}
    synth = {}
    for name, root in roots.items():
        if not (root / "raw").is_dir():
            start = time.perf_counter()
            write_synthetic("nphm", root / "raw", root / "truth", subjects=args.scans,
                            expressions=1, seed=0, scan_vertices=args.scan_vertices,
                            texture_tile=256, noise_mm=args.noise_mm,
                            detail_mm=args.detail_mm,
                            nphm_scan_faces=args.release_faces if name == "release" else 0)
            synth[name] = time.perf_counter() - start
    results = {}
    for name, root in ([] if args.only_quality else roots.items()):
        results[name] = {"register": _run("register", str(root), model_path)}
        for views in args.views:
            ppe = str(args.pixels_per_edge)
            results[name][f"levels-{views}"] = _run("levels", str(root), model_path, str(views),
                                                    ppe)
            results[name][f"render-{views}"] = _run("render", str(root), model_path, str(views),
                                                    ppe)
        print(name, json.dumps(results[name]), flush=True)
    quality = _run("quality", str(roots["release"]), model_path, str(args.quality_views),
                   *[str(v) for v in sorted({args.pixels_per_edge, *args.quality_levels})])
    results["quality"] = quality
    results["synthesize_s"] = synth
    name = "quality.json" if args.only_quality else "release_density.json"
    (args.out / name).write_text(json.dumps(results, indent=1))
    _quality_table(quality)
    if not args.only_quality:
        _table(results, args)


def _table(results: dict, args: argparse.Namespace) -> None:
    def reg(name: str, key: str) -> float:
        return float(np.mean([s[key] for s in results[name]["register"]["scans"]]))

    print(f"\n{args.scans} NPHM scans at 512 px, scan_pixels_per_edge "
          f"{args.pixels_per_edge:g}\n")
    print("| density | scan faces | views a scan | render samples / CPU-s | level stage CPU-s a "
          "scan | samples / CPU-s, levels included | peak RSS MB register / levels / render |")
    print("|---|---|---|---|---|---|---|")
    for views in args.views:
        for name in ("rehearsal", "release"):
            scans = results[name]["register"]["scans"]
            faces = [s["scan_budget"]["faces_in"] for s in scans if s["scan_budget"]]
            render, levels = results[name][f"render-{views}"], results[name][f"levels-{views}"]
            both = render["samples"] / (render["cpu_s"] + levels["cpu_s"])
            print(f"| {name} | {min(faces):,}-{max(faces):,} | {views} | "
                  f"{render['samples_per_cpu_s']:.2f} | {levels['cpu_s'] / len(scans):.2f} | "
                  f"{both:.2f} | {results[name]['register']['peak_rss_mb']:.0f} / "
                  f"{levels['peak_rss_mb']:.0f} / {render['peak_rss_mb']:.0f} |")
    print()
    for views in args.views:
        rel, reh = results["release"], results["rehearsal"]
        rate = (rel[f"render-{views}"]["samples_per_cpu_s"]
                / reh[f"render-{views}"]["samples_per_cpu_s"])

        def total(r: dict, views: int = views) -> float:
            return r[f"render-{views}"]["samples"] / (r[f"render-{views}"]["cpu_s"]
                                                       + r[f"levels-{views}"]["cpu_s"])
        print(f"{views} views a scan: render stage rate, release / rehearsal: {rate:.2f}x "
              f"(target >= 0.8x); with the level stage: {total(rel) / total(reh):.2f}x")
    print(f"registration, release / rehearsal: wall {reg('release', 'wall_s'):.2f} / "
          f"{reg('rehearsal', 'wall_s'):.2f} s a scan = "
          f"{reg('release', 'wall_s') / reg('rehearsal', 'wall_s'):.2f}x, CPU "
          f"{reg('release', 'cpu_s') / reg('rehearsal', 'cpu_s'):.2f}x (target <= 2x); errors "
          f"{reg('release', 'truth_mean_mm'):.2f} / {reg('rehearsal', 'truth_mean_mm'):.2f} mm "
          "(mean)")
    level = [r for r in results["quality"]["levels"]
             if r["pixels_per_edge"] == args.pixels_per_edge]
    print(f"scan pass at scan_pixels_per_edge {args.pixels_per_edge:g} against the full scan, "
          f"face pixels: normal {np.mean([r['normal_mean_deg'] for r in level]):.2f} mean / "
          f"{np.mean([r['normal_p95_deg'] for r in level]):.2f} P95 deg (bounds 0.5 / 2), "
          f"depth {np.mean([r['depth_mean_mm'] for r in level]):.3f} mm mean (bound 0.1)")


def _quality_table(quality: dict) -> None:
    print(f"\nfinest pixel {quality['pixel_mm']:.2f} mm; per level, mean over scans\n")
    print("| pixels per edge | faces drawn | decimation CPU s | draw CPU s / view (full scan) "
          "| normal mean / P95 deg | depth mean / P95 mm | normal mean deg vs pixel-averaged "
          "(full scan's) |")
    print("|---|---|---|---|---|---|---|")
    for level in sorted({r["pixels_per_edge"] for r in quality["levels"]}):
        rows = [r for r in quality["levels"] if r["pixels_per_edge"] == level]

        def mean(key: str, rows: list = rows) -> float:
            return float(np.mean([r[key] for r in rows]))

        print(f"| {level:g} | {mean('faces_used'):,.0f} of {mean('faces_in'):,.0f} | "
              f"{mean('decimate_cpu_s'):.1f} | {mean('draw_cpu_s'):.2f} "
              f"({mean('full_draw_cpu_s'):.2f}) | {mean('normal_mean_deg'):.2f} / "
              f"{mean('normal_p95_deg'):.2f} | {mean('depth_mean_mm'):.3f} / "
              f"{mean('depth_p95_mm'):.3f} | {mean('vs_averaged_normal_mean_deg'):.2f} "
              f"({mean('full_vs_averaged_normal_mean_deg'):.2f}) |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
