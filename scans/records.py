"""What an adapter hands on: a cheap :class:`ScanRecord` and the loaded :class:`Scan`.

Units are metres, the frame is FLAME's (x to the subject's left, y up, z out of the face),
cameras follow OpenCV (x right, y down, z forward; ``K`` in pixels with pixel centres at
integer coordinates; ``w2c`` maps the scan's metric world to the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geometry import project


@dataclass(frozen=True)
class ScanRecord:
    """One scan found on disk; listing it reads no mesh.

    Attributes
    ----------
    dataset : "nphm", "facescape" or "ava256"
    subject, expression : ids as the data set names them
    scan_id : unique within the data set, safe as a file name
    files : role -> path of every file the scan is read from (``zip::member`` for zip members)
    options : adapter settings and per-scan facts needed to load it (plain JSON values)
    n_photos : number of calibrated photos the scan has (0 where the data set has none)
    """

    dataset: str
    subject: str
    expression: str
    scan_id: str
    files: dict[str, str]
    options: dict = field(default_factory=dict)
    n_photos: int = 0

    def to_json(self) -> dict:
        """The record as a JSON-ready dict (ids, files, options, photo count)."""
        return {"dataset": self.dataset, "subject": self.subject,
                "expression": self.expression, "scan_id": self.scan_id,
                "files": dict(self.files), "options": dict(self.options),
                "n_photos": self.n_photos}


@dataclass(frozen=True)
class Photo:
    """A calibrated photo of a scan.

    Attributes
    ----------
    path : the image file, or the zip holding it
    member : name inside the zip, or None for a plain file
    camera_id : the data set's name for the camera
    K : (3, 3) float64 intrinsics in pixels (of the image as stored; valid for the undistorted
        image returned by ``scans.images.load_photo``, which keeps ``K``)
    w2c : (4, 4) float64 rigid transform from the scan's metric FLAME-frame world (the frame
        of ``Scan.verts_m``) to the OpenCV camera, metres
    dist : (4,) or (5,) float64 OpenCV distortion (k1, k2, p1, p2[, k3])
    width, height : image size in pixels
    """

    path: Path
    member: str | None
    camera_id: str
    K: np.ndarray
    w2c: np.ndarray
    dist: np.ndarray
    width: int
    height: int

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """Undistorted pixel coordinates (n, 2) of world points (n, 3) metres."""
        return project(points_m, self.K, self.w2c)


@dataclass
class Scan:
    """A loaded scan, in metres and FLAME's frame.

    Attributes
    ----------
    record : the record it was loaded from
    verts_m : (N, 3) float64 metres
    faces : (M, 3) int64 or None (point cloud)
    vertex_colors : (N, 3) uint8 or None; filled whenever the data has colour (sampled from
        the texture at each vertex for textured meshes)
    texture : (H, W, 3) uint8 or None
    uv_corners : (M, 3, 2) float64 or None, per-corner texture coordinates (v up, OBJ/PLY style)
    landmarks_m : (68, 3) float64 or None, Multi-PIE 68 landmarks
    photos : calibrated photos (possibly empty)
    to_metres : (4, 4) float64 similarity applied to the raw data:
        ``verts_m = (to_metres @ [v_raw, 1])[:3]``
    init_verts_m : (V, 3) float64 or None, a FLAME-topology fit shipped with the scan
        (NPHM's ``flame.ply``), in the same frame, usable as initialisation
    skipped_photos : ``{"camera_id", "reason"}`` per photo the reader dropped (a missing or
        unreadable camera file, calibration entry or image); a photo problem never fails the
        scan itself
    texture_source : the file (or ``zip::member``) ``texture`` was read from; "" for none
    texture_reason : why the texture is not the scan's own (a fallback, or none at all);
        "" when it is (Ava256: per-frame uv texture, else the capture's mean, else grey)
    """

    record: ScanRecord
    verts_m: np.ndarray
    faces: np.ndarray | None
    vertex_colors: np.ndarray | None
    texture: np.ndarray | None
    uv_corners: np.ndarray | None
    landmarks_m: np.ndarray | None
    photos: list[Photo]
    to_metres: np.ndarray
    init_verts_m: np.ndarray | None = None
    skipped_photos: list[dict] = field(default_factory=list)
    texture_source: str = ""
    texture_reason: str = ""

