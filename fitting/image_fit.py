"""Fit a whole image showing one face on a plain backdrop (a rendered sample), as
``python -m fitting fit --no-detect``: predict the maps, mask, fit, write the outputs.
Ordinary photos go through :mod:`fitting.photo_fit`.

Outputs in ``out_dir``: ``mesh.ply`` (FLAME topology, camera frame: OpenCV axes, metres),
``params.npz`` (``shape``, ``expr``, ``pose`` (J, 3), ``transl`` (3,) with
``FLAME(shape, expr, pose, transl) == mesh``, ``K`` (3, 3) of the fit, ``residual_px``) and
``overlay.png`` (input | predicted normals | vertices located by uv | fitted mesh).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faces.photo import read_photo
from fitting.fit import FaceFitter, FitError, FitInputs, FitResult
from fitting.output import write_npz, write_ply, write_png
from fitting.overlay import overlay_picture
from fitting.predictor import MapPredictor
from rgbimage import ImageError

MIN_FACE_FRACTION = 0.02
"""A face mask must cover at least this share of the image."""
MIN_FACE_EXTENT_PX = 24
"""... and span at least this many pixels in width and height."""
BACKGROUND_TOLERANCE = 12
"""Foreground: any channel differs from the border's median colour by more than this."""
DEFAULT_FOCAL_FACTOR = 1.8
"""Focal length in image sizes (max of width and height) when none is given (~31 deg FoV)."""


@dataclass(frozen=True)
class ImageFit:
    """The fit of one image and the files written."""

    result: FitResult
    mesh_path: Path
    params_path: Path
    overlay_path: Path


def foreground_mask(rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that differ from the image border's median colour (a plain
    backdrop, as in the rendered samples)."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    backdrop = np.median(border, axis=0)
    return (np.abs(rgb.astype(np.int16) - backdrop) > BACKGROUND_TOLERANCE).any(axis=2)


def check_face_mask(mask: np.ndarray, source: str) -> None:
    """Raise ImageError naming ``source`` unless ``mask`` (H, W) bool is face-sized."""
    fraction = float(mask.mean())
    rows, cols = np.nonzero(mask)
    extent = 0 if rows.size == 0 else min(np.ptp(rows), np.ptp(cols)) + 1
    if fraction < MIN_FACE_FRACTION or extent < MIN_FACE_EXTENT_PX:
        raise ImageError(f"{source}: no face-sized region in the mask ({100 * fraction:.1f}% "
                         f"of the image, {extent} px across; need {100 * MIN_FACE_FRACTION:g}% "
                         f"and {MIN_FACE_EXTENT_PX} px); give a face mask with --mask")


def fit_image(image_path: Path, out_dir: Path, fitter: FaceFitter, predict_maps: MapPredictor,
              focal_px: float | None = None, mask_path: Path | None = None) -> ImageFit:
    """Predict, fit and write the outputs of one image.

    Parameters
    ----------
    image_path : the photo
    out_dir : output folder (created)
    fitter : holds the FLAME model and fit settings
    predict_maps : rgb -> (normal, uv) maps at image size (e.g. ``network_predictor``)
    focal_px : focal length in pixels (None: ``DEFAULT_FOCAL_FACTOR`` * max(H, W));
        principal point at the image centre
    mask_path : face mask image (non-zero = face); None: foreground against a plain backdrop

    Raises
    ------
    ImageError (unreadable image or mask, no face-sized region), FitError (the fit
    failed); all name the file
    """
    image_path = Path(image_path)
    rgb = read_photo(image_path)
    height, width = rgb.shape[:2]
    if mask_path is not None:
        mask = read_photo(Path(mask_path)).max(axis=2) > 0
        if mask.shape != (height, width):
            raise ImageError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, the image "
                             f"{image_path} is {width}x{height}")
        check_face_mask(mask, str(mask_path))
    else:
        mask = foreground_mask(rgb)
        check_face_mask(mask, str(image_path))
    normal_map, uv_map = predict_maps(rgb)
    focal = focal_px if focal_px is not None else DEFAULT_FOCAL_FACTOR * max(height, width)
    K = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0, 0, 1]])
    inputs = FitInputs(K=K, width=width, height=height, uv=uv_map, uv_valid=mask,
                       normal_model=normal_map, normal_valid=mask)
    try:
        result = fitter.fit(inputs)
    except FitError as error:
        raise FitError(f"{image_path}: fit failed: {error}") from error
    out_dir = Path(out_dir)
    model = fitter.model
    mesh_path = write_ply(out_dir / "mesh.ply", result.verts_camera, model.faces)
    params_path = write_npz(out_dir / "params.npz", shape=result.shape, expr=result.expr,
                            pose=result.pose, transl=result.transl, K=result.K,
                            residual_px=np.float64(result.residual_px))
    picture = overlay_picture(rgb, normal_map, mask, result, fitter.vertex_uv.first_uv(),
                              model.faces, result.K, fitter.renderer(width, height))
    overlay_path = write_png(out_dir / "overlay.png", picture)
    return ImageFit(result=result, mesh_path=mesh_path, params_path=params_path,
                    overlay_path=overlay_path)
