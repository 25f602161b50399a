"""Fit a frame whose maps were written in Pixel3DMM's layout (``fit --maps DIR``).

The frame's ``seg_og`` classes give the uv and normal masks as in Pixel3DMM's tracker; the
68 landmarks are detected on its ``cropped`` image when it shows a face (the fit uses the
maps alone otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faces.detect import detect_faces
from faces.pixel3dmm import MapsError, read_frame
from fitting.fit import FaceFitter, FitError
from fitting.photo_fit import FIT_SIZE, PhotoFit, fit_crop, write_fit


def fit_maps_folder(folder: Path, index: int, out_dir: Path, fitter: FaceFitter,
                    size: int = FIT_SIZE) -> PhotoFit:
    """Read frame ``index`` of ``folder`` at ``size`` pixels, fit it, write the outputs.

    Raises MapsError (missing or unreadable files) or FitError, naming the folder.
    """
    frame = read_frame(folder, index, size)
    rgb = frame.get("rgb")
    landmarks = None
    if rgb is not None:
        faces = detect_faces(rgb)
        landmarks = faces[0].landmarks_px if faces else None
    else:
        rgb = np.zeros((size, size, 3), np.uint8)
    if not frame["uv_valid"].any():
        raise MapsError(f"{folder}: frame {index:05d} has no pixel of the uv classes in seg_og")
    try:
        result = fit_crop(frame["labels"], landmarks, fitter, frame["normal"], frame["uv"])
    except FitError as error:
        raise FitError(f"{folder}: fit of frame {index:05d} failed: {error}") from error
    return write_fit(out_dir, fitter, result, rgb, frame["labels"], landmarks, frame["normal"])
