"""Ava256 adapter: a "scan" is one frame's tracked mesh, with that frame's photos.

Layout (as released)::

    ROOT/m--<date>--<time>--<subject>--GHS/decoder/
        camera_calibration.json   {"KRT": [{"cameraId", "K", "distortion", "T", ...}]}:
                                  K (3x3) stored transposed; T (4x4) stored transposed, its
                                  top 3x4 (after transposing back) is world-to-camera (mm);
                                  distortion: 4 values, read as OpenCV (k1, k2, p1, p2)
        frame_list.csv            rows "seg_id,frame_id" (a header line is skipped)
        head_pose/head_pose.zip   <frame:06d>.txt: 3x4 head pose, head frame -> world (mm)
        image/cam<id>.zip         cam<id>/<frame:06d>.avif
        kinematic_tracking/registration_vertices.zip   <frame:06d>.ply: vertices only, world
                                  frame, mm, in Ava's face topology
        keypoints_3d/keypoints_3d.zip   <frame:06d>.npy: rows [id, x, y, z, confidence, inliers]
        segmentation_parts/cam<id>.zip  label PNGs (1 hair, 2 body, ...); not read here

Options: ``face_topology_path`` (the topology's ``face_topology.obj``; default
``ROOT/face_topology.obj`` when present, else the scan is a point cloud),
``frames_per_segment`` (default 1: that many frames spread evenly over each segment of
frame_list.csv, the middle one when 1). ``subject`` is the capture's subject id,
``expression`` the segment id, ``scan_id`` ``<capture folder>--<frame:06d>``.
The transform removes the frame's head pose and converts mm to metres
(``to_metres = diag(1e-3) @ inverse(head_pose)``): the head frame is taken to have
FLAME's axes. Landmarks are keypoint rows with ids 0-67 (None when those are not all there).
Zips are read member by member, never unpacked.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from scans.errors import ScanError
from scans.geometry import check_size_m, transform_points
from scans.images import read_zip_member, zip_members
from scans.meshio import check_mesh, read_obj, read_ply
from scans.records import Photo, Scan, ScanRecord

DATASET = "ava256"
MM_TO_M = 1e-3
CAPTURE_NAME = re.compile(r"^m--(\d+)--(\d+)--([^-]+)--GHS$")
KRT_KEYS = ("cameraId", "K", "distortion", "T")


def read_frame_list(path: Path) -> list[tuple[str, int]]:
    """``(segment, frame)`` rows of frame_list.csv."""
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    out = []
    for row in rows:
        if len(row) < 2 or not row[1].strip().isdigit():
            continue
        out.append((row[0].strip(), int(row[1])))
    if not out:
        raise ScanError(path, "no 'seg_id,frame_id' rows")
    return out


def pick_frames(frames: list[int], count: int) -> list[int]:
    """``count`` frames spread evenly over a segment's sorted frames (the middle for 1)."""
    frames = sorted(frames)
    if count >= len(frames):
        return frames
    positions = (np.arange(count) + 0.5) * len(frames) / count
    return [frames[int(p)] for p in positions]


def list_scans(root: str | Path, face_topology_path: str | Path | None = None,
               frames_per_segment: int = 1) -> list[ScanRecord]:
    """Records of the chosen frames of every capture (reads frame_list.csv only)."""
    root = Path(root)
    if not root.is_dir():
        raise ScanError(root, "Ava256 root folder not found")
    if face_topology_path is None and (root / "face_topology.obj").is_file():
        face_topology_path = root / "face_topology.obj"
    records = []
    for capture in sorted(p for p in root.iterdir() if p.is_dir()):
        match = CAPTURE_NAME.match(capture.name)
        if not match:
            continue
        decoder = capture / "decoder"
        segments: dict[str, list[int]] = {}
        for seg, frame in read_frame_list(decoder / "frame_list.csv"):
            segments.setdefault(seg, []).append(frame)
        cams = sorted(p.stem for p in (decoder / "image").glob("cam*.zip"))
        for seg, frames in segments.items():
            for frame in pick_frames(frames, frames_per_segment):
                name = f"{frame:06d}"
                files = {
                    "calibration": str(decoder / "camera_calibration.json"),
                    "head_pose": f"{decoder / 'head_pose' / 'head_pose.zip'}::{name}.txt",
                    "mesh": f"{decoder / 'kinematic_tracking' / 'registration_vertices.zip'}"
                            f"::{name}.ply",
                    "keypoints": f"{decoder / 'keypoints_3d' / 'keypoints_3d.zip'}::{name}.npy",
                    "images": str(decoder / "image"),
                }
                if face_topology_path is not None:
                    files["face_topology"] = str(face_topology_path)
                records.append(ScanRecord(DATASET, match.group(3), seg,
                                          f"{capture.name}--{name}", files,
                                          {"frame": frame, "cameras": cams}, len(cams)))
    return records


def _member(spec: str) -> bytes:
    zip_path, member = spec.split("::", 1)
    return read_zip_member(Path(zip_path), member)


def read_head_pose(spec: str) -> np.ndarray:
    """(4, 4) head pose (head frame -> world, mm) from ``zip::member``."""
    try:
        pose = np.loadtxt(io.StringIO(_member(spec).decode())).reshape(3, 4)
    except ValueError as exc:
        raise ScanError(spec, f"head pose is not a 3x4 matrix: {exc}") from None
    if not np.isfinite(pose).all():
        raise ScanError(spec, "head pose has NaN")
    out = np.eye(4)
    out[:3] = pose
    return out


def read_cameras(path: Path) -> dict[str, dict]:
    """Camera id -> {"K" (3, 3), "w2c" (4, 4) world mm -> camera, "dist" (4,),
    "size" (width, height) when the entry has it}."""
    try:
        krt = json.loads(path.read_text())["KRT"]
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except KeyError:
        raise ScanError(path, "missing key 'KRT'") from None
    except ValueError as exc:
        raise ScanError(path, f"unreadable JSON: {exc}") from None
    cameras = {}
    for i, cam in enumerate(krt):
        missing = [k for k in KRT_KEYS if k not in cam]
        if missing:
            raise ScanError(path, f"KRT entry {i} lacks key(s) {', '.join(missing)}")
        try:
            T = np.asarray(cam["T"], np.float64).reshape(4, 4).T
            cameras[str(cam["cameraId"])] = {
                "K": np.asarray(cam["K"], np.float64).reshape(3, 3).T,
                "w2c": np.vstack([T[:3, :4], [0, 0, 0, 1]]),
                "dist": np.asarray(cam["distortion"], np.float64).reshape(-1),
                "size": (int(cam["width"]), int(cam["height"])) if "width" in cam else None,
            }
        except (TypeError, ValueError) as exc:
            raise ScanError(path, f"KRT entry {i} malformed: {exc}") from None
    return cameras


def _image_size(zip_path: Path, member: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(read_zip_member(zip_path, member))) as img:
            return img.size
    except OSError as exc:
        raise ScanError(f"{zip_path}::{member}", f"unreadable image: {exc}") from None


def _landmarks(spec: str, world_to_m: np.ndarray) -> np.ndarray | None:
    try:
        rows = np.load(io.BytesIO(_member(spec)), allow_pickle=False)
    except ValueError as exc:
        raise ScanError(spec, f"unreadable keypoints: {exc}") from None
    if rows.ndim != 2 or rows.shape[1] < 4:
        raise ScanError(spec, f"keypoints have shape {rows.shape}, expected (n, 6)")
    ids = rows[:, 0].astype(np.int64)
    if not np.isin(np.arange(68), ids).all():
        return None
    first = {int(i): r for r, i in reversed(list(enumerate(ids)))}
    return transform_points(world_to_m, rows[[first[i] for i in range(68)], 1:4])


def load(record: ScanRecord) -> Scan:
    """Read a frame: tracked mesh (metres, head frame), landmarks, photos' cameras."""
    frame = f"{record.options['frame']:06d}"
    head_pose = read_head_pose(record.files["head_pose"])
    to_metres = np.diag([MM_TO_M] * 3 + [1.0]) @ np.linalg.inv(head_pose)
    mesh_spec = record.files["mesh"]
    mesh = check_mesh(read_ply(mesh_spec, _member(mesh_spec)), mesh_spec, need_faces=False)
    faces, uv = mesh.faces, mesh.uv_corners
    if "face_topology" in record.files:
        topo_path = Path(record.files["face_topology"])
        topo = read_obj(topo_path)
        if len(topo.verts) != len(mesh.verts):
            raise ScanError(mesh_spec, f"{len(mesh.verts)} vertices, face topology "
                                       f"{topo_path.name} has {len(topo.verts)}")
        faces, uv = topo.faces, topo.uv_corners
    verts_m = transform_points(to_metres, mesh.verts)
    check_size_m(verts_m, mesh_spec)
    landmarks = _landmarks(record.files["keypoints"], to_metres)
    cameras = read_cameras(Path(record.files["calibration"]))
    head_to_mm = np.linalg.inv(to_metres)
    photos = []
    for cam in record.options["cameras"]:
        cam_id = cam.removeprefix("cam")
        if cam_id not in cameras:
            raise ScanError(record.files["calibration"], f"no KRT entry for camera {cam_id}")
        zip_path = Path(record.files["images"]) / f"{cam}.zip"
        member = f"{cam}/{frame}.avif"
        if member not in zip_members(zip_path):
            raise ScanError(f"{zip_path}::{member}", "member missing from zip")
        calib = cameras[cam_id]
        w2c = calib["w2c"] @ head_to_mm
        w2c[:3, :] *= MM_TO_M
        width, height = calib["size"] or _image_size(zip_path, member)
        photos.append(Photo(zip_path, member, cam_id, calib["K"], w2c, calib["dist"],
                            width, height))
    return Scan(record=record, verts_m=verts_m, faces=faces if len(faces) else None,
                vertex_colors=mesh.vertex_colors, texture=None,
                uv_corners=uv if len(faces) else None, landmarks_m=landmarks, photos=photos,
                to_metres=to_metres)
