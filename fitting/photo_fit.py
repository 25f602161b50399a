"""Fit one face of an ordinary photo: predict the maps on its crop, fit, write the outputs.

Outputs in ``out_dir`` (see ``python -m fitting fit --help``):

- ``result.json``: the photo, the face (box, score, index, faces found), the crop window
  (x0, y0, side, size: photo pixels), the camera (``K_crop`` of the crop the fit saw,
  ``K_photo`` the same camera in the photo's pixels; OpenCV axes), the FLAME parameters,
  each term's settings, weight, agreement and error (``terms``), the landmark errors in crop
  and photo pixels, the fit settings, time, and the files written;
- ``landmarks_photo.txt``: the fitted mesh's 68 landmarks projected, ``x y`` per line,
  photo pixels (pixel centres at integers); ``detected_landmarks_photo.txt`` dlib's;
- ``overlay_photo.png``: the whole photo with the projected mesh and the fitted (red) and
  detected (green) landmarks (downscaled to at most ``OVERLAY_MAX_SIDE`` px);
- ``mesh.ply`` (FLAME topology, camera frame: OpenCV axes, metres; the same for crop and
  photo), ``params.npz`` (``shape``, ``expr``, ``pose`` (J, 3), ``transl`` (3,) with
  ``FLAME(shape, expr, pose, transl) == mesh``; ``K``, ``K_photo``, ``crop``,
  ``landmarks_px`` / ``fitted_landmarks_px`` (crop pixels), ``landmarks_photo_px`` /
  ``fitted_landmarks_photo_px``, ``landmark_error_px``, ``residual_px``);
- ``overlay.png`` (crop | predicted normals | vertices located by uv | fitted mesh),
  ``crop.png``, ``landmarks.png``, ``masks.png`` (classes, :mod:`faces.segment`);
- with a network: ``pixel3dmm/``, the crop as frame 0 of a folder Pixel3DMM's tracker reads
  (:mod:`faces.pixel3dmm`): ``cropped/``, ``seg_og/``, ``p3dmm/normals/``, ``p3dmm/uv_map/``,
  ``PIPnet_landmarks/`` (the detected landmarks) and ``mica/00000/identity.npy`` (this fit's
  identity).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from atomicfile import write_json
from faces import FaceCrop
from faces.crop import Crop
from faces.pictures import draw_points, label_picture, landmark_picture
from faces.pixel3dmm import NORMAL_CLASSES, UV_CLASSES, class_mask, write_frame
from fitting.fit import FaceFitter, FitError, FitInputs, FitResult
from fitting.output import write_npz, write_ply, write_png, write_points
from fitting.overlay import mesh_panel, overlay_picture
from fitting.predictor import MapPredictor

FIT_SIZE = 256
"""Side of the square crop the fit sees, pixels (Pixel3DMM's tracking ``size``)."""
FOCAL_FACTOR = 1.8
"""Starting focal length in crop sizes (the learnt camera moves from there; Pixel3DMM's
tracker starts from 2000 / 512 = 3.91, ``create_parameters``)."""
OVERLAY_MAX_SIDE = 2048
"""``overlay_photo.png`` is at most this many pixels on its long side."""


@dataclass(frozen=True)
class PhotoFit:
    """The fit of one face crop and the files written.

    Attributes
    ----------
    result : the fit (``result.terms``: which terms were used)
    fitted_landmarks_px : (68, 2) the fitted mesh's landmarks projected, crop pixels
    landmark_error_px : their mean distance to the detected ones (NaN without landmarks)
    paths : output name -> file written
    face : the detection and crop (None when the maps came with their own crop)
    """

    result: FitResult
    fitted_landmarks_px: np.ndarray
    landmark_error_px: float
    paths: dict[str, Path]
    face: FaceCrop | None = None


def crop_K(size: int, focal_factor: float = FOCAL_FACTOR) -> np.ndarray:
    """(3, 3) starting intrinsics of a square crop: principal point at its centre."""
    focal = focal_factor * size
    return np.array([[focal, 0.0, (size - 1) / 2], [0.0, focal, (size - 1) / 2], [0, 0, 1]])


def photo_K(K_crop: np.ndarray, crop: Crop) -> np.ndarray:
    """(3, 3) the crop's camera in photo pixels (:meth:`Crop.to_photo` applied to the image
    plane: focal / scale, principal point mapped like a pixel centre)."""
    K = np.array(K_crop, np.float64)
    out = K.copy()
    out[:2, :2] = K[:2, :2] / crop.scale
    out[:2, 2] = crop.to_photo(K[:2, 2][None])[0]
    return out


def fitted_landmarks(fitter: FaceFitter, result: FitResult) -> np.ndarray:
    """(68, 2) pixels: the fitted mesh's landmarks projected with the fit's camera."""
    from fitting.metrics import landmarks_of

    model = fitter.model
    points = landmarks_of(result.verts_camera, model.faces, model.lmk_faces, model.lmk_bary)
    projected = points @ np.asarray(result.K).T
    return projected[:, :2] / projected[:, 2:3]


def fit_crop(labels: np.ndarray, landmarks_px: np.ndarray | None, fitter: FaceFitter,
             normal: np.ndarray | None, uv: np.ndarray | None,
             focal_factor: float = FOCAL_FACTOR) -> FitResult:
    """Fit FLAME to a square face crop from its maps (each (S, S, C) or None) and (68, 2)
    landmarks (or None), the uv search and normal term restricted to Pixel3DMM's classes
    of ``labels`` (S, S) (:mod:`faces.pixel3dmm`)."""
    size = labels.shape[0]
    inputs = FitInputs(
        K=crop_K(size, focal_factor), width=size, height=size, uv=uv,
        uv_valid=class_mask(labels, UV_CLASSES), normal_model=normal,
        normal_valid=class_mask(labels, NORMAL_CLASSES), landmarks_px=landmarks_px)
    return fitter.fit(inputs)


def write_fit(out_dir: Path, fitter: FaceFitter, result: FitResult, rgb: np.ndarray,
              labels: np.ndarray, landmarks_px: np.ndarray | None, normal: np.ndarray | None,
              **extra: np.ndarray) -> PhotoFit:
    """Write the crop outputs of a fit (mesh, params, crop pictures); ``extra`` arrays go
    into params.npz."""
    size = rgb.shape[0]
    model = fitter.model
    fitted = fitted_landmarks(fitter, result)
    error_px = (float(np.linalg.norm(fitted - landmarks_px, axis=1).mean())
                if landmarks_px is not None else float("nan"))
    overlay = overlay_picture(rgb, normal, class_mask(labels, NORMAL_CLASSES), result,
                              fitter.vertex_uv.first_uv(), model.faces, result.K,
                              fitter.renderer(size, size))
    panel = overlay[:, 3 * size:]
    if landmarks_px is not None:
        panel = draw_points(panel, landmarks_px, (0, 255, 0))
    overlay[:, 3 * size:] = draw_points(panel, fitted, (255, 40, 40))
    if landmarks_px is not None:
        extra = {**extra, "landmarks_px": landmarks_px}
    out_dir = Path(out_dir)
    paths = {
        "mesh": write_ply(out_dir / "mesh.ply", result.verts_camera, model.faces),
        "params": write_npz(out_dir / "params.npz", shape=result.shape, expr=result.expr,
                            pose=result.pose, transl=result.transl, K=result.K,
                            fitted_landmarks_px=fitted, landmark_error_px=np.float64(error_px),
                            residual_px=np.float64(result.residual_px), **extra),
        "overlay": write_png(out_dir / "overlay.png", overlay),
        "crop": write_png(out_dir / "crop.png", rgb),
        "masks": write_png(out_dir / "masks.png", label_picture(rgb, labels)),
    }
    if landmarks_px is not None:
        paths["landmarks"] = write_png(out_dir / "landmarks.png",
                                       landmark_picture(rgb, landmarks_px))
    return PhotoFit(result=result, fitted_landmarks_px=fitted, landmark_error_px=error_px,
                    paths=paths)


def photo_overlay(photo_rgb: np.ndarray, fitter: FaceFitter, result: FitResult,
                  K_photo: np.ndarray, fitted_px: np.ndarray,
                  detected_px: np.ndarray) -> tuple[np.ndarray, float]:
    """(h, w, 3) uint8 picture of the photo with the projected mesh and landmarks (photo
    pixels (68, 2)), downscaled to ``OVERLAY_MAX_SIDE``; and that scale."""
    height, width = photo_rgb.shape[:2]
    scale = min(1.0, OVERLAY_MAX_SIDE / max(height, width))
    picture = photo_rgb
    K = np.array(K_photo, np.float64)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = np.asarray(Image.fromarray(photo_rgb).resize(size, Image.BILINEAR))
        K[:2, :2] *= scale
        K[:2, 2] = (K[:2, 2] + 0.5) * scale - 0.5
    h, w = picture.shape[:2]
    picture = mesh_panel(picture, result, fitter.model.faces, K, fitter.renderer(w, h))

    def scaled(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) + 0.5) * scale - 0.5

    picture = draw_points(picture, scaled(detected_px), (0, 255, 0))
    return draw_points(picture, scaled(fitted_px), (255, 40, 40)), scale


def inter_ocular_px(landmarks_px: np.ndarray) -> float:
    """Distance between the outer eye corners (36, 45) of (68, 2) landmarks, pixels."""
    return float(np.linalg.norm(landmarks_px[36] - landmarks_px[45]))


def fit_face(photo: Path, face: FaceCrop, out_dir: Path, fitter: FaceFitter,
             predict_maps: MapPredictor | None, photo_rgb: np.ndarray,
             focal_factor: float = FOCAL_FACTOR, detector: str = "hog") -> PhotoFit:
    """Predict, fit and write every output (see the module) of a face cropped from
    ``photo`` (its pixels ``photo_rgb`` (H, W, 3) uint8). Raises FitError naming the photo
    (only with ``map_agreement`` off, or without landmarks)."""
    normal, uv = predict_maps(face.rgb) if predict_maps is not None else (None, None)
    try:
        result = fit_crop(face.labels, face.landmarks_px, fitter, normal, uv, focal_factor)
    except FitError as error:
        raise FitError(f"{photo}: fit failed: {error}") from error
    crop = face.crop
    K_photo = photo_K(result.K, crop)
    detected_photo = face.face.landmarks_px
    done = write_fit(out_dir, fitter, result, face.rgb, face.labels, face.landmarks_px, normal,
                     crop=crop.as_array(), K_photo=K_photo,
                     landmarks_photo_px=detected_photo,
                     fitted_landmarks_photo_px=crop.to_photo(fitted_landmarks(fitter, result)))
    fitted_photo = crop.to_photo(done.fitted_landmarks_px)
    out_dir = Path(out_dir)
    overlay, overlay_scale = photo_overlay(photo_rgb, fitter, result, K_photo, fitted_photo,
                                           detected_photo)
    paths = dict(done.paths)
    if normal is not None and uv is not None:
        frame = write_frame(out_dir / "pixel3dmm", 0, normal, uv, face.labels, face.rgb,
                            landmarks_px=face.landmarks_px, shape=result.shape)
        paths.update({f"pixel3dmm_{key}": path for key, path in frame.items()})
    paths["overlay_photo"] = write_png(out_dir / "overlay_photo.png", overlay)
    paths["landmarks_photo"] = write_points(out_dir / "landmarks_photo.txt", fitted_photo)
    paths["detected_landmarks_photo"] = write_points(out_dir / "detected_landmarks_photo.txt",
                                                     detected_photo)
    error_photo = float(np.linalg.norm(fitted_photo - detected_photo, axis=1).mean())
    report = {
        "photo": str(photo), "photo_size": list(face.photo_size),
        "face": {"index": face.index, "faces_found": face.n_faces, **face.face.as_dict()},
        "crop": {"x0": crop.x0, "y0": crop.y0, "side": crop.side, "size": crop.size,
                 "units": "photo pixels; the crop is side x side resized to size x size"},
        "camera": {"K_crop": np.round(result.K, 4).tolist(),
                   "K_photo": np.round(K_photo, 4).tolist(),
                   "frame": "OpenCV (x right, y down, z forward), metres; mesh.ply is in it",
                   "focal_start_crop_sizes": focal_factor},
        "flame": {"shape": result.shape.tolist(), "expr": result.expr.tolist(),
                  "pose": result.pose.tolist(), "transl": result.transl.tolist()},
        "maps": "network" if predict_maps is not None else "none (landmarks only)",
        "terms": result.terms,
        "landmarks": {"mean_error_crop_px": round(done.landmark_error_px, 3),
                      "mean_error_photo_px": round(error_photo, 3),
                      "inter_ocular_photo_px": round(inter_ocular_px(detected_photo), 3),
                      "mean_error_inter_ocular": round(
                          error_photo / max(inter_ocular_px(detected_photo), 1e-9), 4)},
        "converged": result.converged, "residual_px": round(float(result.residual_px), 3),
        "overlay_photo_scale": overlay_scale,
        "settings": dataclasses.asdict(fitter.settings),
        "seconds": round(result.seconds, 3), "cpu_seconds": round(result.cpu_seconds, 3),
        "files": sorted(str(path.relative_to(out_dir)) for path in paths.values())
        + ["result.json"],
    }
    paths["result"] = write_json(out_dir / "result.json", report, sort_keys=False)
    return PhotoFit(result=result, fitted_landmarks_px=done.fitted_landmarks_px,
                    landmark_error_px=done.landmark_error_px, paths=paths, face=face)


def faces_report(photo: Path, faces, detector: str, chosen: list[int]) -> dict:
    """JSON-ready list of every face found in ``photo`` (most confident first)."""
    return {"photo": str(photo), "detector": detector, "faces_found": len(faces),
            "fitted": chosen,
            "faces": [{"index": index, **face.as_dict()} for index, face in enumerate(faces)]}


def fit_photo(photo: Path, out_dir: Path, fitter: FaceFitter,
              predict_maps: MapPredictor | None, face_index: int | None = None,
              size: int = FIT_SIZE, focal_factor: float = FOCAL_FACTOR,
              detector: str = "hog") -> PhotoFit:
    """Read ``photo``, detect, crop face ``face_index`` (None: the most confident), predict,
    fit and write the outputs (see the module) and ``faces.json``.

    Raises rgbimage.ImageError, faces.NoFaceError (both naming the photo) or FitError.
    """
    from faces import find_faces

    found = find_faces(photo, detector)
    face = found.crop(face_index, size)
    done = fit_face(Path(photo), face, out_dir, fitter, predict_maps, found.rgb, focal_factor,
                    detector)
    write_json(Path(out_dir) / "faces.json", faces_report(photo, found.faces, detector,
                                                          [face.index]))
    return done
