"""Synthetic Ava256: per capture, tracked meshes (world mm) with head poses, transposed KRT
cameras, AVIF photos, keypoints and segmentations, all in zips."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from flame.ict import IctModel
from scans.ava256 import MM_TO_M
from scans.images import encode_image
from scans.meshio import atomic_write_bytes, ply_bytes, write_obj
from scans.synth.head import make_head, scan_surface, write_json, write_truth
from scans.synth.layout import build_layout
from scans.synth.params import orbit_cameras, random_expression, random_identity, random_pose
from scans.synth.photos import landmark_pixels, render_photo

DATASET_KEY = 3
FRAMES_PER_SEGMENT = 2
TRACKED_PARTS = ("face", "head_and_neck")
CAMERA_IDS = ("400002", "400013", "400029", "400041", "400055", "400063")


def _write_zip(path: Path, members: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def write_ava256(ict: IctModel, raw_root: Path, truth_root: Path, subjects: int,
                 expressions: int, seed: int, scan_vertices: int, tracked_vertices: int,
                 noise_m: float, detail_m: float, views: int,
                 photo_size: tuple[int, int]) -> dict:
    """Write one capture per subject, ``expressions`` segments of 2 frames each, and the
    truth of every frame; returns the adapter options (``face_topology_path``)."""
    raw_root = Path(raw_root)
    dense = build_layout(ict, scan_vertices)
    tracked = build_layout(ict, tracked_vertices, TRACKED_PARTS)
    raw_root.mkdir(parents=True, exist_ok=True)
    write_obj(raw_root / "face_topology.obj", tracked.neutral / MM_TO_M, tracked.faces,
              tracked.uv_corners)
    for s in range(subjects):
        rng_s = np.random.default_rng([seed, DATASET_KEY, s])
        id_coeffs, tone = random_identity(rng_s), rng_s.uniform(0, 1)
        subject = f"SYN{s + 1:03d}"
        decoder = raw_root / f"m--20240{s % 9 + 1}15--1200--{subject}--GHS" / "decoder"
        base_m = np.array([0.1, 1.5, -0.05]) + rng_s.uniform(-0.05, 0.05, 3)
        cameras = orbit_cameras(base_m, views, *photo_size, rng_s)
        cam_ids = CAMERA_IDS[:views]
        krt = []
        for cam_id, cam in zip(cam_ids, cameras, strict=True):
            w2c_mm = cam["w2c"].copy()
            w2c_mm[:3, 3] /= MM_TO_M
            krt.append({"cameraId": cam_id, "K": cam["K"].T.tolist(),
                        "distortion": cam["dist"][:4].tolist(), "T": w2c_mm.T.tolist(),
                        "distortionModel": "OpenCV"})
            cam["dist"] = cam["dist"][:4]
        decoder.mkdir(parents=True, exist_ok=True)
        write_json(decoder / "camera_calibration.json", {"KRT": krt})
        rows = ["seg_id,frame_id"]
        poses, meshes, keypoints = {}, {}, {}
        images = {c: {} for c in cam_ids}
        segments = {c: {} for c in cam_ids}
        for e in range(expressions):
            seg = "EXP_neutral" if e == 0 else f"EXP_mix{e:02d}"
            rng_e = np.random.default_rng([seed, DATASET_KEY, s, e])
            expr0 = np.zeros(len(ict.expression_names)) if e == 0 else random_expression(ict, rng_e)
            for j in range(FRAMES_PER_SEGMENT):
                frame = 100 * e + 10 * j
                name = f"{frame:06d}"
                rows.append(f"{seg},{frame}")
                rng = np.random.default_rng([seed, DATASET_KEY, s, e, j])
                head = make_head(ict, id_coeffs, expr0 * rng.uniform(0.8, 1.0),
                                 random_pose(rng, 3.0, 0.003))
                world = random_pose(rng, 15.0, 0.02)
                world[:3, 3] += base_m
                pose_mm = world.copy()
                pose_mm[:3, 3] /= MM_TO_M
                poses[f"{name}.txt"] = "\n".join(" ".join(f"{x:.9g}" for x in row)
                                                 for row in pose_mm[:3]).encode()
                track = tracked.positions(head.ict_verts)
                track += rng.normal(0, noise_m, track.shape)
                track_world_mm = (track @ world[:3, :3].T + world[:3, 3]) / MM_TO_M
                meshes[f"{name}.ply"] = ply_bytes(track_world_mm)
                lmk_world = head.landmarks_m @ world[:3, :3].T + world[:3, 3]
                table = np.hstack([np.arange(68)[:, None], lmk_world / MM_TO_M,
                                   np.ones((68, 1)), np.full((68, 1), len(cam_ids))])
                buf = io.BytesIO()
                np.save(buf, table.astype(np.float32))
                keypoints[f"{name}.npy"] = buf.getvalue()
                surface = scan_surface(head, dense, rng, tone, 0.0, detail_m, hair=True,
                                       body=True)
                surface.verts = surface.verts @ world[:3, :3].T + world[:3, 3]
                n_head = int((surface.faces < surface.inlier.sum()).all(axis=1).sum())
                hair_body = np.arange(n_head, len(surface.faces))
                for cam_id, cam in zip(cam_ids, cameras, strict=True):
                    image, labels = render_photo(surface, cam, body_faces=hair_body)
                    images[cam_id][f"cam{cam_id}/{name}.avif"] = encode_image(image, "AVIF", 90)
                    segments[cam_id][f"cam{cam_id}/{name}.png"] = encode_image(labels, "PNG")
                write_truth(truth_root, f"{decoder.parent.name}--{name}", ict, head, np.eye(4),
                            scan_inlier=np.ones(len(track), bool), noise_m=np.array(noise_m),
                            detail_m=np.array(0.0), photo_ids=np.array(list(cam_ids)),
                            photo_landmarks_px=landmark_pixels(lmk_world, cameras))
        atomic_write_bytes(decoder / "frame_list.csv", ("\n".join(rows) + "\n").encode())
        _write_zip(decoder / "head_pose" / "head_pose.zip", poses)
        _write_zip(decoder / "kinematic_tracking" / "registration_vertices.zip", meshes)
        _write_zip(decoder / "keypoints_3d" / "keypoints_3d.zip", keypoints)
        for cam_id in cam_ids:
            _write_zip(decoder / "image" / f"cam{cam_id}.zip", images[cam_id])
            _write_zip(decoder / "segmentation_parts" / f"cam{cam_id}.zip", segments[cam_id])
    return {"face_topology_path": str(raw_root / "face_topology.obj")}
