"""Fit one ordinary photo: detect and crop the face, predict the maps, fit, write outputs.

Outputs in ``out_dir``: ``mesh.ply`` (FLAME topology, camera frame of the crop: OpenCV
axes, metres), ``params.npz`` (``shape``, ``expr``, ``pose`` (J, 3), ``transl`` (3,) with
``FLAME(shape, expr, pose, transl) == mesh``; ``K`` (3, 3) of the crop; ``crop`` (x0, y0,
side, size): the crop's window in the photo; ``landmarks_px`` (68, 2) detected and
``fitted_landmarks_px`` (68, 2) reprojected, crop pixels; ``landmark_error_px`` their mean
distance; ``residual_px``), ``overlay.png`` (crop | predicted normals | vertices located by
uv | fitted mesh with detected (green) and fitted (red) landmarks) and the preprocessing
pictures ``crop.png``, ``landmarks.png``, ``masks.png`` (classes, :mod:`faces.segment`).
Nothing is written when no face is found or the fit fails.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from faces import FaceCrop, face_crop
from faces.pictures import draw_points, label_picture, landmark_picture
from faces.pixel3dmm import NORMAL_CLASSES, UV_CLASSES, class_mask
from fitting.fit import FaceFitter, FitError, FitInputs, FitResult
from fitting.metrics import landmarks_of
from fitting.output import write_npz, write_ply, write_png
from fitting.overlay import overlay_picture
from fitting.predictor import MapPredictor

FIT_SIZE = 256
"""Side of the square crop the fit sees, pixels (Pixel3DMM's tracking ``size``)."""
FOCAL_FACTOR = 1.8
"""Starting focal length in crop sizes (the learnt camera moves from there)."""


@dataclass(frozen=True)
class PhotoFit:
    """The fit of one face crop, its landmark reprojection error and the files written.

    Attributes
    ----------
    result : the fit
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


def fitted_landmarks(fitter: FaceFitter, result: FitResult) -> np.ndarray:
    """(68, 2) pixels: the fitted mesh's landmarks projected with the fit's camera."""
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
    """Write the outputs of a crop's fit (see the module); ``extra`` arrays go into
    params.npz."""
    size = rgb.shape[0]
    model = fitter.model
    fitted = fitted_landmarks(fitter, result)
    error_px = (float(np.linalg.norm(fitted - landmarks_px, axis=1).mean())
                if landmarks_px is not None else float("nan"))
    overlay = overlay_picture(rgb, normal, class_mask(labels, NORMAL_CLASSES), result,
                              fitter.vertex_uv.first_uv(), model.faces, result.K,
                              fitter.renderer(size, size))
    mesh_panel = overlay[:, 3 * size:]
    if landmarks_px is not None:
        mesh_panel = draw_points(mesh_panel, landmarks_px, (0, 255, 0))
    overlay[:, 3 * size:] = draw_points(mesh_panel, fitted, (255, 40, 40))
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


def fit_photo(photo: Path, out_dir: Path, fitter: FaceFitter,
              predict_maps: MapPredictor | None, face_index: int | None = None,
              size: int = FIT_SIZE, focal_factor: float = FOCAL_FACTOR) -> PhotoFit:
    """Detect, crop, predict, fit and write the outputs of one photo.

    Parameters
    ----------
    photo : any image file (grey, RGBA, any size and aspect)
    out_dir : output folder (written only once the fit has succeeded)
    fitter : holds the FLAME model and fit settings
    predict_maps : crop rgb -> (normal, uv) maps at crop size; None: landmarks only
    face_index : which face (0 = largest; None: the largest)
    size : crop side, pixels; focal_factor : starting focal length in crop sizes

    Raises
    ------
    faces.PhotoError, faces.NoFaceError, FitError; all name the photo
    """
    return fit_face(Path(photo), face_crop(photo, size, face_index), out_dir, fitter,
                    predict_maps, focal_factor)


def fit_face(photo: Path, face: FaceCrop, out_dir: Path, fitter: FaceFitter,
             predict_maps: MapPredictor | None, focal_factor: float = FOCAL_FACTOR) -> PhotoFit:
    """Predict, fit and write the outputs of a face already cropped from ``photo``."""
    normal, uv = predict_maps(face.rgb) if predict_maps is not None else (None, None)
    try:
        result = fit_crop(face.labels, face.landmarks_px, fitter, normal, uv, focal_factor)
    except FitError as error:
        raise FitError(f"{photo}: fit failed: {error}") from error
    done = write_fit(out_dir, fitter, result, face.rgb, face.labels, face.landmarks_px, normal,
                     crop=face.crop.as_array())
    return replace(done, face=face)
