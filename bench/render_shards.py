"""Render + shard benchmark: samples/s rendered and written, codec size and read speed.

Usage: ``python bench/render_shards.py [--samples 256] [--rounds 4] [--reads 400]
[--out bench/out]``

Renders a ~97k-vertex scan-like head and the 14k-vertex registered stand-in
(:func:`build_scene`) at 512x512 on one core (llvmpipe with LP_NUM_THREADS=1). Prints, in one
run: the raster alone (each pass drawn and read back, no maps, no write), a full sample, and
a sample rendered and written (inline, and in the shard writer's thread, once with the
renderer's GIL-free GL calls and once with moderngl's own, which keep the GIL), so the write's
share is a ratio against the raster floor; the modes alternate in blocks (one shard a block),
and the median and range of the per-block wall-clock ratios are printed too; then
writes the same samples with each codec and as a per-view folder (rgb.png, mask.png,
normal/uv/depth .npy float32) and prints sizes and random-read rates, decoded to the
ShardDataset item (float32 maps), with ratios against the folder. Render and write rates are
per CPU-second of this process (all its threads), so other load on the machine does not halve
them; read rates on 2 cores are wall-clock, two reader processes at once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")  # one core for the rasteriser
os.environ.setdefault("BLOSC_NTHREADS", "1")

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trimesh  # noqa: E402

from flame.ict import load_ict, standin_triangles, standin_vertex_ids  # noqa: E402
from geometry import vertex_normals  # noqa: E402
from rendering import Renderer, Surface, UVMesh, render_sample  # noqa: E402
from rendering.camera import ViewSampling, sample_view_camera  # noqa: E402
from rendering.gl_calls import ModernglCalls  # noqa: E402
from shards import ShardDataset, ShardInfo, sample_rng, write_shard  # noqa: E402
from shards.allocator import retain_freed_memory  # noqa: E402
from shards.codecs import CODECS, DEFAULT_CODEC  # noqa: E402

SIZE = 512
TOTAL_SAMPLES = 976_000


def build_scene(max_edge_m: float = 0.0025) -> tuple[Surface, UVMesh, np.ndarray, np.ndarray]:
    """A registered stand-in head and a ~100k-vertex scan-like surface.

    The registered mesh is the FLAME-format stand-in topology (ICT face, head and neck,
    eyeballs: 14,388 vertices) with ICT's uv squeezed into [0, 1]; the scan is the same head
    subdivided to ~97k vertices, with fine bumps, a hair cap 8 mm above the scalp, and vertex
    colours. Returns (scan, registered, face_vertex_mask (V,) bool, head centre (3,) m).
    """
    ict = load_ict()
    ids = standin_vertex_ids(ict)
    keep = standin_triangles(ict)
    remap = np.full(len(ict.vertices), -1)
    remap[ids] = np.arange(len(ids))
    faces = remap[ict.faces[keep]]
    verts = ict.vertices[ids]
    vt_all = ict.uv / np.array([np.ceil(ict.uv[:, 0].max()), 1.0])
    used_vt = np.unique(ict.faces_uv[keep])
    vt_remap = np.full(len(vt_all), -1)
    vt_remap[used_vt] = np.arange(len(used_vt))
    registered = UVMesh(verts, faces, vt_all[used_vt], vt_remap[ict.faces_uv[keep]])
    face_vertex_mask = np.isin(ids, ict.part_vertices("face"))

    scan = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(verts, faces, max_edge=max_edge_m),
                           process=True)
    v = np.asarray(scan.vertices)
    n = vertex_normals(v, scan.faces)
    bumps = 0.0003 * np.sin(v[:, 0] * 900) * np.sin(v[:, 1] * 700)
    scalp = (v[:, 1] > 0.09) & (v[:, 2] < 0.07)
    v = v + n * (bumps + 0.008 * scalp)[:, None]
    skin = np.array([205, 160, 135]) * (0.9 + 0.1 * np.sin(v[:, :1] * 300))
    colours = np.where(scalp[:, None], np.array([70, 50, 35]), skin).clip(0, 255)
    surface = Surface(v, np.asarray(scan.faces), colours.astype(np.uint8))
    centre = np.array([0.0, 0.02, 0.03])
    return surface, registered, face_vertex_mask, centre


def _with_ids(maps: dict, view: int) -> dict:
    maps.update(shape=np.zeros(300, np.float32), expr=np.zeros(100, np.float32),
                pose=np.zeros(15, np.float32), transl=np.zeros(3, np.float32), scale=1.0,
                dataset="bench", subject="s000", expression="neutral", scan="s000_neutral",
                view=view)
    return maps


class FolderDataset(torch.utils.data.Dataset):
    """The per-view folder baseline, decoded to the same item as ShardDataset."""

    def __init__(self, root: Path, n: int) -> None:
        self.dirs = [root / f"{i:05d}" for i in range(n)]

    def __len__(self) -> int:
        return len(self.dirs)

    def __getitem__(self, index: int) -> dict:
        d = self.dirs[index]
        rgb = np.array(Image.open(d / "rgb.png"))
        meta = json.loads((d / "meta.json").read_text())
        return {"rgb": torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255),
                "normal": torch.from_numpy(np.load(d / "normal.npy")).permute(2, 0, 1),
                "uv": torch.from_numpy(np.load(d / "uv.npy")).permute(2, 0, 1),
                "mask": torch.from_numpy(np.array(Image.open(d / "mask.png"))),
                "K": torch.tensor(meta["K"]), "w2c": torch.tensor(meta["w2c"]),
                "sample_id": meta["id"], "subject": "s000", "dataset": "bench"}


def write_folder(root: Path, samples: list[dict]) -> None:
    for i, s in enumerate(samples):
        d = root / f"{i:05d}"
        d.mkdir(parents=True)
        Image.fromarray(s["rgb"]).save(d / "rgb.png")
        Image.fromarray(s["mask"]).save(d / "mask.png")
        for name in ("normal", "uv", "depth"):
            np.save(d / f"{name}.npy", s[name].astype(np.float32))
        (d / "meta.json").write_text(json.dumps({"K": s["K"].tolist(), "w2c": s["w2c"].tolist(),
                                                 "id": f"bench/s000/{i:04d}"}))


class Clock:
    """Wall and CPU seconds of a block: ``cpu`` of this process (all threads), ``render_cpu``
    of the threads alive through the block (the caller's and llvmpipe's; not the shard
    writer's thread, which lives for one ``write_shard`` call)."""

    def __enter__(self) -> Clock:
        self._threads = _thread_cpu()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        after = _thread_cpu()
        self.render_cpu = sum(after[t] - self._threads[t] for t in after if t in self._threads)


def _thread_cpu() -> dict[int, float]:
    """CPU seconds of each live thread of this process, by thread id."""
    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}


def _timed_reads(dataset: torch.utils.data.Dataset, reads: int, seed: int,
                 ) -> tuple[int, float, float]:
    """(count, wall s, CPU s) of ``reads`` random items after a short warm-up (first opens)."""
    retain_freed_memory()  # as in a DataLoader worker (shards.ShardDataset does it there)
    order = np.random.default_rng(seed).integers(0, len(dataset), size=reads + 4)
    for index in order[:4]:
        dataset[int(index)]
    with Clock() as clock:
        for index in order[4:]:
            dataset[int(index)]
    return reads, clock.wall, clock.cpu


def read_rates(dataset: torch.utils.data.Dataset, reads: int) -> tuple[float, float]:
    """Random decoded items per CPU-second in this process, and per wall second summed over
    two processes reading at once (forked; each opens its own files)."""
    count, _, cpu = _timed_reads(dataset, reads, 0)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_timed_reads, [(dataset, reads, 1), (dataset, reads, 2)])
    return count / cpu, sum(n / wall for n, wall, _ in results)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--reads", type=int, default=400, help="0: render and write rows only")
    parser.add_argument("--rounds", type=int, default=4, help="blocks the modes alternate in")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    out = args.out / "render_shards"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    n = args.samples

    scan, registered, face_mask, centre = build_scene()
    print(f"scan {len(scan.verts_m)} vertices / {len(scan.faces)} faces; registered "
          f"{len(registered.verts_m)} vertices; {SIZE}x{SIZE}; LP_NUM_THREADS="
          f"{os.environ['LP_NUM_THREADS']}")
    renderer = Renderer(SIZE, SIZE)
    scan_gpu, reg_gpu = renderer.upload_surface(scan), renderer.upload_uv_mesh(registered)

    def sample(view: int) -> dict:
        maps = render_sample(renderer, scan_gpu, reg_gpu, sample_rng(0, "bench", "s000", view),
                             centre, face_vertex_mask=face_mask, registered_faces=registered.faces)
        return _with_ids(maps, view)

    sample(0)
    cameras = [sample_view_camera(sample_rng(0, "bench", "s000", v), ViewSampling(), centre)
               for v in range(n)]

    def raster(views: range) -> None:
        for view in views:
            renderer.draw_surface(scan_gpu, cameras[view])
            renderer.draw_corners(reg_gpu, cameras[view], cull_back_faces=True)

    def rendered(views: range) -> None:
        for view in views:
            sample(view)

    def written(views: range, background: bool) -> None:
        write_shard(out / f"e2e-{views.start}-{background}.h5", (sample(v) for v in views),
                    len(views), ShardInfo("bench"), background=background)

    def written_gil_held(views: range) -> None:
        gil_free, renderer._gl = renderer._gl, ModernglCalls()  # noqa: SLF001 (the baseline)
        try:
            written(views, True)
        finally:
            renderer._gl = gil_free  # noqa: SLF001

    modes = {"raster alone (both passes drawn and read back)": raster,
             "full sample (maps, masks; no write)": rendered,
             f"render + write ({DEFAULT_CODEC}) in the rendering thread":
                 lambda views: written(views, False),
             f"render + write ({DEFAULT_CODEC}), writer thread, moderngl's GL calls (GIL held)":
                 written_gil_held,
             f"render + write ({DEFAULT_CODEC}), writer thread (default)":
                 lambda views: written(views, True)}
    clocks = {name: np.zeros(3) for name in modes}
    block_walls: dict[str, list[float]] = {name: [] for name in modes}
    block = max(1, n // args.rounds)
    for start in range(0, n, block):  # modes interleaved: load from other jobs hits all alike
        views = range(start, min(n, start + block))
        for name, run in modes.items():
            with Clock() as clock:
                run(views)
            clocks[name] += (clock.cpu, clock.render_cpu, clock.wall)
            block_walls[name].append(clock.wall)
    base = n / clocks[next(iter(modes))]
    print(f"{n} samples in blocks of {block}, the modes interleaved; rates (and against the "
          "raster alone) per CPU-second of this process, per CPU-second of the rendering "
          "threads (all but the shard writer's), per wall second:")
    for name, seconds in clocks.items():
        rates = n / seconds
        print(f"  {name}: " + ", ".join(f"{rate:.1f}/{unit} ({rate / b:.2f}x)" for rate, b, unit
                                        in zip(rates, base, ("CPU-s", "render CPU-s", "s wall"),
                                               strict=True)))
    raster_walls = block_walls[next(iter(modes))]
    print("per block, wall-clock rate against the raster alone of the same block: median "
          "[min - max]")
    for name, walls in block_walls.items():
        ratios = [r / w for r, w in zip(raster_walls, walls, strict=True)]
        print(f"  {name}: {statistics.median(ratios):.2f}x [{min(ratios):.2f} - "
              f"{max(ratios):.2f}]")
    e2e = n / clocks[list(modes)[-1]][0]  # per CPU-second of the process
    samples = [sample(v) for v in range(n)]
    if args.reads <= 0:
        renderer.release()
        return

    raw = sum(s[k].nbytes if s[k].dtype == np.uint8 else s[k].astype(np.float32).nbytes
              for s in samples for k in ("rgb", "normal", "uv", "mask", "depth")) / n
    folder = out / "folder"
    with Clock() as clock:
        write_folder(folder, samples)
    rows = [("per-view folder (png+npy)", n / clock.cpu, folder_bytes(folder) / n,
             FolderDataset(folder, n))]
    for codec in CODECS:
        path = out / f"{codec}.h5"
        with Clock() as clock:
            write_shard(path, samples, n, ShardInfo("bench", codec))
        rows.append((f"shard {codec}", n / clock.cpu, path.stat().st_size / n,
                     ShardDataset([path])))
    base_size = rows[0][2]
    print(f"\nraw arrays (float32 maps, uint8 rgb/mask): {raw / 1e6:.2f} MB/sample; "
          f"{n} samples, {args.reads} random reads\n")
    print("| layout | write /CPU-s | MB/sample | raw / size | size vs folder | read /CPU-s "
          "| read /s, 2 cores | read vs folder |")
    print("|" + "---|" * 8)
    base_read = None
    for name, write_rate, size, dataset in rows:
        one_cpu, two_cores = read_rates(dataset, args.reads)
        base_read = base_read or two_cores
        print(f"| {name} | {write_rate:.0f} | {size / 1e6:.2f} | {raw / size:.1f}x | "
              f"{size / base_size:.2f} | {one_cpu:.0f} | {two_cores:.0f} | "
              f"{two_cores / base_read:.2f}x |", flush=True)
    hours = TOTAL_SAMPLES / e2e / 3600
    print(f"\n{TOTAL_SAMPLES} samples at {e2e:.1f}/s per core: {hours:.1f} h on one core, "
          f"{hours / 16:.1f} h on a 16-core machine, {hours / 32 * 60:.0f} min on 32 one-core "
          "Dask workers (rendering bound, linear scaling)")
    renderer.release()


if __name__ == "__main__":
    main()
