"""Input checks: refuse, with a reason, scans the registration cannot sensibly run on."""

from __future__ import annotations

import numpy as np

from registration.errors import RegistrationError
from registration.settings import RegistrationSettings


def validate_scan(verts_m: np.ndarray, faces: np.ndarray | None,
                  landmarks_m: np.ndarray | None,
                  settings: RegistrationSettings) -> tuple[np.ndarray, np.ndarray | None,
                                                           np.ndarray | None]:
    """Check a scan and return it as float64 / int64 arrays.

    Parameters
    ----------
    verts_m : (N, 3) scan points or vertices, metres
    faces : (M, 3) vertex indices, or None for a point cloud
    landmarks_m : (L, 3) metres, or None

    Raises
    ------
    RegistrationError
        Empty, too few points, NaN/inf, a size that says millimetres (or a fragment), points
        on a line or a plane, triangles indexing missing vertices, malformed landmarks.
    """
    verts = np.asarray(verts_m, dtype=np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise RegistrationError(f"scan vertices have shape {verts.shape}, expected (N, 3)")
    if len(verts) == 0:
        raise RegistrationError("the scan is empty (0 points)")
    bad = ~np.isfinite(verts).all(axis=1)
    if bad.any():
        raise RegistrationError(f"NaN or infinite coordinates in {int(bad.sum())} of "
                                f"{len(verts)} points")
    if len(verts) < settings.min_points:
        raise RegistrationError(f"the scan has {len(verts)} points; at least "
                                f"{settings.min_points} are needed")
    extent = float(np.linalg.norm(verts.max(axis=0) - verts.min(axis=0)))
    if extent > settings.max_extent_m:
        raise RegistrationError(
            f"the scan is {extent:.1f} units across, too big for a head in metres "
            f"(limit {settings.max_extent_m} m): is it in millimetres?"
        )
    if extent < settings.min_extent_m:
        raise RegistrationError(f"the scan is {extent * 1000:.0f} mm across, too small for a "
                                f"head (limit {settings.min_extent_m * 1000:.0f} mm)")
    spread = np.linalg.svd(verts - verts.mean(axis=0), compute_uv=False)
    if spread[2] < 0.05 * spread[0]:
        raise RegistrationError("the scan is degenerate: its points lie on a line or a plane")
    if faces is not None:
        faces = np.asarray(faces)
        if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
            raise RegistrationError(f"scan faces have shape {faces.shape} and dtype "
                                    f"{faces.dtype}, expected (M, 3) integers")
        if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
            raise RegistrationError(f"scan faces index vertices outside 0..{len(verts) - 1}")
        faces = faces.astype(np.int64) if len(faces) else None
    if landmarks_m is not None:
        landmarks_m = np.asarray(landmarks_m, dtype=np.float64)
        if landmarks_m.ndim != 2 or landmarks_m.shape[1] != 3:
            raise RegistrationError(f"landmarks have shape {landmarks_m.shape}, expected (L, 3)")
        if not np.isfinite(landmarks_m).all():
            raise RegistrationError("landmarks hold NaN or infinite coordinates")
    return verts, faces, landmarks_m
