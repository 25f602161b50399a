"""Does a calibrated photo's camera put the registered scan where the photo shows it?

Measured per photo view, before any sample is planned from it:

- ``landmark_px``: the scan's own landmarks (Ava256 ``keypoints_3d``, FaceScape's
  ``landmark_indices.npz`` on the TU model) and the registered mesh's landmarks, both
  projected with the photo's camera: mean / median / max distance in pixels of the photo as
  read. ``landmark_rel`` is the mean divided by the size of the scan landmarks' box in the
  image (``sqrt(w * h)``), the normalised error face-alignment benchmarks use.
- ``landmarks_in_image``: share of the registered landmarks that land inside the image, in
  front of the camera.
- ``iou`` (where the ground truth gives the subject's silhouette in the photo, i.e. on
  synthetic data): the scan rendered with the photo's camera (this package's OpenGL
  renderer) against the true silhouette.

A photo view is accepted when every available figure passes :class:`AlignmentThresholds`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from flame import FlameModel
from rendering.camera import Camera, project
from rendering.photo_overlay import alignment_overlay
from rendering.renderer import Renderer, worker_renderer
from scans import Scan, ScanError
from scans.images import load_photo, write_image
from scans.records import Photo


@dataclass(frozen=True)
class AlignmentThresholds:
    """Limits a photo view must meet to become a sample.

    max_landmark_rel : mean landmark error / landmark box size. 0.08 is the failure
        threshold of normalised-mean-error face alignment benchmarks (300-W, AFLW2000-3D);
        a registration that is right in 3D is far below it (see README), a camera or frame
        that is off is far above it.
    min_landmarks_in_image : share of registered landmarks inside the image; a camera that
        misses the head (wrong K scale, wrong extrinsics) puts most of them outside.
    min_iou : scan mask vs true silhouette (synthetic data): right cameras measure >= 0.998;
        moving the principal point of a view whose subject is 140 pixels wide by 3 pixels
        gives 0.93-0.94 (measured on the default build's FaceScape photos).
    """

    max_landmark_rel: float = 0.08
    min_landmarks_in_image: float = 0.9
    min_iou: float = 0.95

    def to_json(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=4)
def _renderer(width: int, height: int) -> Renderer:
    """One renderer per photo size and process, on the EGL device a render worker would use
    (:func:`rendering.renderer.worker_renderer`: the GPU of a GPU worker, else Mesa)."""
    return worker_renderer(width, height)


def camera_of(photo: Photo) -> Camera:
    """The photo's pinhole camera (undistorted image, scan frame)."""
    return Camera(K=photo.K, w2c=photo.w2c, width=photo.width, height=photo.height)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def scan_mask(photo: Photo, verts_m: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(H, W) bool: where the scan surface is seen through the photo's camera."""
    renderer = _renderer(photo.width, photo.height)
    return renderer.render_surface(verts_m, faces, camera_of(photo))["mask"]


def landmark_error(photo: Photo, scan_landmarks_m: np.ndarray,
                   registered_landmarks_m: np.ndarray) -> dict:
    """Pixel distances between the two landmark sets projected with the photo's camera."""
    camera = camera_of(photo)
    scan_px = project(scan_landmarks_m, camera)
    reg_px = project(registered_landmarks_m, camera)
    dist = np.linalg.norm(scan_px - reg_px, axis=1)
    if not np.isfinite(dist).all():
        return {"mean": None, "median": None, "max": None, "rel": None}
    box = np.ptp(scan_px, axis=0)
    size = float(np.sqrt(max(box[0] * box[1], 1e-12)))
    return {"mean": float(dist.mean()), "median": float(np.median(dist)),
            "max": float(dist.max()), "rel": float(dist.mean() / size)}


def in_image_share(photo: Photo, points_m: np.ndarray) -> float:
    """Share of points (N, 3) that project inside the photo, in front of its camera."""
    px = project(points_m, camera_of(photo))
    inside = (np.isfinite(px).all(axis=1) & (px[:, 0] > -0.5) & (px[:, 1] > -0.5)
              & (px[:, 0] < photo.width - 0.5) & (px[:, 1] < photo.height - 0.5))
    return float(inside.mean())


def check_photo(photo: Photo, index: int, scan: Scan, registered_landmarks_m: np.ndarray | None,
                anchor_points_m: np.ndarray, silhouette: np.ndarray | None,
                thresholds: AlignmentThresholds) -> tuple[dict, np.ndarray | None]:
    """One photo view's figures and verdict, and its undistorted image (None if unreadable).

    registered_landmarks_m : (68, 3) the registered mesh's landmarks (None: the model has no
        landmark embedding); anchor_points_m : (k, 3) registered points that must project
        into the image (its landmarks, else its face region); silhouette : (H, W) bool truth.
    Returns ``({"camera_id", "index", "status": "accepted" | "failed" | "skipped",
    "reason", "landmark_px", "landmarks_in_image", "iou"}, image)``.
    """
    entry = {"camera_id": photo.camera_id, "index": index, "status": "accepted",
             "reason": None, "landmark_px": None, "landmarks_in_image": None, "iou": None}
    try:
        image = load_photo(photo, undistort=True)
    except ScanError as exc:
        entry.update(status="skipped", reason=f"unreadable photo: {exc}")
        return entry, None
    reasons = []
    share = in_image_share(photo, anchor_points_m)
    entry["landmarks_in_image"] = share
    if share < thresholds.min_landmarks_in_image:
        reasons.append(f"{share:.0%} of the registered landmarks project inside the image "
                       f"(limit {thresholds.min_landmarks_in_image:.0%})")
    if scan.landmarks_m is not None and registered_landmarks_m is not None:
        error = landmark_error(photo, scan.landmarks_m, registered_landmarks_m)
        entry["landmark_px"] = error
        if error["rel"] is None or error["rel"] > thresholds.max_landmark_rel:
            rel = "undefined" if error["rel"] is None else f"{error['rel']:.3f}"
            reasons.append(f"landmark error {rel} of the face size "
                           f"(limit {thresholds.max_landmark_rel})")
    if silhouette is not None and scan.faces is not None:
        if silhouette.shape != (photo.height, photo.width):
            reasons.append(f"true silhouette is {silhouette.shape[1]}x{silhouette.shape[0]}, "
                           f"the photo {photo.width}x{photo.height}")
        else:
            entry["iou"] = iou(scan_mask(photo, scan.verts_m, scan.faces), silhouette)
            if entry["iou"] < thresholds.min_iou:
                reasons.append(f"scan mask vs true silhouette IoU {entry['iou']:.3f} "
                               f"(limit {thresholds.min_iou})")
    if reasons:
        entry.update(status="failed", reason="; ".join(reasons))
    return entry, image


def registered_landmarks(verts_m: np.ndarray, model: FlameModel) -> np.ndarray | None:
    """(L, 3) landmarks of a registered mesh (V, 3) by the model's embedding (None without)."""
    if model.lmk_faces is None:
        return None
    corners = verts_m[model.faces[model.lmk_faces]]
    return np.einsum("lk,lkr->lr", model.lmk_bary, corners)


def check_scan_photos(scan: Scan, registered_verts_m: np.ndarray, model: FlameModel,
                      silhouettes: dict[str, np.ndarray], out_dir: Path | None,
                      thresholds: AlignmentThresholds) -> list[dict]:
    """Every photo view of a scan: the ones its reader dropped (``scan.skipped_photos``) and
    :func:`check_photo`'s entry for each readable one, with ``overlay`` naming the picture
    written into ``out_dir`` (``photo-<camera_id>.png``, :func:`alignment_overlay`).

    registered_verts_m : (V, 3) the registered mesh in the scan's frame; silhouettes :
    camera id -> (H, W) bool true silhouette (synthetic data; empty otherwise).
    """
    entries = [{"camera_id": s["camera_id"], "index": None, "status": "skipped",
                "reason": s["reason"], "landmark_px": None, "landmarks_in_image": None,
                "iou": None} for s in scan.skipped_photos]
    landmarks = registered_landmarks(registered_verts_m, model)
    anchors = landmarks if landmarks is not None else registered_verts_m[
        model.masks.get("face", np.arange(model.n_vertices))]
    for index, photo in enumerate(scan.photos):
        entry, image = check_photo(photo, index, scan, landmarks, anchors,
                                   silhouettes.get(photo.camera_id), thresholds)
        entry["overlay"] = None
        if image is not None and out_dir is not None and model.vt is not None:
            faces = scan.faces if scan.faces is not None else model.faces
            verts = scan.verts_m if scan.faces is not None else registered_verts_m
            picture = alignment_overlay(_renderer(photo.width, photo.height), image,
                                        camera_of(photo), verts, faces, registered_verts_m,
                                        model.faces, model.vt, model.ft, scan.landmarks_m,
                                        landmarks)
            name = f"photo-{photo.camera_id}.png"
            write_image(Path(out_dir) / name, picture)
            entry["overlay"] = name
        entries.append(entry)
    return entries
