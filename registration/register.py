"""The per-scan recipe: check, place, fit the model, refine, measure."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from flame import FlameModel
from registration.checks import validate_scan
from registration.errors import RegistrationError
from registration.linear_model import LinearisedFlame
from registration.metrics import scan_distances
from registration.model_fit import ModelFit, fit_model, fit_vertex_ids
from registration.refine import graph_laplacian, refine_offsets
from registration.rigid import Similarity, align_landmarks, coarse_alignment
from registration.scan_surface import ScanSurface, mesh_vertex_normals
from registration.settings import RegistrationSettings


@dataclass(frozen=True)
class PreparedModel:
    """What registration needs from a model, computed once for many scans.

    Build with :func:`prepare_model`.
    """

    model: FlameModel
    lin: LinearisedFlame
    laplacian: scipy.sparse.csr_matrix
    fit_ids: np.ndarray         # (n,) vertices the model fit matches to the scan
    icp_ids: np.ndarray         # (m,) front-of-head vertices for the coarse alignment
    free: np.ndarray            # (V,) bool, vertices the refinement moves toward the scan
    face_ids: np.ndarray        # (k,) the 'face' region, where metrics are taken
    template_landmarks_m: np.ndarray | None  # (L, 3) landmarks of the mean shape


@dataclass(frozen=True)
class Registration:
    """A scan in model topology.

    Attributes
    ----------
    verts_m : (V, 3) registered mesh, metres, the scan's frame
    fit_verts_m : (V, 3) the model fit before refinement, same frame
    params : shape (S,), expr (E,), pose (J, 3) axis-angle, transl (3,), scale (), R (3, 3),
        t (3,), offsets (V, 3) model frame; ``verts_m = scale * R @ (FLAME(shape, expr, pose,
        transl) + offsets) + t``
    metrics : distances to the scan over the face region (mm), coverage, iterations, seconds,
        stage timings
    """

    verts_m: np.ndarray
    fit_verts_m: np.ndarray
    params: dict[str, np.ndarray]
    metrics: dict


def prepare_model(model: FlameModel, settings: RegistrationSettings | None = None
                  ) -> PreparedModel:
    """Linearise the model and pick the vertex sets registration uses (once per model)."""
    settings = settings or RegistrationSettings()
    if "face" not in model.masks:
        raise RegistrationError(f"{model.source}: the model has no 'face' region mask")
    eyeballs = np.zeros(model.n_vertices, dtype=bool)
    for name in ("left_eyeball", "right_eyeball"):
        eyeballs[model.masks.get(name, [])] = True
    free = ~eyeballs
    free[model.masks.get("boundary", [])] = False
    front = np.flatnonzero(~eyeballs & (model.v_template[:, 2] > 0.0))
    icp_ids = np.random.default_rng(0).choice(front, min(len(front), settings.icp_points),
                                              replace=False)
    lin = LinearisedFlame(model, model.shape_used, model.expr_used)
    landmarks = None
    if model.lmk_faces is not None:
        corners = model.v_template[model.faces[model.lmk_faces]]
        landmarks = np.einsum("lk,lkr->lr", model.lmk_bary, corners)
    return PreparedModel(model, lin, graph_laplacian(model.faces, model.n_vertices),
                         fit_vertex_ids(model, settings.fit_points), np.sort(icp_ids), free,
                         model.masks["face"], landmarks)


def _rigid_start(prepared: PreparedModel, surface: ScanSurface,
                 landmarks_m: np.ndarray | None,
                 settings: RegistrationSettings) -> Similarity:
    if landmarks_m is not None and prepared.template_landmarks_m is not None:
        if len(landmarks_m) != len(prepared.template_landmarks_m):
            raise RegistrationError(f"the scan has {len(landmarks_m)} landmarks, the model "
                                    f"{len(prepared.template_landmarks_m)}")
        return align_landmarks(prepared.template_landmarks_m, landmarks_m,
                               settings.max_landmark_rms_m)
    template = prepared.model.v_template
    normals = mesh_vertex_normals(template, prepared.model.faces)
    nose_tip = template[np.argmax(template[prepared.face_ids, 2])]
    if prepared.template_landmarks_m is not None:
        nose_tip = prepared.template_landmarks_m[30]
    return coarse_alignment(template[prepared.icp_ids], normals[prepared.icp_ids], nose_tip,
                            surface.subset(settings.rigid_scan_points),
                            settings.start_angles_deg, settings.icp_keep_fraction)


def _check_is_face(fit: ModelFit, fit_verts_m: np.ndarray, prepared: PreparedModel,
                   surface: ScanSurface, settings: RegistrationSettings) -> None:
    """Refuse a fit that needs an implausible identity, or does not sit on the scan's surface
    over the face region (spheres, boxes, other objects)."""
    n_shape = prepared.lin.n_shape
    shape_norm = float(np.linalg.norm(fit.coeffs[:n_shape]))
    limit = settings.max_shape_norm_per_sqrt_n * np.sqrt(n_shape)
    if shape_norm > limit:
        raise RegistrationError(
            f"not a face: the fit needs an implausible identity (coefficient norm "
            f"{shape_norm:.1f}, limit {limit:.1f} for {n_shape} components)"
        )
    face = fit_verts_m[prepared.face_ids]
    dist, ids = surface.nearest(face, 0.005)
    found = np.isfinite(dist)
    coverage = float(found.mean())
    if coverage < settings.min_face_coverage:
        raise RegistrationError(
            f"not a face: only {coverage:.0%} of the model's face lies within 5 mm of the scan "
            f"after fitting (need {settings.min_face_coverage:.0%})"
        )
    normals = surface.normals(ids[found])
    residual = float(np.abs(((face[found] - surface.points_m[ids[found]]) * normals)
                            .sum(axis=1)).mean())
    if residual > settings.max_face_residual_m:
        raise RegistrationError(
            f"not a face: the fitted face is {residual * 1000:.1f} mm (mean) from the scan "
            f"(limit {settings.max_face_residual_m * 1000:.1f} mm)"
        )


def _params(prepared: PreparedModel, fit: ModelFit, offsets_scan_m: np.ndarray) -> dict:
    lin, sim = prepared.lin, fit.similarity
    return {
        "shape": fit.coeffs[:lin.n_shape].copy(),
        "expr": fit.coeffs[lin.n_shape:].copy(),
        "pose": fit.pose.copy(),
        "transl": np.zeros(3),
        "scale": np.array(sim.scale),
        "R": sim.rotation.copy(),
        "t": sim.translation.copy(),
        "offsets": offsets_scan_m @ sim.rotation / sim.scale,
    }


def register_scan(model: FlameModel | PreparedModel, verts_m: np.ndarray,
                  faces: np.ndarray | None = None, landmarks_m: np.ndarray | None = None,
                  settings: RegistrationSettings | None = None) -> Registration:
    """Register one scan to the model's topology.

    Parameters
    ----------
    model : FlameModel, or :func:`prepare_model`'s result (faster for many scans)
    verts_m : (N, 3) scan points or mesh vertices, metres, FLAME-like frame up to a
        similarity (any with ``landmarks_m``; within about 40 degrees without)
    faces : (M, 3) scan triangles, or None for a point cloud
    landmarks_m : (68, 3) Multi-PIE landmarks on the scan in the model's landmark order, or None
    settings : RegistrationSettings

    Raises
    ------
    RegistrationError
        Bad input (empty, NaN, millimetres, degenerate), not a face, or a diverged fit.
    """
    settings = settings or RegistrationSettings()
    timings = {}
    clock = time.perf_counter()
    start_time = clock

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    verts_m, faces, landmarks_m = validate_scan(verts_m, faces, landmarks_m, settings)
    prepared = model if isinstance(model, PreparedModel) else prepare_model(model, settings)
    surface = ScanSurface(verts_m, faces)
    lap("prepare")
    start = _rigid_start(prepared, surface, landmarks_m, settings)
    lap("rigid")
    fit = fit_model(prepared.lin, surface, start, prepared.fit_ids, settings, landmarks_m)
    fit_verts = fit.similarity.apply(prepared.lin.vertices(fit.coeffs, fit.pose))
    _check_is_face(fit, fit_verts, prepared, surface, settings)
    lap("model_fit")
    offsets, matched = refine_offsets(fit_verts, prepared.model.faces, surface, prepared.free,
                                      prepared.laplacian, settings)
    verts = fit_verts + offsets
    lap("refine")
    metrics = scan_distances(verts, prepared.model.faces, surface, prepared.face_ids,
                             settings.within_m)
    lap("metrics")
    metrics.update({
        "fit_mesh_to_scan_mm": scan_distances(fit_verts, prepared.model.faces, surface,
                                              prepared.face_ids, settings.within_m
                                              )["mesh_to_scan_mm"],
        "scan_points": int(len(verts_m)),
        "used_landmarks": landmarks_m is not None,
        "fit_iterations": fit.iterations,
        "refine_iterations": len(settings.refine_max_distance_m),
        "refine_matched_vertices": matched,
        "stage_seconds": timings,
        "seconds": round(time.perf_counter() - start_time, 4),
    })
    return Registration(verts, fit_verts, _params(prepared, fit, offsets), metrics)
