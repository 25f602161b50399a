"""One shard, start to end (the Dask task of the render stage): for each planned sample load
the scan and its registration, pick the camera (sampled view or the data set's photo),
render the maps, and write the shard.

Geometry is rendered in the *model-aligned* frame: the scan frame rotated and shifted by the
registration's similarity (``mesh = s R (FLAME + offsets) + t``), so yaw 0 is a frontal view
and normals are in FLAME's frame; metric scale is kept. ``w2c`` of a sample maps that frame to
the camera.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from atomicfile import write_text
from flame import FlameModel, load_model
from rendering.camera import Camera, ViewSampling, project
from rendering.geometry import Surface, UVMesh
from rendering.level_of_detail import DetailSettings, level_stamp, read_level, scan_for_views
from rendering.levels import (
    aligned_surface,
    detail_of,
    level_path,
    registration_frame,
    registration_of,
    registration_status,
    to_aligned_frame,
)
from rendering.maps import render_maps_for_photo
from rendering.photo import crop_box, crop_camera, crop_photo
from rendering.renderer import GpuCornerMesh, GpuSurface, Renderer, worker_renderer
from rendering.sample import render_sample
from scans import Photo, ScanRecord
from scans.datasets import load_photos, load_scan
from scans.images import load_photo
from scans.meshio import read_ply
from shards import ShardInfo, sample_rng, write_manifest, write_shard
from shards.manifest import read_manifest
from shards.plan import plan_groups

PARAM_KEYS = ("shape", "expr", "pose", "transl", "scale")


@dataclass(frozen=True)
class SampleSpec:
    """One planned sample: a scan, its view index, and the photo it uses (None: sampled)."""

    scan_id: str
    view: int
    photo: int | None


@dataclass(frozen=True)
class ShardJob:
    """Everything one Dask task needs to write one shard (plain, picklable values)."""

    dataset: str
    path: str
    samples: tuple[SampleSpec, ...]
    records: dict[str, dict]
    registration_dir: str
    settings: dict
    seed: int
    key: str


def _stable_hash(*parts: object) -> str:
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def accepted_photos(status: dict) -> list[int]:
    """Indices into ``Scan.photos`` of the photo views the registration stage accepted, from
    a scan's :func:`registration_status` ("photos", :mod:`rendering.photo_alignment`); a
    failed or skipped view is never a sample."""
    return [v["index"] for v in status.get("photos", []) if v["status"] == "accepted"]


def plan_shards(dataset: str, records: list[ScanRecord], registration_dir: Path,
                shards_dir: Path, settings: dict, seed: int) -> list[ShardJob]:
    """Group the samples of registered scans into shards that stay put (:mod:`shards.plan`).

    Each scan gives ``views_per_scan`` sampled views, then up to ``photo_views_per_scan`` of its
    calibrated photos whose alignment passed (:func:`accepted_photos`). Scans are grouped by
    stable anchors of their ids, so adding, removing or changing one scan changes at most two
    shards. Each shard's key hashes the render settings, the seed and what its samples come
    from (scan, view, photo, registration key).
    """
    views = settings["views_per_scan"]
    statuses = {r.scan_id: registration_status(registration_dir, r.scan_id) for r in records}
    per_scan = {}
    for record in records:
        photos = accepted_photos(statuses[record.scan_id])[:settings["photo_views_per_scan"]]
        per_scan[record.scan_id] = ([SampleSpec(record.scan_id, v, None) for v in range(views)]
                                    + [SampleSpec(record.scan_id, views + k, p)
                                       for k, p in enumerate(photos)])
    groups = plan_groups(dataset, [(i, len(s)) for i, s in per_scan.items()],
                         settings["samples_per_shard"],
                         views + settings["photo_views_per_scan"])
    by_id = {r.scan_id: r for r in records}
    jobs = []
    for group in groups:
        chunk = tuple(spec for scan_id, first, stop in group.ranges
                      for spec in per_scan[scan_id][first:stop])
        reg_keys = {i: statuses[i]["key"] for i, _, _ in group.ranges}
        sources = [(s.scan_id, s.view, s.photo, reg_keys[s.scan_id]) for s in chunk]
        jobs.append(ShardJob(
            dataset=dataset, path=str(shards_dir / group.name), samples=chunk,
            records={i: by_id[i].to_json() for i in reg_keys},
            registration_dir=str(registration_dir), settings=dict(settings), seed=seed,
            key=_stable_hash(dataset, settings, seed, sources)))
    return jobs


def stale_shards(jobs: list[ShardJob], shards_dir: Path) -> list[ShardJob]:
    """The jobs whose shard is missing or was written with another key (per the manifest)."""
    try:
        written = {r["name"]: r for r in read_manifest(shards_dir)["shards"]}
    except (OSError, ValueError):
        written = {}
    stale = []
    for job in jobs:
        name = Path(job.path).name
        record = written.get(name)
        if record is None or record["config_hash"] != job.key or not Path(job.path).is_file():
            stale.append(job)
    return stale


def write_dataset_manifest(shards_dir: Path, jobs: list[ShardJob], config_hash: str) -> dict:
    """Write ``manifest.json`` for the planned shards (each read back from its sidecar record)
    and remove shards no longer planned. Returns counts for the build summary."""
    records = [json.loads(Path(job.path + ".json").read_text()) for job in jobs]
    planned = {Path(job.path).name for job in jobs}
    for leftover in shards_dir.glob("shard-*.h5"):
        if leftover.name not in planned:
            leftover.unlink()
            leftover.with_name(leftover.name + ".json").unlink(missing_ok=True)
    for orphan in shards_dir.glob(".shard-*.tmp*"):
        orphan.unlink()  # left by a worker killed mid-write; every planned shard is complete
    write_manifest(shards_dir, records, config_hash=config_hash)
    return {"shards": len(records), "samples": sum(r["samples"] for r in records),
            "bytes": sum(r["bytes"] for r in records), "config_hash": config_hash}


@lru_cache(maxsize=2)
def _renderer(size: int) -> Renderer:
    """One EGL context per worker process and resolution, reused across tasks.

    Not with :func:`shards.allocator.retain_freed_memory`: a render worker writes shards, a
    build with it gave different shard bytes in two processes (before the writer flushed each
    dataset as written), and rendering measured no faster with it (16.8 vs 16.7 samples/s).
    """
    return worker_renderer(size, size)


@lru_cache(maxsize=2)
def _model(model_path: str) -> FlameModel:
    return load_model(model_path)


def to_sample_frame(points_m: np.ndarray, registration_scan_dir: Path) -> np.ndarray:
    """Points (N, 3) of a scan's frame (e.g. its ground truth) in the frame its samples'
    ``w2c`` start from (the model-aligned frame of its registration)."""
    return to_aligned_frame(points_m, *registration_frame(Path(registration_scan_dir)))


def render_shard(job: ShardJob, model_path: str) -> dict:
    """Render and write one shard; returns its manifest record (also written as a sidecar).

    Parameters
    ----------
    job : from :func:`plan_shards`
    model_path : the FLAME model the registrations used (uv layout and face mask)
    """
    model = _model(model_path)
    size = int(job.settings["resolution"])
    renderer = _renderer(size)
    views = ViewSampling(width=size, height=size,
                         yaw_deg=(-job.settings["yaw_deg"], job.settings["yaw_deg"]),
                         pitch_deg=(-job.settings["pitch_deg"], job.settings["pitch_deg"]),
                         roll_deg=(-job.settings["roll_deg"], job.settings["roll_deg"]))
    face_mask = np.zeros(model.n_vertices, dtype=bool)
    face_mask[model.masks.get("face", np.arange(model.n_vertices))] = True
    detail = _ScanDetail(*detail_of(job.settings), Path(job.path).parent)
    samples = _shard_samples(job, renderer, model, views, face_mask, detail)
    record = write_shard(job.path, samples, len(job.samples), ShardInfo(config_hash=job.key))
    record["sources"] = [asdict(s) for s in job.samples]
    write_text(job.path + ".json", json.dumps(record, sort_keys=True))
    return record


@dataclass(frozen=True)
class _ScanDetail:
    """The scan pass's level of detail (:mod:`rendering.level_of_detail`): its settings, the
    finest pixel footprint of the views (metres) and the shards folder whose ``lod/`` holds
    the levels of the level-of-detail stage (:mod:`rendering.levels`)."""

    settings: DetailSettings
    pixel_m: float
    shards_dir: Path


def _shard_samples(job: ShardJob, renderer: Renderer, model: FlameModel, views: ViewSampling,
                   face_mask: np.ndarray, detail: _ScanDetail) -> Iterator[dict]:
    """The samples of ``job`` in order, as :func:`shards.write_shard` takes them; each scan is
    loaded and uploaded once (samples come grouped by scan) and released after its last."""
    registration_dir = Path(job.registration_dir)
    loaded: _UploadedScan | None = None
    try:
        for spec in job.samples:
            if loaded is None or loaded.record.scan_id != spec.scan_id:
                if loaded is not None:
                    loaded.release()
                    loaded = None  # freed before the next scan is read (dense scans: ~1 GB)
                loaded = _upload_scan(renderer, job.records[spec.scan_id],
                                      registration_dir / spec.scan_id, model, face_mask, detail)
            rng = sample_rng(job.seed, job.dataset, spec.scan_id, spec.view)
            if spec.photo is None:
                maps = render_sample(renderer, loaded.surface_gpu, loaded.registered_gpu, rng,
                                     loaded.target, views=views, face_vertex_mask=face_mask,
                                     registered_faces=loaded.registered.faces)
            else:
                maps = _photo_sample(renderer, loaded, spec.photo, views.width, face_mask)
            yield {**maps, **{k: loaded.params[k] for k in PARAM_KEYS},
                   "dataset": job.dataset, "subject": loaded.record.subject,
                   "expression": loaded.record.expression, "scan": spec.scan_id,
                   "view": spec.view}
    finally:
        if loaded is not None:
            loaded.release()


def _load_registration(registration: Path, model: FlameModel) -> tuple[UVMesh, dict]:
    """The registered mesh in the model-aligned frame, and its parameters with the alignment
    ``R`` (3, 3) and ``t`` (3,)."""
    with np.load(registration / "params.npz") as stored:
        params = {k: np.asarray(stored[k], dtype=np.float32).reshape(-1) for k in PARAM_KEYS}
        rotation, translation = stored["R"], stored["t"]
    params["scale"] = params["scale"].reshape(())
    registered_m = read_ply(registration / "mesh.ply").verts
    registered = UVMesh(to_aligned_frame(registered_m, rotation, translation), model.faces,
                        model.vt, model.ft)
    return registered, {**params, "R": rotation, "t": translation}


def _scan_to_draw(record: ScanRecord, registration: Path,
                  detail: _ScanDetail) -> tuple[Surface, list[Photo]]:
    """The scan surface to draw (model-aligned frame) and its photos: the level written by
    the level-of-detail stage when there is one of this registration and these settings
    (the scan itself is not read), else the scan read and brought to the level here."""
    key, faces_in = registration_of(registration)
    if faces_in is None or detail.settings.may_decimate(faces_in):
        level = read_level(level_path(detail.shards_dir, record.scan_id),
                           level_stamp(key, detail.pixel_m, detail.settings))
        if level is not None:
            return level, load_photos(record)
    scan = load_scan(record)
    surface = aligned_surface(scan, *registration_frame(registration))
    photos = scan.photos
    del scan  # its texture, uv and scan-frame vertices are not needed (dense scans: ~300 MB)
    return scan_for_views(surface, detail.pixel_m, detail.settings)[0], photos


@dataclass
class _UploadedScan:
    """A scan and its registration, uploaded to the renderer once for all of its samples
    (re-uploading per sample recomputed the scan's vertex normals: ~20 ms a sample for a
    100k-vertex scan).

    Attributes
    ----------
    record, photos : the scan's record and calibrated photos (its mesh lives in the uploads)
    registered : the registered mesh, model-aligned frame
    params : registered model parameters and the alignment ``R`` (3, 3), ``t`` (3,)
    surface_gpu, registered_gpu : the uploads of the scan surface and the registered mesh
    target : (3,) metres, look-at point of sampled views (centre of the face region)
    """

    record: ScanRecord
    photos: list[Photo]
    registered: UVMesh
    params: dict
    surface_gpu: GpuSurface
    registered_gpu: GpuCornerMesh
    target: np.ndarray

    def release(self) -> None:
        """Free the uploads."""
        self.surface_gpu.release()
        self.registered_gpu.release()


def _upload_scan(renderer: Renderer, record_json: dict, registration: Path, model: FlameModel,
                 face_mask: np.ndarray, detail: _ScanDetail) -> _UploadedScan:
    """Load a scan at the views' level of detail (:func:`_scan_to_draw`) and its registration
    (:func:`_load_registration`), and upload both."""
    record = ScanRecord(**record_json)
    surface, photos = _scan_to_draw(record, registration, detail)
    registered, params = _load_registration(registration, model)
    return _UploadedScan(record=record, photos=photos, registered=registered, params=params,
                         surface_gpu=renderer.upload_surface(surface),
                         registered_gpu=renderer.upload_uv_mesh(registered),
                         target=registered.verts_m[face_mask].mean(axis=0))


def _photo_sample(renderer: Renderer, loaded: _UploadedScan, photo_index: int, size: int,
                  face_mask: np.ndarray) -> dict:
    """Maps for one of the data set's calibrated photos: rgb is the (undistorted) photo."""
    photo = loaded.photos[photo_index]
    aligned_to_scan = np.eye(4)
    aligned_to_scan[:3, :3], aligned_to_scan[:3, 3] = loaded.params["R"], loaded.params["t"]
    w2c = photo.w2c @ aligned_to_scan
    full = Camera(K=photo.K, w2c=w2c, width=photo.width, height=photo.height)
    box = crop_box(project(loaded.registered.verts_m[face_mask], full))
    camera = crop_camera(photo.K, w2c, box, size)
    rgb = crop_photo(load_photo(photo, undistort=True), box, size)
    maps = render_maps_for_photo(renderer, loaded.surface_gpu, loaded.registered_gpu, camera,
                                 rgb, face_vertex_mask=face_mask,
                                 registered_faces=loaded.registered.faces)
    maps["K"] = camera.K.astype(np.float32)
    maps["w2c"] = camera.w2c.astype(np.float32)
    return maps
