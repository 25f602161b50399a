"""Model fit: FLAME identity, expression, neck and jaw rotation and the similarity placing
the head in the scan, by Gauss-Newton on robust point-to-plane, landmark and prior terms.

Each iteration finds, for a fixed subset of model vertices, the nearest scan point, and for
a fixed sample of scan points the nearest of those vertices (so no part of the scan is
ignored); pairs beyond a distance or past a normal angle are rejected, the point-to-plane
residuals are weighted with a Cauchy loss, and one damped linear least-squares system is
solved for all parameters.
Coarse to fine: few coefficients and a wide search radius first, all of them and a tight
radius last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from flame import FlameModel
from geometry import axis_angle_to_matrix, vertex_normals
from registration.errors import RegistrationError
from registration.linear_model import LinearisedFlame
from registration.refine import PointTargets
from registration.rigid import Similarity
from registration.scan_surface import ScanSurface
from registration.settings import FitStage, RegistrationSettings

NECK, JAW = 1, 2
"""FLAME's joint order: global, neck, jaw, left eye, right eye."""
CONTOUR = np.arange(17)
"""Jaw-contour landmarks of the 68-point layout (less reliable than the inner ones)."""


@dataclass(frozen=True)
class ModelFit:
    """coeffs (K,) identity then expression; pose (J, 3) axis-angle; similarity model->scan."""

    coeffs: np.ndarray
    pose: np.ndarray
    similarity: Similarity
    iterations: int


def fit_vertex_ids(model: FlameModel, n_points: int, seed: int = 0) -> np.ndarray:
    """Model vertices (n,) the fit uses: half from the face region, half from the rest of the
    head (eyeballs and the mesh boundary left out)."""
    rng = np.random.default_rng(seed)
    skip = np.zeros(model.n_vertices, dtype=bool)
    for name in ("left_eyeball", "right_eyeball", "boundary"):
        skip[model.masks.get(name, [])] = True
    face = np.zeros(model.n_vertices, dtype=bool)
    face[model.masks["face"]] = True
    face_ids = np.flatnonzero(face & ~skip)
    rest_ids = np.flatnonzero(~face & ~skip)
    n_face = min(len(face_ids), n_points // 2)
    n_rest = min(len(rest_ids), n_points - n_face)
    return np.sort(np.concatenate([rng.choice(face_ids, n_face, replace=False),
                                   rng.choice(rest_ids, n_rest, replace=False)]))


def _skew(vectors: np.ndarray) -> np.ndarray:
    """Cross-product matrices (n, 3, 3) of vectors (n, 3)."""
    x, y, z = vectors.T
    zeros = np.zeros_like(x)
    return np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=1).reshape(-1, 3, 3)


def similarity_jacobian(sim: Similarity, x: np.ndarray, model_jac: np.ndarray) -> np.ndarray:
    """Jacobian (n, 3, P + 7) of scan-frame points ``x = s R v + t`` (n, 3): the model's own
    parameters (``model_jac`` (n, 3, P), model frame), then rotation (3, axis-angle about
    ``t``), translation (3) and log scale (1), the order :func:`updated_similarity` reads."""
    centred = x - sim.translation
    return np.concatenate([sim.scale * np.matmul(sim.rotation, model_jac), -_skew(centred),
                           np.broadcast_to(np.eye(3), (len(x), 3, 3)), centred[:, :, None]],
                          axis=2)


def updated_similarity(sim: Similarity, step: np.ndarray) -> Similarity:
    """``sim`` after a step (7,) of (rotation axis-angle, translation m, log scale), as
    parametrised by :func:`similarity_jacobian` (the rotation turns about ``t``)."""
    return Similarity(sim.scale * float(np.exp(step[6])),
                      axis_angle_to_matrix(step[:3]) @ sim.rotation, sim.translation + step[3:6])


class _Problem:
    """Parameters, Jacobians and one Gauss-Newton step of the fit."""

    def __init__(self, lin: LinearisedFlame, surface: ScanSurface, fit_ids: np.ndarray,
                 settings: RegistrationSettings, scan_landmarks_m: np.ndarray | None,
                 prior: PointTargets | None = None) -> None:
        model = lin.model
        self.lin, self.surface, self.settings = lin, surface, settings
        self.fit_ids = fit_ids
        self.face_fit_ids = np.intersect1d(fit_ids, model.masks["face"])
        self.use_landmarks = scan_landmarks_m is not None and model.lmk_faces is not None
        parts = []
        if self.use_landmarks:
            corners = model.faces[model.lmk_faces]
            weights = np.ones(len(corners))
            weights[CONTOUR[CONTOUR < len(corners)]] = settings.contour_landmark_weight
            parts.append(PointTargets(corners, model.lmk_bary, scan_landmarks_m,
                                      weights / settings.landmark_sigma_m**2))
        if prior is not None:
            parts.append(prior)
        self.points = PointTargets.concatenate(parts)
        self.guided = self.points is not None
        corners = self.points.corners if self.guided else np.zeros((0, 3), int)
        self.eval_ids = np.concatenate([fit_ids, corners.ravel()])
        self.faces = model.faces
        rng = np.random.default_rng(0)
        n_sample = min(len(surface.points_m), len(fit_ids))
        self.scan_sample_ids = rng.choice(len(surface.points_m), n_sample, replace=False)
        self.scan_sample_m = surface.points_m[self.scan_sample_ids]

    def face_distance(self, coeffs: np.ndarray, pose: np.ndarray, sim: Similarity) -> float:
        """Mean distance (metres) from the fitted face-region vertices to the nearest scan
        point, each capped at 5 mm: how well a start has settled (lower is better)."""
        verts = sim.apply(self.lin.vertices(coeffs, pose, self.face_fit_ids))
        return float(np.minimum(self.surface.nearest(verts, 0.005)[0], 0.005).mean())

    def step(self, coeffs: np.ndarray, pose: np.ndarray, sim: Similarity,
             stage: FitStage) -> tuple[np.ndarray, np.ndarray, Similarity]:
        """One damped Gauss-Newton update of (coeffs, pose, similarity)."""
        settings, lin = self.settings, self.lin
        n_fit = len(self.fit_ids)
        all_verts = lin.vertices(coeffs, pose)
        model_normals = vertex_normals(all_verts, self.faces)[self.fit_ids] @ sim.rotation.T
        verts = all_verts[self.eval_ids]
        x = sim.apply(verts)

        # Jacobian of scan-frame positions x (n, 3, P): coeffs, pose, rotation, translation, scale
        active = np.r_[0:stage.n_shape, lin.n_shape:lin.n_shape + stage.n_expr]
        blocks = [lin.coeff_jacobian(pose, self.eval_ids)[:, :, active]]
        if stage.fit_pose:
            blocks.append(lin.pose_jacobian(coeffs, pose, [NECK, JAW], self.eval_ids))
        model_jac = np.concatenate(blocks, axis=2)
        jac = similarity_jacobian(sim, x, model_jac)
        n_params = jac.shape[2]

        # scan correspondences: point-to-plane, Cauchy-weighted
        dist, ids = self.surface.nearest(x[:n_fit], stage.max_distance_m)
        found = np.flatnonzero(np.isfinite(dist))
        if found.size < 0.05 * n_fit:
            raise RegistrationError(
                f"the model fit lost the scan: {found.size} of {n_fit} model points have a "
                f"scan point within {stage.max_distance_m * 1000:.0f} mm"
            )
        normals = self.surface.normals(ids[found])
        cosine = (normals * model_normals[found]).sum(axis=1)
        if not self.surface.oriented:
            normals *= np.sign(cosine)[:, None]
            cosine = np.abs(cosine)
        keep = cosine > np.cos(np.deg2rad(settings.max_normal_angle_deg))
        found, normals = found[keep], normals[keep]
        plane = ((x[found] - self.surface.points_m[ids[found]]) * normals).sum(axis=1)
        plane_jac = np.matmul(normals[:, None, :], jac[found])[:, 0]
        weight = 1.0 / (settings.robust_scale_m**2 + plane**2)
        hessian = plane_jac.T @ (weight[:, None] * plane_jac)
        gradient = plane_jac.T @ (weight * plane)

        # scan -> model: scan points pull their nearest fitted vertex
        dist, vertex = cKDTree(x[:n_fit]).query(self.scan_sample_m, 1,
                                                distance_upper_bound=stage.max_distance_m)
        found = np.flatnonzero(np.isfinite(dist))
        normals = model_normals[vertex[found]]
        scan_normals = self.surface.normals(self.scan_sample_ids[found])
        cosine = (normals * scan_normals).sum(axis=1)
        found = found[(np.abs(cosine) if not self.surface.oriented else cosine)
                      > np.cos(np.deg2rad(settings.max_normal_angle_deg))]
        matched = vertex[found]
        normals = model_normals[matched]
        plane = ((x[matched] - self.scan_sample_m[found]) * normals).sum(axis=1)
        plane_jac = np.matmul(normals[:, None, :], jac[matched])[:, 0]
        weight = settings.scan_to_model_weight / (settings.robust_scale_m**2 + plane**2)
        hessian += plane_jac.T @ (weight[:, None] * plane_jac)
        gradient += plane_jac.T @ (weight * plane)

        if self.guided:  # landmarks and prior correspondences: point-to-point
            bary, n_lmk = self.points.bary, len(self.points.corners)
            lmk_x = np.einsum("lk,lkr->lr", bary, x[n_fit:].reshape(n_lmk, 3, 3))
            lmk_jac = np.einsum("lk,lkrp->lrp", bary, jac[n_fit:].reshape(n_lmk, 3, 3, -1))
            lmk_delta = (lmk_x - self.points.points_m).reshape(-1)
            lmk_jac = lmk_jac.reshape(-1, n_params)
            lmk_weight = np.repeat(self.points.weights, 3)
            hessian += lmk_jac.T @ (lmk_weight[:, None] * lmk_jac)
            gradient += lmk_jac.T @ (lmk_weight * lmk_delta)

        # priors: coefficients ~ N(0, 1 / prior), pose ~ N(0, pose_prior), log scale ~ N(0, .)
        n_coeff = len(active)
        prior = np.zeros(n_params)
        prior[:n_coeff] = np.where(active < lin.n_shape, settings.shape_prior,
                                   settings.expr_prior)
        current = np.zeros(n_params)
        current[:n_coeff] = coeffs[active]
        if stage.fit_pose:
            prior[n_coeff:n_coeff + 6] = 1.0 / settings.pose_prior_rad**2
            current[n_coeff:n_coeff + 6] = pose[[NECK, JAW]].ravel()
        prior[-1] = 1.0 / settings.scale_prior**2
        current[-1] = np.log(sim.scale)
        hessian += np.diag(prior)
        gradient += prior * current
        hessian += settings.damping * np.diag(np.diag(hessian))
        update = -np.linalg.solve(hessian, gradient)

        coeffs = coeffs.copy()
        coeffs[active] += update[:n_coeff]
        pose = pose.copy()
        if stage.fit_pose:
            pose[[NECK, JAW]] += update[n_coeff:n_coeff + 6].reshape(2, 3)
        return coeffs, pose, updated_similarity(sim, update[-7:])


def fit_model(lin: LinearisedFlame, surface: ScanSurface, start: Similarity,
              fit_ids: np.ndarray, settings: RegistrationSettings,
              scan_landmarks_m: np.ndarray | None = None,
              prior: PointTargets | None = None) -> ModelFit:
    """Fit the model to a scan, coarse to fine (``settings.stages``).

    Without landmarks or a prior the first ``settings.start_stages`` stages run once per jaw
    opening in
    ``settings.jaw_starts_rad`` (a closed model mouth can lock onto an open one with the lips
    crossed), and the start whose face lies closest to the scan goes on.

    Parameters
    ----------
    lin : the model, linearised
    surface : the scan
    start : similarity model -> scan from the rigid step
    fit_ids : (n,) model vertices that seek the scan
    scan_landmarks_m : (L, 3) scan-frame landmarks in the model's landmark order, or None
    prior : point-to-point terms (weights: 1 / sigma^2 per coordinate, m^-2) where another
        signal says model points belong, or None

    Raises
    ------
    RegistrationError
        When the fit diverges (non-finite or implausibly large parameters) or loses the scan.
    """
    problem = _Problem(lin, surface, fit_ids, settings, scan_landmarks_m, prior)
    starts = [] if problem.guided else _starts(settings)
    n_start = settings.start_stages if len(starts) > 1 else 0
    trials, failure = [], None
    for pitch, jaw, hold in starts or [(0.0, 0.0, False)]:
        pose = np.zeros((lin.model.n_joints, 3))
        pose[JAW, 0] = jaw
        tilted = Similarity(start.scale,
                            start.rotation @ axis_angle_to_matrix(np.array([pitch, 0.0, 0.0])),
                            start.translation)
        stages = list(settings.stages[:n_start])
        if hold:
            stages[0] = replace(stages[0], fit_pose=False)
        try:
            state = _run_stages(problem, tuple(stages), (np.zeros(lin.n_coeffs), pose, tilted))
        except RegistrationError as exc:
            failure = exc
            continue
        trials.append((problem.face_distance(*state), state))
    if not trials:
        raise failure
    state = min(trials, key=lambda trial: trial[0])[1]
    state = _run_stages(problem, settings.stages[n_start:], state)
    iterations = (len(trials) * sum(stage.iterations for stage in settings.stages[:n_start])
                  + sum(stage.iterations for stage in settings.stages[n_start:]))
    return ModelFit(*state, iterations)


def _starts(settings: RegistrationSettings) -> list[tuple[float, float, bool]]:
    """(head pitch rad, jaw opening rad, hold the jaw through the first stage) of each start:
    every pitch in ``settings.start_pitch_deg`` with a closed jaw and with each opening in
    ``settings.jaw_starts_rad`` both held (the expression settles around it first) and
    free."""
    jaws = [(0.0, False)]
    for jaw in settings.jaw_starts_rad:
        if jaw != 0.0:
            jaws += [(jaw, False), (jaw, True)]
    return [(float(np.deg2rad(pitch)), jaw, hold) for pitch in settings.start_pitch_deg
            for jaw, hold in jaws]


def _run_stages(problem: _Problem, stages: tuple[FitStage, ...],
                state: tuple[np.ndarray, np.ndarray, Similarity],
                ) -> tuple[np.ndarray, np.ndarray, Similarity]:
    """Gauss-Newton through ``stages`` from state (coeffs, pose, similarity)."""
    for stage in stages:
        for _ in range(stage.iterations):
            state = problem.step(*state, stage)
            _check_divergence(*state, problem.lin.n_shape, problem.settings)
    return state


def _check_divergence(coeffs: np.ndarray, pose: np.ndarray, sim: Similarity, n_shape: int,
                      settings: RegistrationSettings) -> None:
    values = np.concatenate([coeffs, pose.ravel(), sim.rotation.ravel(), sim.translation,
                             [sim.scale]])
    if not np.all(np.isfinite(values)):
        raise RegistrationError("the model fit diverged: non-finite parameters")
    for name, part, limit in (("an identity", coeffs[:n_shape], settings.max_coeff),
                              ("an expression", coeffs[n_shape:], settings.max_expr_coeff)):
        largest = float(np.abs(part).max(initial=0.0))
        if largest > limit:
            raise RegistrationError(
                f"the model fit diverged: {name} coefficient reached {largest:.1f} "
                f"(limit {limit:.0f})"
            )
    if not 0.5 < sim.scale < 2.0:
        raise RegistrationError(f"the model fit diverged: scale {sim.scale:.2f}")
