"""Decimation libraries on a release-density scan: time, peak memory, and what the scan pass
draws with the result against the full scan (normal angle and depth on pixels both see).

    python bench/decimation.py SCAN_FOLDER [--faces N ...] [--views 8]

``SCAN_FOLDER`` is an NPHM scan folder (``scan.ply`` + texture + ``flame.ply``), e.g. written by
``synthetic.nphm.write_nphm(..., scan_faces=3_500_000)``. Each library runs in its own process
(its peak RSS is that process's), on the scan in metres; open3d is measured only when it
imports (it is not a dependency of the project; nor are pyfqmr and meshoptimizer: install them
to measure them; ``meshoptimizer==0.2.30a0``, zeux/meshoptimizer's own bindings: ``simplify``
collapses onto existing vertices, ``simplify_sloppy`` clusters them).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rendering.camera import ViewSampling, sample_view_camera
from rendering.geometry import Surface
from rendering.level_of_detail import map_difference
from rendering.renderer import Renderer
from scans import ScanRecord
from scans.datasets import load_scan

CANDIDATES = ("fast_simplification", "pyfqmr", "meshoptimizer", "meshoptimizer_sloppy", "open3d")


def load_nphm_scan(folder: Path):
    """The scan of one NPHM folder, read by the project's adapter (metres, FLAME frame)."""
    files = {"scan": str(folder / "scan.ply"), "flame": str(folder / "flame.ply")}
    return load_scan(ScanRecord("nphm", folder.parent.name, folder.name,
                                f"{folder.parent.name}_{folder.name}", files))


def run_candidate(name: str, verts: np.ndarray, faces: np.ndarray,
                  n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimate with library ``name`` to about ``n_faces`` faces (open borders kept)."""
    if name == "fast_simplification":
        import fast_simplification
        return fast_simplification.simplify(verts.astype(np.float32), faces.astype(np.int32),
                                            target_count=n_faces, preserve_border=True)
    if name == "pyfqmr":
        import pyfqmr
        simplifier = pyfqmr.Simplify()
        simplifier.setMesh(verts, faces)
        simplifier.simplify_mesh(target_count=n_faces, preserve_border=True, verbose=False)
        out_verts, out_faces, _ = simplifier.getMesh()
        return out_verts, out_faces
    if name.startswith("meshoptimizer"):
        import meshoptimizer
        indices = np.ascontiguousarray(faces, np.uint32).reshape(-1)
        points = np.ascontiguousarray(verts, np.float32)
        kept = np.empty_like(indices)
        if name == "meshoptimizer":
            count = meshoptimizer.simplify(kept, indices, points, target_index_count=3 * n_faces,
                                           target_error=1.0,
                                           options=meshoptimizer.SIMPLIFY_LOCK_BORDER)
        else:
            count = meshoptimizer.simplify_sloppy(kept, indices, points,
                                                  target_index_count=3 * n_faces,
                                                  target_error=1.0)
        used, local = np.unique(kept[:count], return_inverse=True)
        return points[used], local.reshape(-1, 3)
    if name == "open3d":
        import open3d
        mesh = open3d.geometry.TriangleMesh(open3d.utility.Vector3dVector(verts),
                                            open3d.utility.Vector3iVector(faces))
        out = mesh.simplify_quadric_decimation(target_number_of_triangles=n_faces)
        return np.asarray(out.vertices), np.asarray(out.triangles)
    raise ValueError(name)


def _child(name: str, npz: str, n_faces: int, out: str) -> None:
    with np.load(npz) as mesh:
        verts, faces = mesh["verts"], mesh["faces"]
    start = time.process_time()
    out_verts, out_faces = run_candidate(name, verts, faces, n_faces)
    seconds = time.process_time() - start
    np.savez(out, verts=np.asarray(out_verts, np.float32), faces=np.asarray(out_faces, np.int32))
    print(json.dumps({"cpu_s": seconds, "peak_rss_mb":
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--faces", type=int, nargs="+", default=[200_000])
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    args = parser.parse_args()
    scan = load_nphm_scan(args.folder)
    print(f"scan: {len(scan.faces):,} faces, {len(scan.verts_m):,} vertices")
    renderer = Renderer(args.resolution, args.resolution)
    rng = np.random.default_rng(0)
    views = ViewSampling(width=args.resolution, height=args.resolution)
    target = scan.init_verts_m.mean(axis=0)
    cameras = [sample_view_camera(rng, views, target) for _ in range(args.views)]
    gpu = renderer.upload_surface(Surface(scan.verts_m, scan.faces))
    full = [renderer.draw_surface(gpu, cam) for cam in cameras]
    full = [{"normal": m["normal"], "depth": m["depth"], "mask": m["mask"]} for m in full]
    gpu.release()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "scan.npz")
        np.savez(npz, verts=scan.verts_m, faces=scan.faces)
        for n_faces in args.faces:
            for name in args.candidates:
                out = str(Path(tmp) / f"{name}.npz")
                proc = subprocess.run([sys.executable, __file__, "--child", name, npz,
                                       str(n_faces), out], capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                    continue
                facts = json.loads(proc.stdout.strip().splitlines()[-1])
                with np.load(out) as mesh:
                    lod = Surface(mesh["verts"], mesh["faces"])
                gpu = renderer.upload_surface(lod)
                diffs = []
                for cam, ref in zip(cameras, full, strict=True):
                    maps = renderer.draw_surface(gpu, cam)
                    diffs.append(map_difference(ref, maps, ref["mask"] & maps["mask"]))
                gpu.release()
                row = {"library": name, "target_faces": n_faces, "faces": len(lod.faces), **facts,
                       **{k: float(np.mean([d[k] for d in diffs])) for k in diffs[0]
                          if k != "pixels"}}
                rows.append(row)
                print(json.dumps(row))
    print("| library | target | faces | CPU s | peak RSS MB | normal mean / P95 deg | "
          "depth mean / P95 mm |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['library']} | {r['target_faces']:,} | {r['faces']:,} | {r['cpu_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} | {r['normal_mean_deg']:.2f} / {r['normal_p95_deg']:.2f} "
              f"| {r['depth_mean_mm']:.3f} / {r['depth_p95_mm']:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main()
