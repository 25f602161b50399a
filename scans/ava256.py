"""Ava256 adapter: a "scan" is one frame's tracked mesh, with that frame's photos.

Layout (as released)::

    ROOT/<mcd>--<mct>--<sid>/decoder/            as ava-256's ``download.py`` writes it
    ROOT/m--<mcd>--<mct>--<sid>--GHS/decoder/    as ``DATASHEET.md`` shows it
        camera_calibration.json   {"KRT": [{"cameraId", "K", "distortion", "T", ...}]}
        camera_calibration.pkl    (older releases) {cameraId: {"intrin" (3, 3), "extrin" (3, 4)}}
        frame_list.csv            rows "seg_id,frame_id" (a header line is skipped)
        head_pose/head_pose.zip   <frame:06d>.txt or .npy: 3x4 head pose, head frame -> world (mm)
        image/cam<id>.zip         cam<id>/<frame:06d>.avif, the sensor image downscaled by 2 or 4
        kinematic_tracking/registration_vertices.zip   <frame:06d>.ply: vertices only, *head*
                                  frame, mm, in Ava's face topology
        keypoints_3d/keypoints_3d.zip   <frame:06d>.npy: rows [id, x, y, z, confidence, inliers],
                                  world frame, mm
        segmentation_parts/cam<id>.zip  label PNGs (1 hair, 2 body, ...); not read here
        uv_image/color.zip        color/<frame:06d>.avif: the frame's uv texture (1024 x 1024)
                                  in face_topology.obj's uv
        uv_image/color_mean.png   the capture's mean uv texture

Conventions, from ava-256's own code (github.com/facebookresearch/ava-256):

- ``download.py`` ``main`` saves every asset under ``output_dir / capture.folder_name() /
  "decoder"``, where ``MugsyCapture.folder_name()`` (``download.py`` and ``data/utils.py``) is
  ``f"{mcd}--{mct}--{sid}"``; ``DATASHEET.md`` shows ``m--{mcd}--{mct}--{sid}--GHS``. Both
  forms are read (:data:`CAPTURE_FORMS`); the same capture in both is an error.
- ``data/ava_dataset.py`` ``SingleCaptureDataset.fetch_data_from_disk`` (and
  ``data/utils.py`` ``get_framelist_neuttex_and_neutvert``) read a frame's texture as
  ``uv_image/color.zip`` member ``color/<int(frame):06d>.avif`` and the capture's mean as
  ``uv_image/color_mean.png`` (``SingleCaptureDataset.__init__``). The texture is laid out in
  ``face_topology.obj``'s uv with v up: ``utils.py`` ``create_uv_baridx`` rasterises the uv
  unflipped and then ``np.flipud``s the image, so image row 0 is v = 1
  (``make_closest_uv_barys``: "OpenGL convention with Y=0 on the bottom").
- ``demos/mesh.py`` ``plot_mesh_on_image``: ``vertices = head_pose @ [v; 1]`` then
  ``intrin @ extrin``: tracked vertices are in the head frame and ``head_pose`` takes them to
  the world, where the cameras are (``data/ava_dataset.py`` ``SingleCaptureDataset.__getitem__``
  likewise moves the cameras into the head frame: ``camrot = extrin_R @ headpose_R``).
- ``demos/keypoints.py`` ``plot_keypoints_on_image``: keypoint rows ``[:, 1:4]`` are projected
  with ``intrin @ extrin`` directly: world millimetres.
- ``utils.py`` ``load_camera_calibration``: ``intrin = K.T``, ``extrin = T[:4, :3].T``
  (world -> camera, mm), ``dist = distortion + [0.0]``, and the calibration is for
  ``width 2668, height 4096``.
- ``data/ava_dataset.py`` ``SingleCaptureDataset.__init__``: focal length and principal point
  are divided by the image's downsample factor; the demos divide projections by 4
  (``DATASHEET.md``: the released images are 1024 x 667 or 2048 x 1334). The factor is taken
  here from the image actually read (sensor height / image height).
- head pose as ``.txt`` (``np.loadtxt``; current demos and dataset) or ``.npy`` (``np.load``;
  ``demos/mesh.py`` at commit 42b6af2), calibration as ``.json`` (dataset) or ``.pkl`` (demos).
  Pickles go through :func:`flame.safe_pickle.load_pickle` (allow-listed, no code).

Options: ``face_topology_path`` (the topology's ``face_topology.obj``; default
``ROOT/face_topology.obj`` when present, else the scan is a point cloud),
``frames_per_segment`` (default 1: that many frames spread evenly over each segment of
frame_list.csv, the middle one when 1). ``subject`` is the capture's subject id,
``expression`` the segment id, ``scan_id`` ``<capture folder>--<frame:06d>``.
Texture (``Scan.texture``, and ``vertex_colors`` sampled from it): the frame's
``color.zip`` member, else ``color_mean.png``, else none (grey), each fallback with its
reason in ``record.options["texture_reason"]`` (chosen at listing from the zip's member list)
and ``Scan.texture_reason`` (also when a listed texture fails to decode at load).
The scan's frame is the head frame in metres (``to_metres = diag(1e-3)``), taken to have
FLAME's axes; keypoints and cameras are brought into it with ``inverse(head_pose)``.
Landmarks are keypoint rows with ids 0-67 (None when those are not all there). A photo whose
calibration, image or size is missing or wrong is dropped with a reason
(``Scan.skipped_photos``); the frame is still read. Zips are read member by member, never
unpacked.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
from PIL import Image

from flame.safe_pickle import UnsafePickleError, load_pickle
from scans.errors import ScanError
from scans.geometry import check_size_m, transform_points
from scans.images import read_image, read_zip_member, vertex_colors_from_texture, zip_members
from scans.meshio import check_mesh, read_obj, read_ply
from scans.records import Photo, Scan, ScanRecord

log = logging.getLogger(__name__)

DATASET = "ava256"
MM_TO_M = 1e-3
CAPTURE_FORMS = {
    "<mcd>--<mct>--<sid> (ava-256 download.py)": re.compile(r"^(\d+)--(\d+)--([^-]+)$"),
    "m--<mcd>--<mct>--<sid>--GHS (ava-256 DATASHEET.md)":
        re.compile(r"^m--(\d+)--(\d+)--([^-]+)--GHS$"),
}
"""Capture folder name forms -> pattern with groups (mcd, mct, sid)."""
TEXTURE_ZIP = Path("uv_image") / "color.zip"
TEXTURE_MEAN = Path("uv_image") / "color_mean.png"
TEXTURE_SOURCES = ("frame", "mean", "grey")
"""``record.options["texture"]``: the frame's uv texture, the capture's mean, or none."""
KRT_KEYS = ("cameraId", "K", "distortion", "T")
SENSOR_SIZE = (2668, 4096)
"""(width, height) the calibration is for (ava-256 ``utils.py`` ``load_camera_calibration``)."""
CALIBRATION_FILES = ("camera_calibration.json", "camera_calibration.pkl")
HEAD_POSE_SUFFIXES = (".txt", ".npy")


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


def _head_pose_suffix(zip_path: Path) -> str:
    """".txt" or ".npy": the form the capture's head_pose.zip holds (".txt" if unreadable;
    load() then names the problem)."""
    try:
        members = zip_members(zip_path)
    except ScanError:
        return ".txt"
    return ".npy" if any(m.endswith(".npy") for m in members) and not any(
        m.endswith(".txt") for m in members) else ".txt"


def _calibration_path(decoder: Path) -> Path:
    """camera_calibration.json, else camera_calibration.pkl (the .json path when neither)."""
    for name in CALIBRATION_FILES:
        if (decoder / name).is_file():
            return decoder / name
    return decoder / CALIBRATION_FILES[0]


def capture_id(name: str) -> tuple[str, str, str] | None:
    """``(mcd, mct, sid)`` of a capture folder name in either form of
    :data:`CAPTURE_FORMS`; None for any other name."""
    for pattern in CAPTURE_FORMS.values():
        match = pattern.match(name)
        if match:
            return match.group(1), match.group(2), match.group(3)
    return None


def find_captures(root: Path) -> list[Path]:
    """Capture folders under ``root`` in either name form, sorted by name; a capture present
    in both forms is an error naming both folders."""
    seen: dict[tuple[str, str, str], Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        key = capture_id(folder.name)
        if key is None:
            continue
        if key in seen:
            raise ScanError(folder, f"the same capture as {seen[key].name}: keep one of the "
                                    "two folders")
        seen[key] = folder
    if not seen:
        forms = "; ".join(CAPTURE_FORMS)
        raise ScanError(root, f"no Ava256 capture folders: looked for ROOT/<capture>/decoder/ "
                              f"with <capture> in the form {forms}")
    return sorted(seen.values(), key=lambda p: p.name)


def texture_choice(decoder: Path, frame: int, members: set[str] | None,
                   topology: bool) -> tuple[str, str, str]:
    """``(source, file, reason)`` of a frame's texture: ``"frame"`` and ``color.zip::color/
    <frame:06d>.avif``, else ``"mean"`` and ``color_mean.png``, else ``"grey"`` and "";
    ``reason`` says why a fallback was taken ("" for the frame's own). ``members``: the
    names in color.zip (None: no readable zip); ``topology``: a face topology (its uv) is
    known."""
    if not topology:
        return "grey", "", "no face_topology.obj: the uv textures cannot be placed"
    member = f"color/{frame:06d}.avif"
    if members is not None and member in members:
        return "frame", f"{decoder / TEXTURE_ZIP}::{member}", ""
    why = (f"{TEXTURE_ZIP} not found" if members is None
           else f"{TEXTURE_ZIP} has no {member}")
    if (decoder / TEXTURE_MEAN).is_file():
        return "mean", str(decoder / TEXTURE_MEAN), why
    return "grey", "", f"{why}; no {TEXTURE_MEAN}"


def _texture_members(decoder: Path) -> set[str] | None:
    try:
        return set(zip_members(decoder / TEXTURE_ZIP))
    except ScanError as exc:
        if (decoder / TEXTURE_ZIP).exists():
            log.warning("%s", exc)
        return None


def list_scans(root: str | Path, face_topology_path: str | Path | None = None,
               frames_per_segment: int = 1) -> list[ScanRecord]:
    """Records of the chosen frames of every capture (reads frame_list.csv and the member
    lists of the head-pose and texture zips only)."""
    root = Path(root)
    if not root.is_dir():
        raise ScanError(root, "Ava256 root folder not found")
    if face_topology_path is None and (root / "face_topology.obj").is_file():
        face_topology_path = root / "face_topology.obj"
    records = []
    for capture in find_captures(root):
        sid = capture_id(capture.name)[2]
        decoder = capture / "decoder"
        segments: dict[str, list[int]] = {}
        for seg, frame in read_frame_list(decoder / "frame_list.csv"):
            segments.setdefault(seg, []).append(frame)
        cams = sorted(p.stem for p in (decoder / "image").glob("cam*.zip"))
        pose_zip = decoder / "head_pose" / "head_pose.zip"
        pose_suffix = _head_pose_suffix(pose_zip)
        calibration = _calibration_path(decoder)
        texture_members = _texture_members(decoder)
        for seg, frames in segments.items():
            for frame in pick_frames(frames, frames_per_segment):
                name = f"{frame:06d}"
                files = {
                    "calibration": str(calibration),
                    "head_pose": f"{pose_zip}::{name}{pose_suffix}",
                    "mesh": f"{decoder / 'kinematic_tracking' / 'registration_vertices.zip'}"
                            f"::{name}.ply",
                    "keypoints": f"{decoder / 'keypoints_3d' / 'keypoints_3d.zip'}::{name}.npy",
                    "images": str(decoder / "image"),
                }
                if face_topology_path is not None:
                    files["face_topology"] = str(face_topology_path)
                source, texture, reason = texture_choice(
                    decoder, frame, texture_members, face_topology_path is not None)
                if texture:
                    files["texture"] = texture
                if source == "frame" and (decoder / TEXTURE_MEAN).is_file():
                    files["texture_mean"] = str(decoder / TEXTURE_MEAN)
                records.append(ScanRecord(DATASET, sid, seg, f"{capture.name}--{name}", files,
                                          {"frame": frame, "cameras": cams, "texture": source,
                                           "texture_reason": reason}, len(cams)))
    return records


def optional_files(root: str | Path, records: list[ScanRecord],
                   face_topology_path: str | Path | None = None, **_options) -> list[dict]:
    """What the optional files of the listed scans give, found or not (for the build's
    statement): the face topology and the uv textures (scans per source, with the reasons of
    the fallbacks, frame numbers folded into ``color/<frame>.avif``)."""
    topologies = sorted({r.files["face_topology"] for r in records if "face_topology" in r.files})
    counts = {source: 0 for source in TEXTURE_SOURCES}
    reasons: dict[str, int] = {}
    for record in records:
        counts[record.options.get("texture", "grey")] += 1
        if record.options.get("texture_reason"):
            reason = re.sub(r"color/\d+\.avif", "color/<frame>.avif",
                            record.options["texture_reason"])
            reasons[reason] = reasons.get(reason, 0) + 1
    return [
        {"file": "face_topology.obj", "found": bool(topologies), "path": ", ".join(topologies),
         "searched": [str(face_topology_path or Path(root) / "face_topology.obj")],
         "lost": "" if topologies else "faces and uv: scans are read as point clouds and "
                                       "their uv textures cannot be placed"},
        {"file": f"{TEXTURE_ZIP} / {TEXTURE_MEAN}", "found": counts["frame"] == len(records),
         "path": "", "scans": counts,
         "reasons": [{"reason": k, "scans": v} for k, v in sorted(reasons.items())],
         "lost": "" if counts["frame"] == len(records) else
         f"{counts['mean']} scan(s) coloured by the capture's mean texture, "
         f"{counts['grey']} grey (rgb of their sampled views teaches no skin colour)"},
    ]


def _member(spec: str) -> bytes:
    zip_path, member = spec.split("::", 1)
    return read_zip_member(Path(zip_path), member)


def read_head_pose(spec: str) -> np.ndarray:
    """(4, 4) head pose (head frame -> world, mm) from ``zip::<frame>.txt`` (``np.loadtxt``)
    or ``zip::<frame>.npy`` (``np.load``, no pickles); 3x4 or 4x4."""
    data = _member(spec)
    try:
        if spec.endswith(".npy"):
            pose = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            pose = np.loadtxt(io.StringIO(data.decode()))
        pose = np.asarray(pose, np.float64)
        pose = pose.reshape(pose.size // 4, 4)[:3] if pose.size in (12, 16) else pose
        if pose.shape != (3, 4):
            raise ValueError(f"shape {pose.shape}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScanError(spec, f"head pose is not a 3x4 matrix: {exc}") from None
    if not np.isfinite(pose).all():
        raise ScanError(spec, "head pose has NaN")
    out = np.eye(4)
    out[:3] = pose
    return out


def _camera(path: Path, name: str, K, extrin, dist) -> dict:
    """One camera entry: K (3, 3) full sensor, w2c (4, 4) world mm, dist (4,) or (5,)."""
    try:
        K = np.asarray(K, np.float64).reshape(3, 3)
        extrin = np.asarray(extrin, np.float64)
        if extrin.shape not in ((3, 4), (4, 4)):
            raise ValueError(f"extrinsics of shape {extrin.shape}")
        dist = np.asarray(dist, np.float64).reshape(-1)[:5]
    except (TypeError, ValueError) as exc:
        raise ScanError(path, f"camera {name} malformed: {exc}") from None
    if not (np.isfinite(K).all() and np.isfinite(extrin).all() and np.isfinite(dist).all()):
        raise ScanError(path, f"camera {name} has NaN")
    return {"K": K, "w2c": np.vstack([extrin[:3, :4], [0, 0, 0, 1]]), "dist": dist}


def read_cameras(path: Path) -> dict[str, dict]:
    """Camera id -> {"K" (3, 3) for the full sensor, "w2c" (4, 4) world mm -> camera,
    "dist" (4,) or (5,), "sensor" (width, height)}, from camera_calibration.json (KRT, read as
    ava-256's ``load_camera_calibration``) or camera_calibration.pkl (``intrin``/``extrin``)."""
    path = Path(path)
    if path.suffix == ".pkl":
        return _read_pickled_cameras(path)
    try:
        krt = json.loads(path.read_text())["KRT"]
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except (KeyError, TypeError):
        raise ScanError(path, "missing key 'KRT'") from None
    except ValueError as exc:
        raise ScanError(path, f"unreadable JSON: {exc}") from None
    cameras = {}
    for i, cam in enumerate(krt):
        missing = [k for k in KRT_KEYS if k not in cam]
        if missing:
            raise ScanError(path, f"KRT entry {i} lacks key(s) {', '.join(missing)}")
        name = str(cam["cameraId"])
        try:
            T = np.asarray(cam["T"], np.float64)
            extrin = T[:4, :3].T  # T stored transposed; 4x3 or 4x4
            K = np.asarray(cam["K"], np.float64).T
        except (TypeError, ValueError, IndexError) as exc:
            raise ScanError(path, f"KRT entry {i} malformed: {exc}") from None
        cameras[name] = _camera(path, name, K, extrin, cam["distortion"])
        cameras[name]["sensor"] = (int(cam.get("width", SENSOR_SIZE[0])),
                                   int(cam.get("height", SENSOR_SIZE[1])))
    return cameras


def _read_pickled_cameras(path: Path) -> dict[str, dict]:
    try:
        table = load_pickle(path)
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except (UnsafePickleError, OSError, EOFError, ValueError) as exc:
        raise ScanError(path, f"unreadable pickle: {exc}") from None
    if not isinstance(table, dict):
        raise ScanError(path, f"expected a dict of cameras, got {type(table).__name__}")
    cameras = {}
    for name, cam in table.items():
        if not isinstance(cam, dict) or "intrin" not in cam or "extrin" not in cam:
            raise ScanError(path, f"camera {name} lacks 'intrin' or 'extrin'")
        cameras[str(name)] = _camera(path, str(name), cam["intrin"], cam["extrin"],
                                     cam.get("dist", np.zeros(4)))
        cameras[str(name)]["sensor"] = SENSOR_SIZE
    return cameras


def _image_size(zip_path: Path, member: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(read_zip_member(zip_path, member))) as img:
            return img.size
    except OSError as exc:
        raise ScanError(f"{zip_path}::{member}", f"unreadable image: {exc}") from None


def image_intrinsics(K: np.ndarray, sensor: tuple[int, int], image: tuple[int, int],
                     where: str) -> np.ndarray:
    """K of the image actually read, (width, height) ``image``: the sensor's K with focal
    length and principal point divided by the downsample factor, as ava-256's
    ``SingleCaptureDataset`` does (its images are ``sensor // factor`` in size)."""
    factor = sensor[1] / image[1]
    whole = round(factor)
    if whole < 1 or abs(factor - whole) > 1e-6 or (sensor[0] // whole, sensor[1] // whole) != \
            tuple(image):
        raise ScanError(where, f"image is {image[0]}x{image[1]}, not the {sensor[0]}x"
                               f"{sensor[1]} sensor the calibration is for downsampled by a "
                               "whole factor")
    out = K.copy()
    out[:2] /= whole
    return out


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


def read_photos(record: ScanRecord, world_mm_to_head_m: np.ndarray
                ) -> tuple[list[Photo], list[dict]]:
    """The frame's photos with ``w2c`` from the head frame (metres), and ``{"camera_id",
    "reason"}`` per photo dropped (camera id "*": all of them)."""
    frame = f"{record.options['frame']:06d}"
    try:
        cameras = read_cameras(Path(record.files["calibration"]))
    except ScanError as exc:
        return [], [{"camera_id": "*", "reason": str(exc)}]
    head_m_to_world_mm = np.linalg.inv(world_mm_to_head_m)
    photos, skipped = [], []
    for cam in record.options["cameras"]:
        cam_id = cam.removeprefix("cam")
        zip_path = Path(record.files["images"]) / f"{cam}.zip"
        member = f"{cam}/{frame}.avif"
        try:
            if cam_id not in cameras:
                raise ScanError(record.files["calibration"], f"no entry for camera {cam_id}")
            calib = cameras[cam_id]
            size = _image_size(zip_path, member)
            K = image_intrinsics(calib["K"], calib["sensor"], size, f"{zip_path}::{member}")
        except ScanError as exc:
            skipped.append({"camera_id": cam_id, "reason": str(exc)})
            continue
        w2c = calib["w2c"] @ head_m_to_world_mm  # head metres -> world mm -> camera mm
        w2c[:3, :] *= MM_TO_M  # camera frame in metres: same pixels, rigid
        w2c[3] = [0, 0, 0, 1]
        photos.append(Photo(zip_path, member, cam_id, K, w2c, calib["dist"], *size))
    return photos, skipped


def read_texture(record: ScanRecord) -> tuple[np.ndarray | None, str, str]:
    """``(texture (H, W, 3) uint8 or None, source file, reason)`` of a listed frame: the
    listed texture (the frame's ``color.zip`` member or ``color_mean.png``); a frame texture
    that fails to decode falls back to the capture's mean, then to none, the reason naming the
    file and the problem."""
    reason = record.options.get("texture_reason", "")
    for role in ("texture", "texture_mean"):
        spec = record.files.get(role)
        if not spec:
            continue
        path, _, member = spec.partition("::")
        try:
            return read_image(Path(path), member or None), spec, reason
        except ScanError as exc:
            reason = f"{reason}; {exc}" if reason else str(exc)
            log.warning("%s: texture not used: %s", record.scan_id, exc)
    return None, "", reason


def _world_to_head_m(record: ScanRecord) -> tuple[np.ndarray, np.ndarray]:
    """(to_metres, world_to_head_m), (4, 4) each: the tracked mesh is already in the head
    frame (millimetres); the capture's world frame reaches it through the inverse head pose."""
    to_metres = np.diag([MM_TO_M] * 3 + [1.0])
    return to_metres, to_metres @ np.linalg.inv(read_head_pose(record.files["head_pose"]))


def load_photos(record: ScanRecord) -> list[Photo]:
    """The frame's calibrated photos without its mesh (those :func:`load` gives)."""
    return read_photos(record, _world_to_head_m(record)[1])[0]


def load(record: ScanRecord, appearance: bool = True) -> Scan:
    """Read a frame: tracked mesh (metres, head frame), landmarks, photos' cameras, and its
    uv texture and vertex colours (``appearance``)."""
    to_metres, world_to_head_m = _world_to_head_m(record)
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
    landmarks = _landmarks(record.files["keypoints"], world_to_head_m)
    photos, skipped = read_photos(record, world_to_head_m)
    for problem in skipped:
        log.warning("%s: photo %s dropped: %s", record.scan_id, problem["camera_id"],
                    problem["reason"])
    texture, source, reason = None, "", ""
    if appearance and len(faces) and uv is not None:
        texture, source, reason = read_texture(record)
    elif appearance and "texture" in record.files:
        reason = f"{record.files['face_topology']} has no uv: the texture cannot be placed"
    colors = mesh.vertex_colors
    if texture is not None:
        colors = vertex_colors_from_texture(texture, faces, uv, len(verts_m))
    return Scan(record=record, verts_m=verts_m, faces=faces if len(faces) else None,
                vertex_colors=colors, texture=texture,
                uv_corners=uv if len(faces) else None, landmarks_m=landmarks, photos=photos,
                to_metres=to_metres, skipped_photos=skipped, texture_source=source,
                texture_reason=reason or record.options.get("texture_reason", ""))
