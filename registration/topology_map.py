"""A map from a data set's shared scan topology to the model's topology.

Where every scan of a data set is a mesh in one topology (FaceScape's TU models, Ava256's
tracked meshes), a model vertex can be written once as a point on that mesh (a triangle and
barycentric weights) and carried to every scan with no per-scan sliding. The map is a
consensus over the data set's scans registered from their geometry (and landmarks): each
registered vertex's closest point on its own scan, read as (triangle, barycentric), is
evaluated on a common reference (the scans' mean shape after a similarity alignment), the
positions are averaged with the farthest quarter trimmed, and the average is written back as
a point of the reference mesh. Vertices whose positions spread too much over the scans, or
that lie off the scans (holes, parts the topology lacks), are left out of the map.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from registration.metrics import _incident_faces
from registration.rigid import umeyama


def topology_signature(n_vertices: int, faces: np.ndarray | None) -> str:
    """A short hash (16 hex) of a mesh's vertex count and triangles: scans with the same
    signature share one topology."""
    digest = hashlib.sha256(str(int(n_vertices)).encode())
    if faces is not None:
        digest.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def closest_on_mesh(points: np.ndarray, verts: np.ndarray, faces: np.ndarray,
                    tree: cKDTree | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest point of a mesh to each point (n, 3), searched on the triangles around the 4
    nearest vertices: triangle ids (n,), barycentric weights (n, 3), distances (n,) metres."""
    tree = tree or cKDTree(verts)
    _, nearest = tree.query(points, k=4)
    candidates = _incident_faces(faces, len(verts), per_vertex=8)[nearest].reshape(len(points), -1)
    pair_point = np.repeat(np.arange(len(points)), candidates.shape[1])
    pair_face = candidates.ravel()
    valid = pair_face >= 0
    corners = verts[faces[pair_face[valid]]]
    closest = trimesh.triangles.closest_point(corners, points[pair_point[valid]])
    distance = np.full(len(pair_face), np.inf)
    distance[valid] = np.linalg.norm(closest - points[pair_point[valid]], axis=1)
    best = np.argmin(distance.reshape(len(points), -1), axis=1)
    flat = np.arange(len(points)) * candidates.shape[1] + best
    triangles = pair_face[flat]
    foot = np.full((len(pair_face), 3), np.nan)
    foot[valid] = closest
    bary = trimesh.triangles.points_to_barycentric(verts[faces[triangles]], foot[flat])
    bary = np.clip(bary, 0.0, 1.0)
    bary /= bary.sum(axis=1, keepdims=True)
    return triangles, bary, distance[flat]


@dataclass(frozen=True)
class TopologyMap:
    """Model vertices as points of a shared scan topology.

    Attributes
    ----------
    signature : :func:`topology_signature` of the topology the map is for
    vertex_ids : (k,) model vertices mapped
    triangles : (k,) triangle of the shared mesh holding each
    bary : (k, 3) barycentric weights in that triangle
    spread_m : (k,) RMS distance of the scans' own positions from the consensus, metres
    n_scans : scans the consensus was taken over
    """

    signature: str
    vertex_ids: np.ndarray
    triangles: np.ndarray
    bary: np.ndarray
    spread_m: np.ndarray
    n_scans: int

    def apply(self, scan_verts_m: np.ndarray, scan_faces: np.ndarray) -> np.ndarray:
        """Points (k, 3) of the mapped model vertices on a scan of this topology."""
        return np.einsum("kc,kcr->kr", self.bary, scan_verts_m[scan_faces[self.triangles]])

    def save(self, path: Path) -> None:
        """Write the map as ``.npz`` (atomically: a temporary file renamed)."""
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(tmp, signature=self.signature, vertex_ids=self.vertex_ids,
                 triangles=self.triangles, bary=self.bary, spread_m=self.spread_m,
                 n_scans=self.n_scans)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TopologyMap:
        """Read a map written by :meth:`save`."""
        with np.load(path) as data:
            return cls(str(data["signature"]), data["vertex_ids"], data["triangles"],
                       data["bary"], data["spread_m"], int(data["n_scans"]))


def build_topology_map(scans: list[tuple[np.ndarray, np.ndarray]], faces: np.ndarray,
                       candidate_ids: np.ndarray, max_distance_m: float,
                       max_spread_m: float, trim: float = 0.25) -> TopologyMap:
    """The consensus map over scans of one topology.

    Parameters
    ----------
    scans : per scan (scan vertices (N, 3), registered model vertices (V, 3)), same frame
    faces : (M, 3) the shared topology's triangles
    candidate_ids : (c,) model vertices to map
    max_distance_m : a registered vertex farther than this from its scan has no position
        on that scan (a hole, or a part the topology lacks); a vertex needs one on at least
        half the scans
    max_spread_m : vertices whose positions spread more than this (RMS) are left out
    trim : fraction of the farthest positions dropped before averaging
    """
    if len(scans) < 2:
        raise ValueError(f"a consensus needs at least 2 scans, got {len(scans)}")
    reference_frame = scans[0][0]
    aligned = []
    for scan_verts, _ in scans:
        aligned.append(umeyama(scan_verts, reference_frame).apply(scan_verts))
    reference = np.mean(aligned, axis=0)
    positions = np.full((len(scans), len(candidate_ids), 3), np.nan)
    for k, (scan_verts, registered) in enumerate(scans):
        triangles, bary, distance = closest_on_mesh(registered[candidate_ids], scan_verts, faces)
        on = distance <= max_distance_m
        positions[k, on] = np.einsum("kc,kcr->kr", bary[on], reference[faces[triangles[on]]])
    found = np.isfinite(positions[..., 0])
    enough = found.sum(axis=0) * 2 >= len(scans)
    consensus = np.full((len(candidate_ids), 3), np.nan)
    spread = np.full(len(candidate_ids), np.inf)
    for i in np.flatnonzero(enough):
        points = positions[found[:, i], i]
        median = np.median(points, axis=0)
        order = np.argsort(np.linalg.norm(points - median, axis=1))
        kept = points[order[:max(1, int(np.ceil(len(points) * (1.0 - trim))))]]
        consensus[i] = kept.mean(axis=0)
        spread[i] = np.sqrt(((points - consensus[i]) ** 2).sum(axis=1).mean())
    keep = enough & (spread <= max_spread_m)
    triangles, bary, _ = closest_on_mesh(consensus[keep], reference, faces)
    return TopologyMap(topology_signature(len(reference), faces), np.asarray(candidate_ids)[keep],
                       triangles, bary, spread[keep], len(scans))
