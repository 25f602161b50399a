"""The per-scan recipe: check, place, fit the model, refine, measure."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from flame import FlameModel
from geometry import vertex_normals
from registration.checks import validate_scan
from registration.errors import RegistrationError
from registration.linear_model import LinearisedFlame
from registration.metrics import scan_distances
from registration.model_fit import ModelFit, fit_model, fit_vertex_ids
from registration.refine import PointTargets, graph_laplacian, refine_offsets
from registration.rigid import Similarity, align_landmarks, coarse_alignment, umeyama
from registration.scan_surface import ScanSurface
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
class CorrespondencePrior:
    """Where model vertices belong on a scan, from a signal other than the scan's shape (a
    FLAME fit shipped with the scan, a map from a shared scan topology).

    Attributes
    ----------
    name : the signal ("flame_ply", "topology_map"), recorded with the registration
    vertex_ids : (k,) model vertices the signal places
    points_m : (k, 3) where they belong, scan frame, metres (near the scan's surface)
    """

    name: str
    vertex_ids: np.ndarray
    points_m: np.ndarray


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
                 settings: RegistrationSettings,
                 prior: CorrespondencePrior | None = None) -> Similarity:
    if prior is not None:
        return umeyama(prepared.model.v_template[prior.vertex_ids], prior.points_m)
    if landmarks_m is not None and prepared.template_landmarks_m is not None:
        if len(landmarks_m) != len(prepared.template_landmarks_m):
            raise RegistrationError(f"the scan has {len(landmarks_m)} landmarks, the model "
                                    f"{len(prepared.template_landmarks_m)}")
        return align_landmarks(prepared.template_landmarks_m, landmarks_m,
                               settings.max_landmark_rms_m)
    template = prepared.model.v_template
    normals = vertex_normals(template, prepared.model.faces)
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


def _fit_prior(prepared: PreparedModel, prior: CorrespondencePrior | None,
               settings: RegistrationSettings) -> PointTargets | None:
    """The prior's point-to-point terms for the model fit: its vertices among the fit's face
    vertices, at most ``settings.prior_fit_points`` of them, sigma ``prior_fit_sigma_m``."""
    if prior is None:
        return None
    face_fit = np.intersect1d(prepared.fit_ids, prepared.face_ids)
    rows = np.flatnonzero(np.isin(prior.vertex_ids, face_fit))
    if len(rows) > settings.prior_fit_points:
        rows = np.sort(np.random.default_rng(0).choice(rows, settings.prior_fit_points,
                                                       replace=False))
    return PointTargets.for_vertices(prior.vertex_ids[rows], prior.points_m[rows],
                                     1.0 / settings.prior_fit_sigma_m**2)


def _refine_targets(prepared: PreparedModel, landmarks_m: np.ndarray | None,
                    prior: CorrespondencePrior | None,
                    settings: RegistrationSettings) -> PointTargets | None:
    """Sideways targets of the refinement: the prior's free vertices and the landmarks."""
    parts = []
    if prior is not None:
        keep = prepared.free[prior.vertex_ids]
        parts.append(PointTargets.for_vertices(prior.vertex_ids[keep], prior.points_m[keep],
                                               settings.prior_refine_weight))
    model = prepared.model
    if (landmarks_m is not None and model.lmk_faces is not None
            and settings.landmark_refine_weight > 0):
        weights = np.full(len(model.lmk_faces), settings.landmark_refine_weight)
        weights[:17] *= settings.contour_landmark_weight
        parts.append(PointTargets(model.faces[model.lmk_faces], model.lmk_bary, landmarks_m,
                                  weights))
    return PointTargets.concatenate(parts)


def register_scan(model: FlameModel | PreparedModel, verts_m: np.ndarray,
                  faces: np.ndarray | None = None, landmarks_m: np.ndarray | None = None,
                  settings: RegistrationSettings | None = None,
                  prior: CorrespondencePrior | None = None) -> Registration:
    """Register one scan to the model's topology.

    Parameters
    ----------
    model : FlameModel, or :func:`prepare_model`'s result (faster for many scans)
    verts_m : (N, 3) scan points or mesh vertices, metres, FLAME-like frame up to a
        similarity (any with ``landmarks_m``; within about 40 degrees without)
    faces : (M, 3) scan triangles, or None for a point cloud
    landmarks_m : (68, 3) Multi-PIE landmarks on the scan in the model's landmark order, or None
    settings : RegistrationSettings
    prior : where model vertices belong on this scan (checked by the caller), or None: it
        places the rigid start, adds point-to-point terms to the model fit and sideways
        targets to the refinement; landmarks likewise enter both

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
    start = _rigid_start(prepared, surface, landmarks_m, settings, prior)
    lap("rigid")
    fit = fit_model(prepared.lin, surface, start, prepared.fit_ids, settings, landmarks_m,
                     _fit_prior(prepared, prior, settings))
    fit_verts = fit.similarity.apply(prepared.lin.vertices(fit.coeffs, fit.pose))
    _check_is_face(fit, fit_verts, prepared, surface, settings)
    lap("model_fit")
    offsets, matched = refine_offsets(fit_verts, prepared.model.faces, surface, prepared.free,
                                      prepared.laplacian, settings,
                                      _refine_targets(prepared, landmarks_m, prior, settings))
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
        "prior": None if prior is None else {"name": prior.name,
                                             "vertices": int(len(prior.vertex_ids))},
        "fit_iterations": fit.iterations,
        "refine_iterations": len(settings.refine_max_distance_m),
        "refine_matched_vertices": matched,
        "stage_seconds": timings,
        "seconds": round(time.perf_counter() - start_time, 4),
    })
    return Registration(verts, fit_verts, _params(prepared, fit, offsets), metrics)
