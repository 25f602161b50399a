"""Synthetic Ava256 in the layout and conventions of ava-256's own code (not this project's
reader): per capture, tracked meshes in the *head* frame (mm) with ``head_pose`` head ->
world (``demos/mesh.py`` ``plot_mesh_on_image``: ``vertices = head_pose @ [v; 1]``, then
``intrin @ extrin``), keypoints in world mm (``demos/keypoints.py``), calibration for the
full 2668 x 4096 sensor (``utils.py`` ``load_camera_calibration``) and photos downscaled by 4
(``DATASHEET.md``: 1024 x 667 images; the demos divide projections by 4).

Capture folders are named as ava-256's ``download.py`` ``main`` saves them
(``MugsyCapture.folder_name()`` in ``download.py`` and ``data/utils.py``:
``<mcd>--<mct>--<sid>``), or as ``DATASHEET.md`` shows them (``m--<mcd>--<mct>--<sid>--GHS``),
or alternately both (``folder_form`` "download" | "ghs" | "mixed"). uv textures as
``data/ava_dataset.py`` ``SingleCaptureDataset`` reads them: ``uv_image/color.zip`` member
``color/<frame:06d>.avif`` per frame and ``uv_image/color_mean.png`` (with
``color_variance.txt``), laid out in ``face_topology.obj``'s uv with row 0 at v = 1 and texel
centres at ``(i + 0.5) / size`` (``utils.py`` ``create_uv_baridx`` /
``make_closest_uv_barys``)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from atomicfile import write_bytes as atomic_write_bytes
from flame.ict import IctModel
from scans.images import encode_image
from scans.meshio import ply_bytes, write_obj
from synthetic.colour import skin_colours
from synthetic.head import make_head, scan_surface, write_truth
from synthetic.layout import build_layout
from synthetic.params import orbit_cameras, random_expression, random_identity, random_pose
from synthetic.photos import landmark_pixels, render_photo
from synthetic.silhouette import silhouette
from synthetic.splat import splat_triangles

DATASET_KEY = 3
FRAMES_PER_SEGMENT = 2
TRACKED_PARTS = ("face", "head_and_neck")
CAMERA_IDS = ("400002", "400013", "400029", "400041", "400055", "400063")
SENSOR_SIZE = (2668, 4096)
"""(width, height) of the sensor the calibration is for (ava-256 ``load_camera_calibration``)."""
DOWNSCALE = 4
"""Released photos are the sensor image downscaled by this factor."""
M_PER_MM = 1e-3
HEAD_POSE_FORMS = ("txt", "npy")
CALIBRATION_FORMS = ("json", "pkl")
FOLDER_FORMS = ("download", "ghs", "mixed")
TEXTURE_DETAIL = 0.08
"""Relative amplitude of the textures' texel-scale detail (finer than the tracked mesh)."""


def capture_folder(mcd: str, mct: str, sid: str, form: str) -> str:
    """``<mcd>--<mct>--<sid>`` (ava-256 ``MugsyCapture.folder_name()``, what ``download.py``
    writes) for form "download", ``m--<mcd>--<mct>--<sid>--GHS`` (``DATASHEET.md``) for
    "ghs"."""
    return f"{mcd}--{mct}--{sid}" if form == "download" else f"m--{mcd}--{mct}--{sid}--GHS"


def bake_uv_texture(faces: np.ndarray, uv_corners: np.ndarray, colours: np.ndarray,
                    size: int) -> np.ndarray:
    """Texture (size, size, 3) uint8 of per-vertex colours (N, 3) laid out by per-corner uv
    (M, 3, 2) as ava-256 lays out its uv images: row 0 at v = 1, texel i centred at
    ``(i + 0.5) / size`` (``utils.py`` ``make_closest_uv_barys`` then ``np.flipud`` in
    ``create_uv_baridx``); texels outside every triangle take the nearest one's colour."""
    px = np.stack([uv_corners[..., 0] * size - 0.5, (1 - uv_corners[..., 1]) * size - 0.5],
                  axis=-1)
    image, filled = splat_triangles(px, np.zeros(faces.shape),
                                    colours[faces].astype(np.float32), size, size, density=1.0)
    _, (rows, cols) = ndimage.distance_transform_edt(~filled, return_indices=True)
    return image[rows, cols]


def texel_detail(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 1) float32 relative detail of about two texels (pores, freckles): what a
    texture holds and a 7k-vertex mesh's per-vertex colour cannot."""
    noise = ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.0)
    return (TEXTURE_DETAIL * noise / noise.std())[..., None].astype(np.float32)


def _write_zip(path: Path, members: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def capture_frame(rng: np.random.Generator) -> np.ndarray:
    """(4, 4) capture frame -> world, metres: a 13-27 degree rotation about a random axis and a
    translation of about 1.5 m (the head stands in a dome whose origin is on the floor)."""
    out = np.eye(4)
    axis = rng.normal(size=3)
    angle = np.deg2rad(rng.uniform(13.0, 27.0))
    out[:3, :3] = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    out[:3, 3] = np.array([0.1, 1.5, -0.05]) + rng.uniform(-0.05, 0.05, 3)
    return out


def _calibration(cam_ids: tuple[str, ...], cameras: list[dict], form: str) -> bytes:
    """camera_calibration.json (KRT: K and T stored transposed, T's top 3x4 world mm ->
    camera) or camera_calibration.pkl ({id: {"intrin", "extrin"}}), full-sensor K."""
    extrins = {}
    for cam_id, cam in zip(cam_ids, cameras, strict=True):
        extrin = cam["w2c"][:3].copy()
        extrin[:, 3] /= M_PER_MM
        extrins[cam_id] = extrin
    if form == "pkl":
        table = {c: {"intrin": cam["K"], "extrin": extrins[c]}
                 for c, cam in zip(cam_ids, cameras, strict=True)}
        return pickle.dumps(table, protocol=4)
    krt = [{"cameraId": c, "K": cam["K"].T.tolist(), "distortion": cam["dist"][:4].tolist(),
            "T": np.vstack([extrins[c], [0, 0, 0, 1]]).T.tolist(), "distortionModel": "OpenCV"}
           for c, cam in zip(cam_ids, cameras, strict=True)]
    return json.dumps({"KRT": krt}, indent=1).encode()


def _photo_camera(sensor_cam: dict, downscale: int) -> dict:
    """The camera of the downscaled photo: focal length and principal point divided by the
    factor (ava-256 ``data/ava_dataset.py`` ``SingleCaptureDataset``)."""
    K = sensor_cam["K"].copy()
    K[:2] /= downscale
    return {**sensor_cam, "K": K, "width": SENSOR_SIZE[0] // downscale,
            "height": SENSOR_SIZE[1] // downscale}


def write_ava256(ict: IctModel, raw_root: Path, truth_root: Path, subjects: int,
                 expressions: int, seed: int, scan_vertices: int, tracked_vertices: int,
                 noise_m: float, detail_m: float, views: int, downscale: int = DOWNSCALE,
                 head_pose_form: str = "txt", calibration_form: str = "json",
                 folder_form: str = "download", texture_size: int = 256) -> dict:
    """Write one capture per subject, ``expressions`` segments of 2 frames each, and the
    truth of every frame (in the head frame); returns the adapter options
    (``face_topology_path``). ``head_pose_form`` "txt" or "npy" and ``calibration_form``
    "json" or "pkl" choose between the file forms seen in ava-256's code history;
    ``folder_form`` the capture folder names (:data:`FOLDER_FORMS`); ``texture_size`` the uv
    textures' side in texels (1024 as released). Each frame's texture is the subject's skin
    colour with texel-scale detail, more detail of its own (what changes from frame to frame)
    and a gain of 0.8-1.15; its truth keeps it (``uv_texture``, before AVIF coding)."""
    if head_pose_form not in HEAD_POSE_FORMS or calibration_form not in CALIBRATION_FORMS \
            or folder_form not in FOLDER_FORMS:
        raise ValueError(f"forms must be one of {HEAD_POSE_FORMS}, {CALIBRATION_FORMS} and "
                         f"{FOLDER_FORMS}")
    raw_root = Path(raw_root)
    dense = build_layout(ict, scan_vertices)
    tracked = build_layout(ict, tracked_vertices, TRACKED_PARTS)
    raw_root.mkdir(parents=True, exist_ok=True)
    write_obj(raw_root / "face_topology.obj", tracked.neutral / M_PER_MM, tracked.faces,
              tracked.uv_corners)
    for s in range(subjects):
        rng_s = np.random.default_rng([seed, DATASET_KEY, s])
        id_coeffs, tone = random_identity(rng_s), rng_s.uniform(0, 1)
        subject = f"SYN{s + 1:03d}"
        form = folder_form if folder_form != "mixed" else FOLDER_FORMS[s % 2]
        decoder = raw_root / capture_folder(f"20240{s % 9 + 1}15", "1200", subject,
                                            form) / "decoder"
        skin = None  # the subject's uv texture before the per-frame gain
        textures, mean_sum, textures_done = {}, 0.0, 0
        capture = capture_frame(rng_s)
        world_to_capture = np.linalg.inv(capture)
        sensor_cams = orbit_cameras(np.zeros(3), views, *SENSOR_SIZE, rng_s)
        for cam in sensor_cams:
            cam["w2c"] = cam["w2c"] @ world_to_capture
            cam["dist"] = cam["dist"][:4]
        cameras = [_photo_camera(cam, downscale) for cam in sensor_cams]
        cam_ids = CAMERA_IDS[:views]
        decoder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(decoder / f"camera_calibration.{calibration_form}",
                           _calibration(cam_ids, sensor_cams, calibration_form))
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
                head_pose = capture @ random_pose(rng, 3.0, 0.02)  # head -> world, metres
                pose_mm = head_pose[:3].copy()
                pose_mm[:, 3] /= M_PER_MM
                if head_pose_form == "npy":
                    poses[f"{name}.npy"] = _npy_bytes(pose_mm)
                else:
                    poses[f"{name}.txt"] = "\n".join(" ".join(f"{x:.9g}" for x in row)
                                                     for row in pose_mm).encode()
                rot, trans = head_pose[:3, :3], head_pose[:3, 3]
                if skin is None:
                    colours = skin_colours(tracked.neutral, tracked.part,
                                           head.neutral_landmarks, tone, rng_s)
                    base = bake_uv_texture(tracked.faces, tracked.uv_corners, colours,
                                           texture_size).astype(np.float32)
                    skin = base * (1 + texel_detail(rng_s, texture_size))
                rng_t = np.random.default_rng([seed, DATASET_KEY, s, e, j, 1])
                frame_skin = skin * (1 + texel_detail(rng_t, texture_size) / 2)
                uv_texture = np.clip(frame_skin * rng_t.uniform(0.8, 1.15), 0, 255).astype(np.uint8)
                textures[f"color/{name}.avif"] = encode_image(uv_texture, "AVIF", 95,
                                                              avif_speed=10)  # 10x faster
                clean = tracked.positions(head.ict_verts)
                track = clean + rng.normal(0, noise_m, clean.shape)
                meshes[f"{name}.ply"] = ply_bytes(track / M_PER_MM)  # head frame, mm
                lmk_world = head.landmarks_m @ rot.T + trans
                table = np.hstack([np.arange(68)[:, None], lmk_world / M_PER_MM,
                                   np.ones((68, 1)), np.full((68, 1), len(cam_ids))])
                keypoints[f"{name}.npy"] = _npy_bytes(table.astype(np.float32))
                surface = scan_surface(head, dense, rng, tone, 0.0, detail_m, hair=True,
                                       body=True)
                surface.verts = surface.verts @ rot.T + trans
                n_head = int((surface.faces < surface.inlier.sum()).all(axis=1).sum())
                hair_body = np.arange(n_head, len(surface.faces))
                clean_world = clean @ rot.T + trans
                masks = []
                for cam_id, cam in zip(cam_ids, cameras, strict=True):
                    image, labels = render_photo(surface, cam, body_faces=hair_body)
                    images[cam_id][f"cam{cam_id}/{name}.avif"] = encode_image(image, "AVIF", 90)
                    segments[cam_id][f"cam{cam_id}/{name}.png"] = encode_image(labels, "PNG")
                    masks.append(silhouette(clean_world, tracked.faces, cam["K"], cam["w2c"],
                                            cam["width"], cam["height"]))
                write_truth(truth_root, f"{decoder.parent.name}--{name}", ict, head, np.eye(4),
                            scan_inlier=np.ones(len(track), bool), noise_m=np.array(noise_m),
                            detail_m=np.array(0.0), photo_ids=np.array(list(cam_ids)),
                            photo_landmarks_px=landmark_pixels(lmk_world, cameras),
                            photo_silhouettes=np.stack(masks), head_pose=head_pose,
                            uv_texture=uv_texture)
                mean_sum = mean_sum + uv_texture.astype(np.float64)
                textures_done += 1
        atomic_write_bytes(decoder / "frame_list.csv", ("\n".join(rows) + "\n").encode())
        _write_zip(decoder / "head_pose" / "head_pose.zip", poses)
        _write_zip(decoder / "kinematic_tracking" / "registration_vertices.zip", meshes)
        _write_zip(decoder / "keypoints_3d" / "keypoints_3d.zip", keypoints)
        _write_zip(decoder / "uv_image" / "color.zip", textures)
        mean = mean_sum / textures_done
        atomic_write_bytes(decoder / "uv_image" / "color_mean.png",
                           encode_image(np.clip(np.round(mean), 0, 255).astype(np.uint8), "PNG"))
        atomic_write_bytes(decoder / "uv_image" / "color_variance.txt",
                           f"{np.var(mean):.6g}\n".encode())
        for cam_id in cam_ids:
            _write_zip(decoder / "image" / f"cam{cam_id}.zip", images[cam_id])
            _write_zip(decoder / "segmentation_parts" / f"cam{cam_id}.zip", segments[cam_id])
    return {"face_topology_path": str(raw_root / "face_topology.obj")}
