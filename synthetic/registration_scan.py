"""Synthetic face scans with ground truth in model topology, for the tests and the benchmark.

A scan is an ICT FaceKit head with all 100 identity modes and a random blendshape mix (so the
stand-in, which keeps 50 identity modes and 20 expression components, cannot express it
exactly), sampled as a point cloud or remeshed by subdivision, then noised, optionally cut
with holes and given hair-like outliers above the forehead, and placed by a random
similarity transform. The ground truth is the same ICT mesh in stand-in topology, in the
scan's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from flame.ict import IctModel, standin_triangles, standin_vertex_ids
from geometry import axis_angle_to_matrix


@dataclass(frozen=True)
class SyntheticScan:
    """A synthetic scan and its ground truth.

    Attributes
    ----------
    verts_m : (N, 3) float64 scan points or vertices, metres, scan frame
    faces : (M, 3) int64 or None (None: a point cloud)
    landmarks_m : (68, 3) float64, Multi-PIE landmarks in the scan frame (with 1 mm noise)
    truth_verts_m : (V, 3) float64, the true surface in stand-in topology, scan frame
    scale, rotation, translation : the similarity model frame -> scan frame
        (x_scan = scale * rotation @ x_model + translation)
    """

    verts_m: np.ndarray
    faces: np.ndarray | None
    landmarks_m: np.ndarray
    truth_verts_m: np.ndarray
    scale: float
    rotation: np.ndarray
    translation: np.ndarray


def _random_expression(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Blendshape weights (n,): about one in five active, each uniform in [0, 0.7]; as in
    ARKit use, ``mouthClose`` never exceeds ``jawOpen`` (alone it pushes the lips through
    each other)."""
    weights = np.where(rng.random(len(names)) < 0.2, rng.uniform(0.0, 0.7, len(names)), 0.0)
    names = list(names)
    if "mouthClose" in names and "jawOpen" in names:
        close, jaw = names.index("mouthClose"), names.index("jawOpen")
        weights[close] = min(weights[close], weights[jaw])
    return weights


def _visible_triangles(ict: IctModel, verts: np.ndarray) -> np.ndarray:
    """Triangles (k, 3) a frontal scanner sees: the stand-in parts in front of the ears,
    eyeballs only where they face forward."""
    keep = standin_triangles(ict)
    faces = ict.faces[keep]
    tri = verts[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-30
    eyeball = np.zeros(len(verts), dtype=bool)
    for part in ("eyeball_left", "eyeball_right"):
        eyeball[ict.part_vertices(part)] = True
    on_eyeball = eyeball[faces].any(axis=1)
    front = tri.mean(axis=1)[:, 2] > -0.03
    return faces[front & (~on_eyeball | (normals[:, 2] > 0.6))]


def _hair(rng: np.random.Generator, points: np.ndarray, normals: np.ndarray,
          n_hair: int) -> np.ndarray:
    """Outlier points (n_hair, 3) floating 3-25 mm off the scalp and the top of the forehead."""
    brow_top = np.percentile(points[points[:, 2] > 0.05, 1], 90)
    scalp = np.flatnonzero(points[:, 1] > brow_top - 0.01)
    pick = rng.choice(scalp, n_hair)
    lift = rng.uniform(0.003, 0.025, (n_hair, 1))
    return points[pick] + lift * normals[pick] + rng.normal(0.0, 0.002, (n_hair, 3))


def _cut_holes(rng: np.random.Generator, points: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean keep-mask (N,): random balls (12-25 mm) centred on the surface removed until
    ``fraction`` of the points are gone."""
    keep = np.ones(len(points), dtype=bool)
    while 1.0 - keep.mean() < fraction:
        centre = points[rng.integers(len(points))]
        radius = rng.uniform(0.012, 0.025)
        keep &= np.linalg.norm(points - centre, axis=1) > radius
    return keep


def random_similarity(rng: np.random.Generator, max_rotation_deg: float,
                      scale_range: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation (3, 3), translation (3,) metres): a random axis, an angle up to
    ``max_rotation_deg``, scale in 1 +- ``scale_range``, translation up to 0.2 m."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(0.0, max_rotation_deg))
    rotation = axis_angle_to_matrix(axis * angle)
    scale = float(rng.uniform(1.0 - scale_range, 1.0 + scale_range))
    return scale, rotation, rng.uniform(-0.2, 0.2, 3)


def make_synthetic_scan(ict: IctModel, seed: int, n_points: int = 30_000,
                        as_mesh: bool = False, noise_m: float = 0.0002,
                        hole_fraction: float = 0.0, hair_fraction: float = 0.0,
                        max_rotation_deg: float = 20.0,
                        scale_range: float = 0.05,
                        expression: dict[str, float] | None = None) -> SyntheticScan:
    """One synthetic scan with ground truth.

    Parameters
    ----------
    ict : the ICT model (``flame.ict.load_ict()``)
    seed : seeds every random choice
    n_points : points sampled on the surface (point cloud) before holes; for ``as_mesh`` the
        mesh is subdivided until it has at least this many vertices
    as_mesh : return a triangle mesh (subdivided ICT surface, a different topology from the
        model's) instead of a point cloud
    noise_m : standard deviation of the Gaussian noise added to every coordinate, metres
    hole_fraction : fraction of the points removed by holes on the face
    hair_fraction : hair-like outliers added, as a fraction of the surface points
    max_rotation_deg, scale_range : size of the random similarity placing the scan
    expression : blendshape weights (ICT name -> weight) set over the random mix, e.g.
        ``{"jawOpen": 0.7, "mouthClose": 0.0}`` for a wide-open mouth
    """
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=100) * 0.8
    weights = _random_expression(rng, ict.expression_names)
    names = list(ict.expression_names)
    for name, weight in (expression or {}).items():
        weights[names.index(name)] = weight
    ict_verts = ict.mesh(identity, weights)
    faces = _visible_triangles(ict, ict_verts)
    surface = trimesh.Trimesh(ict_verts, faces, process=False)
    if as_mesh:
        points, scan_faces = surface.vertices, surface.faces
        while len(points) < n_points:
            points, scan_faces = trimesh.remesh.subdivide(points, scan_faces)
        used = np.unique(scan_faces)
        remap = np.full(len(points), -1)
        remap[used] = np.arange(len(used))
        points, scan_faces = points[used], remap[scan_faces]
        normals = trimesh.Trimesh(points, scan_faces, process=False).vertex_normals
    else:
        points, face_index = trimesh.sample.sample_surface(surface, n_points, seed=seed)
        normals = surface.face_normals[face_index]
        scan_faces = None
    points = points + rng.normal(0.0, noise_m, points.shape)
    if hole_fraction > 0:
        keep = _cut_holes(rng, points, hole_fraction)
        if scan_faces is not None:
            remap = np.cumsum(keep) - 1
            scan_faces = remap[scan_faces[keep[scan_faces].all(axis=1)]]
        points, normals = points[keep], normals[keep]
    if hair_fraction > 0:
        points = np.concatenate([points, _hair(rng, points, normals,
                                               int(hair_fraction * len(points)))])
    scale, rotation, translation = random_similarity(rng, max_rotation_deg, scale_range)

    def place(x: np.ndarray) -> np.ndarray:
        return scale * x @ rotation.T + translation

    landmarks = ict_verts[ict.landmarks68] + rng.normal(0.0, 0.001, (68, 3))
    return SyntheticScan(
        verts_m=place(points),
        faces=None if scan_faces is None else np.asarray(scan_faces, np.int64),
        landmarks_m=place(landmarks),
        truth_verts_m=place(ict_verts[standin_vertex_ids(ict)]),
        scale=scale,
        rotation=rotation,
        translation=translation,
    )
