"""The error floor of a model: the least-squares projection of a known true mesh onto the
model's span, and per-vertex errors split into their normal and tangential parts.

No registration from geometry alone can beat the projection (it is given the true vertex
correspondences); the tangential part of an error is what the scan's surface cannot show.
"""

from __future__ import annotations

import numpy as np

from geometry import vertex_normals
from registration.linear_model import LinearisedFlame
from registration.model_fit import JAW, NECK, similarity_jacobian, updated_similarity
from registration.rigid import Similarity, umeyama


def project_to_model(lin: LinearisedFlame, target_m: np.ndarray, ids: np.ndarray,
                     iterations: int = 8) -> tuple[np.ndarray, Similarity]:
    """The model instance closest to a target mesh over some vertices.

    Minimises sum_i |s R FLAME_i(coeffs, neck, jaw) + t - target_i|^2 over ``ids`` by
    Gauss-Newton (all coefficients of ``lin``, neck and jaw rotation, the similarity), no
    priors.

    Parameters
    ----------
    lin : the model, linearised
    target_m : (V, 3) true mesh in model topology, metres, any frame near the model's
    ids : (k,) vertices the projection is fitted on (e.g. the face region)

    Returns
    -------
    verts_m : (V, 3) the projected mesh, target frame
    similarity : model frame -> target frame
    """
    coeffs = np.zeros(lin.n_coeffs)
    pose = np.zeros((lin.model.n_joints, 3))
    sim = umeyama(lin.vertices(coeffs, pose, ids), target_m[ids])
    for _ in range(iterations):
        x = sim.apply(lin.vertices(coeffs, pose, ids))
        model_jac = np.concatenate([lin.coeff_jacobian(pose, ids),
                                    lin.pose_jacobian(coeffs, pose, [NECK, JAW], ids)], axis=2)
        jac = similarity_jacobian(sim, x, model_jac).reshape(-1, model_jac.shape[2] + 7)
        update = -np.linalg.lstsq(jac, (x - target_m[ids]).reshape(-1), rcond=None)[0]
        coeffs = coeffs + update[:lin.n_coeffs]
        pose = pose.copy()
        pose[[NECK, JAW]] += update[lin.n_coeffs:lin.n_coeffs + 6].reshape(2, 3)
        sim = updated_similarity(sim, update[-7:])
    return sim.apply(lin.vertices(coeffs, pose)), sim


def split_error(verts_m: np.ndarray, truth_m: np.ndarray, faces: np.ndarray,
                ids: np.ndarray) -> dict[str, float]:
    """Per-vertex error over ``ids`` split along the true surface's normal, in millimetres.

    Parameters
    ----------
    verts_m, truth_m : (V, 3) metres, same frame and topology; faces : (F, 3)
    ids : (k,) vertices measured

    Returns
    -------
    dict ``mean`` and ``p95`` of |error|, ``normal`` (mean |error . n|) and ``tangential``
    (mean length of the error's part in the tangent plane)
    """
    normals = vertex_normals(truth_m, faces)[ids]
    error = verts_m[ids] - truth_m[ids]
    along = (error * normals).sum(axis=1)
    across = np.linalg.norm(error - along[:, None] * normals, axis=1)
    length = np.linalg.norm(error, axis=1) * 1000.0
    return {"mean": float(length.mean()), "p95": float(np.percentile(length, 95)),
            "normal": float(np.abs(along).mean() * 1000.0),
            "tangential": float(across.mean() * 1000.0)}
