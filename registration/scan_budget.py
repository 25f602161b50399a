"""A scan brought within the registration's memory and time budget before it is registered.

The registration's nearest-neighbour structures (a k-d tree over the scan's points, mesh
normals) and its matches grow with the scan: a release-density NPHM scan (~3.5M faces, NPHM
paper; 5M here) took 3.5x the time of the same scan at 90k faces and pushed a worker past
2.5 GB. :func:`bound_scan` therefore samples a scan with more than ``max_points`` vertices:
a seeded random subset of its triangles and the vertices they use, the triangles' share
chosen so that about ``max_points`` vertices remain. Kept vertices stay where they were
measured (no smoothing, unlike a decimation), their normals come from the kept triangles
around them, and the sample costs one pass over the faces. :func:`check_scan_files` refuses,
before reading, a scan whose mesh file is too large to load within ``max_file_mb``: it is
quarantined with the reason instead of getting its worker killed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from registration.errors import RegistrationError
from scans import Scan, ScanRecord
from scans.datasets import load_scan


@dataclass(frozen=True)
class ScanBudget:
    """Bounds on what one registration works on.

    Attributes
    ----------
    max_points : scans with more vertices are sampled down to about this many (0: never)
    max_file_mb : scans whose mesh file is larger are quarantined unread (0: no limit):
        reading a textured PLY took ~3x its size in memory (a 229 MB, 5.2M-face NPHM scan:
        660 MB)
    seed : the sample's seed (the same scan gives the same sample)
    """

    max_points: int = 250_000
    max_file_mb: float = 400.0
    seed: int = 0


@dataclass(frozen=True)
class BoundedScan:
    """The scan registration works on: verts_m (N, 3) metres, faces (M, 3) int64 or None,
    and ``facts`` (JSON-ready: points and faces in and used, and what was done, for the
    scan's ``status.json``)."""

    verts_m: np.ndarray
    faces: np.ndarray | None
    facts: dict


def check_scan_files(paths: list[str | Path], budget: ScanBudget) -> float:
    """Total size (MB) of a scan's files (those that exist); raises RegistrationError naming
    the largest when it is over ``budget.max_file_mb`` (the scan is quarantined unread)."""
    sizes = {str(p): Path(p).stat().st_size / 1e6 for p in paths if Path(p).is_file()}
    total = sum(sizes.values())
    if budget.max_file_mb > 0 and total > budget.max_file_mb:
        largest = max(sizes, key=sizes.get)
        raise RegistrationError(
            f"the scan's files are {total:.0f} MB ({largest}: {sizes[largest]:.0f} MB), over "
            f"the registration memory budget of {budget.max_file_mb:.0f} MB ([registration] "
            f"scan_max_file_mb): not read")
    return total


def bound_scan(verts_m: np.ndarray, faces: np.ndarray | None,
               budget: ScanBudget) -> BoundedScan:
    """The scan itself when within ``budget.max_points``, else a seeded random subset of its
    triangles and the vertices they use (about ``max_points``).

    Parameters
    ----------
    verts_m : (N, 3) scan points or vertices, metres
    faces : (M, 3) int triangles, or None for a point cloud (then a random ``max_points``)
    budget : :class:`ScanBudget`
    """
    n_points = len(verts_m)
    n_faces = 0 if faces is None else len(faces)
    facts = {"points_in": n_points, "faces_in": n_faces, "points_used": n_points,
             "faces_used": n_faces, "sampled": False, "budget": asdict(budget)}
    rng = np.random.default_rng(budget.seed)
    cap = budget.max_points
    if cap <= 0 or n_points <= cap:
        return BoundedScan(verts_m, faces, facts)
    if faces is None:
        keep = np.sort(rng.choice(n_points, cap, replace=False))
        facts.update(points_used=cap, sampled=True,
                     reason=f"{n_points} points over the budget of {cap}: random sample")
        return BoundedScan(np.asarray(verts_m)[keep], None, facts)
    # a vertex in d triangles survives a triangle sample of share q with 1 - (1 - q)^d
    faces_per_vertex = 3 * n_faces / n_points
    share = 1.0 - (1.0 - cap / n_points) ** (1.0 / faces_per_vertex)
    kept_faces = np.asarray(faces)[rng.random(n_faces) < share]
    used = np.zeros(n_points, dtype=bool)
    used[kept_faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    kept_faces = new_index[kept_faces]
    verts = np.asarray(verts_m)[used]
    facts.update(points_used=int(len(verts)), faces_used=int(len(kept_faces)), sampled=True,
                 reason=f"{n_points} vertices over the budget of {cap}: random sample of "
                        f"{share:.1%} of the triangles")
    return BoundedScan(verts, kept_faces, facts)


SETTING_KEYS = {"scan_max_points": "max_points", "scan_max_file_mb": "max_file_mb"}
"""The registration stage's setting names (``[registration]``) of :class:`ScanBudget` fields."""


def split_budget(settings: dict) -> tuple[ScanBudget, dict]:
    """The :class:`ScanBudget` named in a registration settings dict (``scan_max_points``,
    ``scan_max_file_mb``; defaults where absent) and the other settings."""
    budget = {field: settings[key] for key, field in SETTING_KEYS.items() if key in settings}
    rest = {k: v for k, v in settings.items() if k not in SETTING_KEYS}
    return ScanBudget(**budget), rest


def load_within_budget(record: ScanRecord, budget: ScanBudget) -> tuple[Scan, BoundedScan]:
    """Read a scan whose files fit the budget (:func:`check_scan_files`, else
    RegistrationError) and bound it (:func:`bound_scan`); returns the scan as read and the
    bounded geometry to register, with ``facts["file_mb"]``."""
    mesh = record.files.get("scan", record.files.get("mesh"))
    file_mb = check_scan_files([] if mesh is None else [mesh], budget)
    scan = load_scan(record, appearance=False)
    bounded = bound_scan(scan.verts_m, scan.faces, budget)
    bounded.facts["file_mb"] = round(file_mb, 1)
    return scan, bounded

