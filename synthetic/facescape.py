"""Synthetic FaceScape: TU models (one fixed topology, mm) and multi-view photos in an
SfM-like frame, written as FaceScape's toolkit reads them (not as this project's reader
does): ``Rt_scale_dict.json`` holds ``[scale, Rt]`` that take a multi-view point to the TU
frame, ``v_tu = R (scale * v_mv) + t`` (toolkit ``demo_align.ipynb``, "align multi-view model
to TU model"); ``params.json``'s ``<view>_Rt`` maps the multi-view frame to the camera
(toolkit ``demo_mview_projection.ipynb`` ``projection_test``, ``src/renderer.py``
``render_cvcam``). The two files FaceScape ships in its code repository, not its data
(``toolkit/predef/Rt_scale_dict.json`` and ``toolkit/predef/landmark_indices.npz``, opened as
``./predef/...`` by ``toolkit/demo_align.ipynb`` and ``toolkit/demo_landmark.ipynb``), go to
``raw_root/toolkit/predef/``, the way a clone of the toolkit holds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from atomicfile import write_json
from flame.ict import IctModel
from scans.images import write_image
from scans.meshio import write_obj
from synthetic.head import make_head, scan_surface, surface_texture, write_truth
from synthetic.layout import build_layout
from synthetic.params import (
    FACESCAPE_MIXES,
    mix_weights,
    orbit_cameras,
    random_identity,
    random_pose,
)
from synthetic.photos import landmark_pixels, render_photo
from synthetic.silhouette import silhouette

DATASET_KEY = 2
M_PER_MM = 1e-3
EXPRESSIONS = ("neutral", "smile", "mouth_stretch", "anger", "jaw_left", "jaw_right",
               "jaw_forward", "mouth_left", "mouth_right", "dimpler", "chin_raiser",
               "lip_puckerer", "lip_funneler", "sadness", "lip_roll", "grin", "cheek_blowing",
               "eye_closed", "brow_raiser", "brow_lower")
"""FaceScape's 20 expressions in release order (``<n>_<name>``, n = position + 1)."""
MV_FOLDER = "fsmview"
TOOLKIT_FOLDER = "toolkit"


def write_facescape(ict: IctModel, raw_root: Path, truth_root: Path, subjects: int,
                    expressions: int, seed: int, scan_vertices: int, texture_tile: int,
                    noise_m: float, detail_m: float, views: int,
                    photo_size: tuple[int, int]) -> dict:
    """Write TU models under ``raw_root/<id>/models_reg/``, photos under
    ``raw_root/fsmview/``, the toolkit files under ``raw_root/toolkit/predef/`` and the truth;
    returns the adapter options (``mv_root``, ``toolkit_path``)."""
    raw_root = Path(raw_root)
    layout = build_layout(ict, scan_vertices)
    neutral_ict_lmk = ict.vertices[ict.landmarks68]
    lmk_idx = np.argmin(np.linalg.norm(layout.neutral[:, None] - neutral_ict_lmk[None], axis=2),
                        axis=0)
    predef = raw_root / TOOLKIT_FOLDER / "predef"
    predef.mkdir(parents=True, exist_ok=True)
    tmp = predef / ".landmark_indices.tmp.npz"
    np.savez(tmp, v10=lmk_idx)
    tmp.replace(predef / "landmark_indices.npz")
    mv_root = raw_root / MV_FOLDER
    rt_scale: dict[str, dict[str, list]] = {}
    for s in range(subjects):
        rng_s = np.random.default_rng([seed, DATASET_KEY, s])
        id_coeffs, tone = random_identity(rng_s), rng_s.uniform(0, 1)
        subject = str(s + 1)
        rt_scale[subject] = {}
        for e in range(min(expressions, len(EXPRESSIONS))):
            rng = np.random.default_rng([seed, DATASET_KEY, s, e])
            name = f"{e + 1}_{EXPRESSIONS[e]}"
            expr = mix_weights(ict, FACESCAPE_MIXES[EXPRESSIONS[e]])
            head = make_head(ict, id_coeffs, expr, random_pose(rng, 3.0, 0.005))
            surface = scan_surface(head, layout, rng, tone, noise_m, detail_m)
            models = raw_root / subject / "models_reg"
            models.mkdir(parents=True, exist_ok=True)
            write_image(models / f"{name}.jpg", surface_texture(surface, texture_tile))
            write_obj(models / f"{name}.obj", surface.verts / M_PER_MM, surface.faces,
                      surface.uv_corners, f"{name}.jpg")
            # the SfM frame: v_tu_mm = R (scale * v_mv) + t, with a scale far from 1
            scale = float(np.exp(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.7)))
            rot = Rotation.from_rotvec(rng.normal(0, 0.5, 3)).as_matrix()
            trans = rng.uniform(-300, 300, 3)
            rt_scale[subject][str(e + 1)] = [scale, np.hstack([rot, trans[:, None]]).tolist()]
            cameras = orbit_cameras(head.pose[:3, 3], views, *photo_size, rng)
            folder = mv_root / subject / name
            folder.mkdir(parents=True, exist_ok=True)
            params, masks = {}, []
            for view, cam in enumerate(cameras):
                image, _ = render_photo(surface, cam)
                write_image(folder / f"{view}.jpg", image)
                masks.append(silhouette(surface.verts, surface.faces, cam["K"], cam["w2c"],
                                        cam["width"], cam["height"]))
                # camera of the TU metric frame (x_cam_m = rc v_m + tc) in multi-view units:
                # x_cam_m / (M_PER_MM * scale) = rc R v_mv + (rc t + tc / M_PER_MM) / scale
                rc, tc = cam["w2c"][:3, :3], cam["w2c"][:3, 3]
                t_mv = (rc @ trans + tc / M_PER_MM) / scale
                rt_mv = np.hstack([rc @ rot, t_mv[:, None]])
                params.update({f"{view}_K": cam["K"].tolist(), f"{view}_Rt": rt_mv.tolist(),
                               f"{view}_distortion": cam["dist"].tolist(),
                               f"{view}_width": cam["width"], f"{view}_height": cam["height"],
                               f"{view}_valid": True, f"{view}_sn": f"SYN{view:04d}"})
            bad = len(cameras)
            params.update({f"{bad}_K": np.eye(3).tolist(), f"{bad}_Rt": np.zeros((3, 4)).tolist(),
                           f"{bad}_distortion": [0.0] * 5, f"{bad}_width": photo_size[0],
                           f"{bad}_height": photo_size[1], f"{bad}_valid": False})
            write_json(folder / "params.json", params, indent=1, sort_keys=False)
            write_truth(truth_root, f"{subject}_{name}", ict, head, np.eye(4),
                        scan_inlier=surface.inlier, noise_m=np.array(noise_m),
                        detail_m=np.array(detail_m),
                        photo_ids=np.array([str(v) for v in range(len(cameras))]),
                        photo_landmarks_px=landmark_pixels(head.landmarks_m, cameras),
                        photo_silhouettes=np.stack(masks), rt_scale_tu_from_mv=np.array(
                            [scale, *np.hstack([rot, trans[:, None]]).ravel()]))
    write_json(predef / "Rt_scale_dict.json", rt_scale, indent=1, sort_keys=False)
    return {"mv_root": str(mv_root), "toolkit_path": str(raw_root / TOOLKIT_FOLDER)}
