"""Quality figures of a registration: distances to the scan, and errors against ground truth."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from geometry import vertex_normals
from registration.scan_surface import ScanSurface


def _stats_mm(distances_m: np.ndarray) -> dict[str, float]:
    """mean, median, p95 in millimetres of distances (n,) metres (NaN when empty)."""
    if distances_m.size == 0:
        return {"mean": float("nan"), "median": float("nan"), "p95": float("nan")}
    mm = distances_m * 1000.0
    return {"mean": float(mm.mean()), "median": float(np.median(mm)),
            "p95": float(np.percentile(mm, 95))}


def scan_distances(verts_m: np.ndarray, faces: np.ndarray, surface: ScanSurface,
                   face_ids: np.ndarray, within_m: float) -> dict:
    """Distances between a registered mesh and its scan over the face region.

    Parameters
    ----------
    verts_m : (V, 3) registered mesh, scan frame; faces : (F, 3)
    surface : the scan
    face_ids : (k,) vertices of the face region
    within_m : radius for the coverage fraction

    Returns
    -------
    dict with ``mesh_to_scan_mm`` (face vertices to the scan's tangent plane at the nearest
    scan point, where one lies within 10 mm), ``scan_to_mesh_mm`` (scan points whose nearest
    vertex is a face vertex, to that vertex's tangent plane), and ``fraction_within_2mm``
    (face vertices with a scan point within ``within_m``; the key names the default).
    """
    dist, ids = surface.nearest(verts_m[face_ids], 0.01)
    found = np.isfinite(dist)
    normals = surface.normals(ids[found])
    mesh_to_scan = np.abs(((verts_m[face_ids][found] - surface.points_m[ids[found]])
                           * normals).sum(axis=1))
    in_face = np.zeros(len(verts_m), dtype=bool)
    in_face[face_ids] = True
    _, nearest_vertex = trimesh.Trimesh(verts_m, faces, process=False).kdtree.query(
        surface.points_m)
    on_face = in_face[nearest_vertex]
    normals = vertex_normals(verts_m, faces)
    hit = nearest_vertex[on_face]
    scan_to_mesh = np.abs(((surface.points_m[on_face] - verts_m[hit])
                           * normals[hit]).sum(axis=1))
    return {
        "mesh_to_scan_mm": _stats_mm(mesh_to_scan),
        "scan_to_mesh_mm": _stats_mm(scan_to_mesh),
        "fraction_within_2mm": float((dist <= within_m).mean()),
    }


def truth_error(registered_verts_m: np.ndarray, truth_verts_m: np.ndarray,
                face_ids: np.ndarray) -> dict[str, float]:
    """Correspondence error: |registered vertex i - true vertex i| over the face region.

    Parameters
    ----------
    registered_verts_m, truth_verts_m : (V, 3) metres, same frame, same topology
    face_ids : (k,) vertex indices

    Returns
    -------
    dict mean, median, p95 in millimetres
    """
    return _stats_mm(np.linalg.norm(registered_verts_m[face_ids] - truth_verts_m[face_ids],
                                    axis=1))


def truth_surface_error(registered_verts_m: np.ndarray, truth_verts_m: np.ndarray,
                        faces: np.ndarray, face_ids: np.ndarray) -> dict[str, float]:
    """Surface error: distance from each registered face vertex to the true surface (the
    closest point on the triangles around the 4 nearest true vertices); mean, median, p95 mm.

    Parameters
    ----------
    registered_verts_m, truth_verts_m : (V, 3) metres, same frame
    faces : (F, 3) the truth's triangles
    face_ids : (k,) registered vertices measured
    """
    points = registered_verts_m[face_ids]
    _, nearest = cKDTree(truth_verts_m).query(points, k=4)
    incident = _incident_faces(faces, len(truth_verts_m), per_vertex=8)
    candidates = incident[nearest].reshape(len(points), -1)  # (k, 32), -1 padded
    pair_point = np.repeat(np.arange(len(points)), candidates.shape[1])
    pair_face = candidates.ravel()
    valid = pair_face >= 0
    closest = trimesh.triangles.closest_point(truth_verts_m[faces[pair_face[valid]]],
                                              points[pair_point[valid]])
    distance = np.full(len(pair_face), np.inf)
    distance[valid] = np.linalg.norm(closest - points[pair_point[valid]], axis=1)
    return _stats_mm(distance.reshape(len(points), -1).min(axis=1))


def _incident_faces(faces: np.ndarray, n_vertices: int, per_vertex: int) -> np.ndarray:
    """(V, per_vertex) faces around each vertex, padded with -1 (extra ones dropped)."""
    corner_vertex = faces.ravel()
    order = np.argsort(corner_vertex, kind="stable")
    sorted_vertex = corner_vertex[order]
    first = np.searchsorted(sorted_vertex, np.arange(n_vertices))
    rank = np.arange(len(order)) - first[sorted_vertex]
    table = np.full((n_vertices, per_vertex), -1, dtype=np.int64)
    keep = rank < per_vertex
    table[sorted_vertex[keep], rank[keep]] = order[keep] // 3
    return table
