"""NPHM adapter.

Layout (as released)::

    ROOT/<subject>/<expression>/scan.ply          textured scan; texture named in the header
                                                  (``comment TextureFile <name>``), beside it
                               /flame.ply         a FLAME fit (usable as initialisation)
                               /registration.ply  when present
                               /s.npy R.npy t.npy similarity raw metric frame -> NPHM space
                                                  (``v_nphm = s * R @ v_raw + t``)

Conventions, from NPHM's own code (github.com/SimonGiebenhain/NPHM,
``src/NPHM/data/manager.py`` ``DataManager``): ``transform_nphm_2_flame`` divides by 4 (NPHM
space = FLAME space x 4, no translation); ``transform_nphm_2_raw`` computes
``1/s (v - t) @ R``, i.e. ``v_nphm = s R v_raw + t``; ``get_flame_path`` and
``get_registration_path`` name ``flame.ply`` and ``registration.ply``. Which expression is a
subject's neutral is not part of the data release: ``dataset/neutrals_open.json`` and
``dataset/neutrals_closed.json`` live in NPHM's code repository (read by
``src/NPHM/env_paths.py``; a value of -1 means the subject has none, and
``DataManager.get_neutral_expression`` returns None for it). This adapter does not need them.

Subject and expression folders have numeric names only (``017/003``); other folders are
ignored. The adapter's transform is ``to_metres = diag(1/4, 1/4, 1/4, 1)`` and the result is
in FLAME's frame.
NPHM has no calibrated photos and no 3D landmark file: ``photos`` is empty. Where
``registration.ply`` exists, the 68 landmarks are its vertices ``LANDMARK_VERTICES``, as NPHM's
``DataManager.get_landmarks`` reads them (``fine_mesh.vertices[self.lm_inds_upsampled]``, the
indices set in ``DataManager.__init__``), in the scan's NPHM space; otherwise ``landmarks_m``
is None. ``scan_id`` is ``<subject>_<expression>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scans.errors import ScanError
from scans.geometry import similarity, transform_points
from scans.meshio import check_mesh, read_ply
from scans.records import Photo, Scan, ScanRecord
from scans.textured import read_textured_mesh

DATASET = "nphm"
NPHM_TO_METRES = 0.25
"""NPHM space is FLAME space (metres) scaled by 4."""
LANDMARK_VERTICES = np.array([
    2212, 3060, 3485, 3384, 3386, 3389, 3418, 3395, 3414, 3598, 3637, 3587, 3582, 3580, 3756,
    2012, 730, 1984, 3157, 335, 3705, 3684, 3851, 3863, 16, 2138, 571, 3553, 3561, 3501, 3526,
    2748, 2792, 3556, 1675, 1612, 2437, 2383, 2494, 3632, 2278, 2296, 3833, 1343, 1034, 1175,
    884, 829, 2715, 2813, 2774, 3543, 1657, 1696, 1579, 1795, 1865, 3503, 2948, 2898, 2845,
    2785, 3533, 1668, 1730, 1669, 3509, 2786])
"""The 68 landmark vertices of ``registration.ply`` (NPHM ``src/NPHM/data/manager.py``,
``DataManager.lm_inds_upsampled``)."""


def list_scans(root: str | Path) -> list[ScanRecord]:
    """Records of every ``ROOT/<subject>/<expression>/`` folder (reads no mesh)."""
    root = Path(root)
    if not root.is_dir():
        raise ScanError(root, "NPHM root folder not found")
    records = []
    for subject in sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()),
                          key=lambda p: int(p.name)):
        for expr in sorted((p for p in subject.iterdir() if p.is_dir() and p.name.isdigit()),
                           key=lambda p: int(p.name)):
            files = {"scan": str(expr / "scan.ply")}
            for role in ("flame", "registration"):
                if (expr / f"{role}.ply").is_file():
                    files[role] = str(expr / f"{role}.ply")
            for name in ("s", "R", "t"):
                if (expr / f"{name}.npy").is_file():
                    files[name] = str(expr / f"{name}.npy")
            records.append(ScanRecord(DATASET, subject.name, expr.name,
                                      f"{subject.name}_{expr.name}", files))
    return records


def load(record: ScanRecord, appearance: bool = True) -> Scan:
    """Read a scan: mesh, texture and vertex colours (``appearance``), the FLAME fit, the
    landmarks of the registration; metres, FLAME frame."""
    scan_path = Path(record.files["scan"])
    to_metres = similarity(NPHM_TO_METRES)
    scan = read_textured_mesh(scan_path, read_ply, to_metres, appearance)
    init = None
    if "flame" in record.files:
        fit_path = Path(record.files["flame"])
        fit = check_mesh(read_ply(fit_path), fit_path, need_faces=False)
        init = transform_points(to_metres, fit.verts)
    landmarks = None
    if "registration" in record.files:
        landmarks = transform_points(to_metres, read_registration_landmarks(
            Path(record.files["registration"])))
    return Scan(record=record, verts_m=scan.verts_m, faces=scan.mesh.faces,
                vertex_colors=scan.colors, texture=scan.texture,
                uv_corners=scan.mesh.uv_corners, landmarks_m=landmarks, photos=[],
                to_metres=to_metres, init_verts_m=init)


def load_photos(record: ScanRecord) -> list[Photo]:
    """NPHM ships no calibrated photos with its scans."""
    return []


def read_registration_landmarks(path: Path) -> np.ndarray:
    """The 68 landmarks (68, 3) NPHM space of ``registration.ply`` (``LANDMARK_VERTICES``);
    a mesh too small for those indices is of another topology: ScanError naming it."""
    registration = check_mesh(read_ply(path), path, need_faces=False)
    if len(registration.verts) <= LANDMARK_VERTICES.max():
        raise ScanError(path, f"{len(registration.verts)} vertices: not NPHM's registration "
                        f"topology (its landmark vertices go up to {LANDMARK_VERTICES.max()})")
    return registration.verts[LANDMARK_VERTICES]


def read_raw_similarity(record: ScanRecord) -> tuple[float, np.ndarray, np.ndarray]:
    """NPHM's ``(s, R (3, 3), t (3,))``: ``v_nphm = s * R @ v_raw + t``."""
    try:
        s = float(np.load(record.files["s"]))
        rot = np.load(record.files["R"]).reshape(3, 3)
        t = np.load(record.files["t"]).reshape(3)
    except KeyError as exc:
        raise ScanError(Path(record.files["scan"]).parent / f"{exc.args[0]}.npy",
                        "similarity file missing") from None
    except (OSError, ValueError) as exc:
        raise ScanError(Path(record.files["scan"]).parent, f"unreadable s/R/t: {exc}") from None
    return s, rot, t
