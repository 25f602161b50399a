"""Synthetic data sets in the NPHM, FaceScape and Ava256 layouts, from the ICT model.

Ground truth goes to ``<truth_root>/<scan_id>/truth.npz`` (outside the data set):
``verts_m`` (V, 3) and ``faces`` (F, 3) in stand-in topology, ``id_coeffs`` (100,),
``expr_weights`` (53,), ``landmarks_m`` (68, 3), all in the metric frame the adapter returns
for that scan; ``scan_inlier`` (N,) bool per vertex of the scan file (False for hair and
shoulders), ``noise_m`` and ``detail_m`` (sensor noise sigma and fine-detail amplitude), and
where there are photos ``photo_ids`` (P,), ``photo_landmarks_px`` (P, 68, 2), the true
landmarks' undistorted pixel positions, and ``photo_silhouettes`` (P, H, W) bool, the pixels
the scan's true surface covers in each undistorted photo (FaceScape: the TU model; Ava256:
the noise-free tracked mesh). Ava256 adds ``head_pose`` (4, 4, head -> world, metres) and
``uv_texture`` (T, T, 3) uint8, the frame's true uv texture (before AVIF coding),
FaceScape ``rt_scale_tu_from_mv`` (13,): scale, then the 3x4 Rt row-major.
"""

from __future__ import annotations

from pathlib import Path

from flame.ict import load_ict
from synthetic.ava256 import write_ava256
from synthetic.facescape import write_facescape
from synthetic.nphm import write_nphm

DATASETS = ("nphm", "facescape", "ava256")


def write_synthetic(dataset: str, raw_root: str | Path, truth_root: str | Path,
                    subjects: int = 2, expressions: int = 2, seed: int = 0,
                    scan_vertices: int = 100_000, texture_tile: int = 512,
                    noise_mm: float = 0.1, detail_mm: float = 0.1, views: int = 4,
                    photo_size: tuple[int, int] = (320, 240), tracked_vertices: int = 8000,
                    ict_path: str | Path | None = None, ava256_downscale: int = 4,
                    head_pose_form: str = "txt", calibration_form: str = "json",
                    ava256_folder_form: str = "download", nphm_scan_faces: int = 0,
                    ava256_texture_size: int = 1024) -> dict:
    """Write a synthetic data set in ``dataset``'s layout; return the adapter options
    (keyword arguments for ``list_scans``) that read it.

    scan_vertices : about this many vertices per scan surface (NPHM, FaceScape TU, and the
        Ava256 photo subject); tracked_vertices : Ava256's tracked-mesh topology size;
    texture_tile : NPHM and FaceScape texture height in pixels (the atlas is 5 tiles wide;
        1832 gives a 4K texture's 16.8M pixels); ava256_texture_size : Ava256's square uv
        textures (1024 as released); photo_size : (width, height) of FaceScape photos (4344 x
        2896 as released; Ava256 photos are its 2668 x 4096 sensor / ``ava256_downscale``,
        667 x 1024 as released at 4);
    head_pose_form ("txt" | "npy"), calibration_form ("json" | "pkl"): Ava256 file forms;
    ava256_folder_form: capture folder names, "download" (as ava-256's download.py writes
    them), "ghs" (as its DATASHEET.md shows) or "mixed";
    noise_mm : sensor noise sigma along the normal; detail_mm : fine-detail amplitude;
    nphm_scan_faces : > 0, NPHM scans subdivided to at least this many faces (release density).
    """
    ict = load_ict(ict_path)
    raw_root, truth_root = Path(raw_root), Path(truth_root)
    noise_m, detail_m = noise_mm * 1e-3, detail_mm * 1e-3
    if dataset == "nphm":
        return write_nphm(ict, raw_root, truth_root, subjects, expressions, seed,
                          scan_vertices, texture_tile, noise_m, detail_m, nphm_scan_faces)
    if dataset == "facescape":
        return write_facescape(ict, raw_root, truth_root, subjects, expressions, seed,
                               scan_vertices, texture_tile, noise_m, detail_m, views,
                               photo_size)
    if dataset == "ava256":
        return write_ava256(ict, raw_root, truth_root, subjects, expressions, seed,
                            scan_vertices, tracked_vertices, noise_m, detail_m, views,
                            ava256_downscale, head_pose_form, calibration_form,
                            ava256_folder_form, ava256_texture_size)
    raise ValueError(f"unknown data set {dataset!r}; known: {DATASETS}")


__all__ = ["DATASETS", "write_synthetic"]
