"""What a scanner adds to the true surface: fine detail, noise, holes, hair, shoulders.

Every function takes and returns plain arrays (metres); randomness comes from the caller's
``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from geometry import face_normals, vertex_normals


def fine_detail(neutral: np.ndarray, rng: np.random.Generator, amplitude_m: float,
                waves: int = 24) -> np.ndarray:
    """Displacement (N,) along the normal: a sum of random plane waves of 1.5-6 mm wavelength,
    fixed to the skin (evaluated at neutral positions), peak about ``amplitude_m``."""
    dirs = rng.normal(size=(waves, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    wavelength = rng.uniform(0.0015, 0.006, waves)
    phase = rng.uniform(0, 2 * np.pi, waves)
    field = np.sin(neutral @ (dirs / wavelength[:, None]).T * 2 * np.pi + phase).sum(axis=1)
    return amplitude_m * field / np.sqrt(2 * waves)


def hole_faces(neutral: np.ndarray, faces: np.ndarray, landmarks: np.ndarray,
               rng: np.random.Generator, random_holes: int = 3) -> np.ndarray:
    """Boolean (M,) mask of faces a scanner misses: chin underside, nostrils, random patches.

    neutral : (N, 3) layout vertices on the neutral mesh; landmarks : (68, 3) neutral landmarks.
    """
    centroid = neutral[faces].mean(axis=1)
    normal = face_normals(neutral, faces)
    chin = landmarks[8]
    under_chin = ((centroid[:, 1] < chin[1] + 0.004) & (normal[:, 1] < -0.35)
                  & (centroid[:, 2] > chin[2] - 0.08))
    nostril_centres = np.array([(landmarks[31] + landmarks[33]) / 2,
                                (landmarks[33] + landmarks[35]) / 2]) + [0.0, 0.003, -0.004]
    near_nostril = np.min(np.linalg.norm(centroid[:, None] - nostril_centres, axis=2), axis=1)
    nostrils = (near_nostril < 0.006) & (normal[:, 1] < -0.2)
    holes = under_chin | nostrils
    candidates = np.nonzero(centroid[:, 1] > chin[1])[0]
    for centre in centroid[rng.choice(candidates, random_holes, replace=False)]:
        holes |= np.linalg.norm(centroid - centre, axis=1) < rng.uniform(0.004, 0.008)
    return holes


def submesh(faces: np.ndarray, keep_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep some faces and the vertices they use: (vertex ids (k,), reindexed faces (m, 3))."""
    kept = faces[keep_faces]
    vertex_ids, new_faces = np.unique(kept, return_inverse=True)
    return vertex_ids, new_faces.reshape(-1, 3)


def hair_shell(verts: np.ndarray, faces: np.ndarray, neutral: np.ndarray,
               brow_y: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hair-like outlier geometry: the scalp above the forehead lifted 5-20 mm, spiky.

    Returns (verts (k, 3), faces (m, 3)) of a separate component.
    """
    normals = vertex_normals(verts, faces)
    scalp = (neutral[:, 1] > brow_y + 0.025)[faces].all(axis=1)
    ids, hair_faces = submesh(faces, scalp)
    lift = 0.005 + 0.012 * (1 + np.sin(neutral[ids] @ rng.normal(size=3) * 40)) / 2
    lift += rng.exponential(0.002, len(ids))
    return verts[ids] + normals[ids] * lift[:, None], hair_faces


def shoulders(neck_bottom_y: float, rng: np.random.Generator,
              nx: int = 48, nz: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A shoulder sheet below the neck: (verts (nx*nz, 3), faces) metres."""
    x, z = np.meshgrid(np.linspace(-0.23, 0.23, nx), np.linspace(-0.11, 0.09, nz),
                       indexing="ij")
    width = rng.uniform(0.9, 1.1)
    y = neck_bottom_y - 0.015 - 0.09 * (x / 0.23) ** 2 * width - 0.2 * (z + 0.01) ** 2
    verts = np.stack([x * width, y, z], axis=-1).reshape(-1, 3)
    idx = np.arange(nx * nz).reshape(nx, nz)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([a, d, c], -1).reshape(-1, 3)])
    return verts, faces
