"""Single-image FLAME fit to predicted (or ground-truth) uv and normal maps.

The head is placed in the camera frame as ``x_camera = R_head @ x_flame + t_head`` where
``x_flame`` is FLAME's output with a zero global rotation (so its normals stay in the model
frame the network predicts in). Terms, as in Pixel3DMM, without a differentiable rasteriser:

- uv: every vertex located by the uv map (:mod:`fitting.uv_match`) is pulled to its pixel
  under a pseudo-Huber loss on the 2D residual; as in Pixel3DMM's ``UVLoss``
  (``src/pixel3dmm/tracking/losses.py``) only a vertex subset takes part (face and ears
  without eyes and eye region), a match counts only while its pixel lies within 20 px (L1, of
  a 256-pixel image) of the vertex's current projection, and hidden vertices are dropped;
- normal: the model-frame normals of the visible vertices (depth pass with the project's
  renderer, refreshed every few steps) against the normal map sampled where they project,
  samples whose mean absolute error per channel is >= 0.33 dropped (Pixel3DMM's ``delta_n``,
  ``Tracker.opt_post``);
- camera: focal length and principal point learnt from the given K (Pixel3DMM's
  ``focal_length`` and ``principal_point``), the principal point's shift under a prior;
- landmarks (when given): pseudo-Huber on the 68 projected landmarks;
- priors: squared identity, expression and joint-rotation coefficients.

Coarse to fine: a closed-form start from the correspondences, a rigid stage (rotation and
translation), then everything. Runs on the CPU or, when present, on CUDA with the same code.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from fitting.agreement import (
    REGIONS,
    TermAgreement,
    normal_agreement,
    uv_agreement,
    vertex_regions,
)
from fitting.geometry import pose_from_correspondences
from fitting.settings import FitSettings
from fitting.uv_match import UvMatches, VertexUV, match_vertices
from flame import FLAME, FlameModel
from geometry.tensors import axis_angle_to_matrix, project, vertex_normals
from rendering import Camera, Renderer

# Learning-rate multipliers per parameter group (units: rad, metres, coefficient std, rad).
_LR_SCALE = {"rotation": 1.0, "translation": 0.1, "shape": 2.5, "expr": 2.5, "joints": 1.0,
             "log_focal": 0.5, "principal": 0.05}
_CAMERA = ("log_focal", "principal")


REFERENCE_SIZE = 256
"""2D residuals are weighed as pixels of an image this many pixels across."""


class FitError(RuntimeError):
    """The inputs cannot be fitted (too few matches) or the fit did not converge."""


@dataclass(frozen=True)
class FitInputs:
    """What one fit sees of an image.

    Attributes
    ----------
    K : (3, 3) intrinsics, pixels
    width, height : image size, pixels
    uv : (H, W, 2) uv map or None; uv_valid : (H, W) bool, pixels where it is searched
    normal_model : (H, W, 3) unit normals in the model frame or None;
        normal_valid : (H, W) bool
    w2c : (4, 4) camera extrinsics relative to the frame of ``normal_model`` when known
        (e.g. a rendered training sample); None: that frame is taken as the head's own
    landmarks_px : (L, 2) 2D landmarks in the model's landmark order, or None
    """

    K: np.ndarray
    width: int
    height: int
    uv: np.ndarray | None = None
    uv_valid: np.ndarray | None = None
    normal_model: np.ndarray | None = None
    normal_valid: np.ndarray | None = None
    w2c: np.ndarray | None = None
    landmarks_px: np.ndarray | None = None


@dataclass
class FitResult:
    """A fitted FLAME head.

    Attributes
    ----------
    shape (s,), expr (e,) : coefficients
    pose : (J, 3) axis-angle, FLAME order; ``pose[0]`` is the head rotation into the camera
    transl : (3,) metres; ``FLAME(shape, expr, pose, transl)`` gives ``verts_camera``
    verts_camera : (V, 3) metres, camera frame (OpenCV axes)
    verts_model : (V, 3) metres, the same head with zero global rotation and translation
    verts_neutral : (V, 3) metres, identity only (expression and pose zero)
    matches : uv matches used (after the vertex subset; the gate and visibility then act per
        step)
    residual_px : median final 2D residual of the data term, pixels (robust to outliers)
    seconds : wall time of the fit; cpu_seconds : CPU time of the process during the fit
        (equals the wall time on an idle machine with one thread)
    history : (step, total loss) pairs
    """

    shape: np.ndarray
    expr: np.ndarray
    pose: np.ndarray
    transl: np.ndarray
    verts_camera: np.ndarray
    verts_model: np.ndarray
    verts_neutral: np.ndarray
    matches: UvMatches | None
    residual_px: float
    seconds: float
    cpu_seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)
    K: np.ndarray | None = None
    """(3, 3) intrinsics of the fit (the given K, or the learnt one with ``learn_camera``)."""
    matches_kept: int = 0
    """uv matches that count at the end (inside the gate, visible)."""
    fitted_landmarks_px: np.ndarray | None = None
    """(L, 2) the fitted head's landmarks projected with ``K``, image pixels."""
    landmark_error_px: float = float("nan")
    """Mean distance between ``fitted_landmarks_px`` and the given landmarks (NaN: none)."""
    converged: bool = True
    """Whether the median residual is within ``max_residual_px`` (a fit with landmarks and
    ``map_agreement`` is returned either way)."""
    terms: dict = field(default_factory=dict)
    """Which terms were used, with what weight, and how well they agree (JSON-ready; see
    :meth:`FaceFitter.fit`)."""


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when present, else CPU; any other name as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def pseudo_huber(residual: torch.Tensor, scale: float) -> torch.Tensor:
    """Pseudo-Huber loss (N,) of 2D residuals (N, 2): quadratic below ``scale``, linear above."""
    sq = (residual * residual).sum(dim=-1)
    return scale * scale * (torch.sqrt(1.0 + sq / (scale * scale)) - 1.0)


class FaceFitter:
    """Fits FLAME to single images; holds the model, its uv table and a depth renderer.

    Parameters
    ----------
    model : FLAME-format model with uv and a landmark embedding
    settings : fit settings
    """

    def __init__(self, model: FlameModel, settings: FitSettings | None = None) -> None:
        if model.vt is None or model.ft is None:
            raise ValueError(f"{model.source}: the model has no uv layout (head_template.obj)")
        self.model = model
        self.settings = settings or FitSettings()
        self.device = resolve_device(self.settings.device)
        self.flame = FLAME(model).to(self.device)
        self.vertex_uv = VertexUV.from_mesh(model.faces, model.vt, model.ft, model.n_vertices)
        self.faces = torch.as_tensor(model.faces, dtype=torch.int64, device=self.device)
        # Zero-padded columns (e.g. the stand-in's) carry nothing: fit only the used ones.
        self.n_shape = min(self.settings.n_shape, model.shape_used or model.shapedirs.shape[2])
        self.n_expr = min(self.settings.n_expr, model.expr_used or model.exprdirs.shape[2])
        normal_ids = [model.masks[name] for name in self.settings.normal_regions
                      if name in model.masks]
        self.normal_vertices = (np.unique(np.concatenate(normal_ids)) if normal_ids
                                else np.arange(model.n_vertices))
        # Normals of the normal-term vertices need only the faces around them.
        touching = np.isin(model.faces, self.normal_vertices).any(axis=1)
        self.normal_faces = torch.as_tensor(model.faces[touching], device=self.device)
        self._renderers: dict = {}

    # ---- public ------------------------------------------------------------------------

    def fit(self, inputs: FitInputs) -> FitResult:
        """Fit one image.

        With landmarks, maps and ``map_agreement`` (the default), the landmarks are fitted
        alone first; each map term is then weighed per region by how far it agrees with that
        head (:mod:`fitting.agreement`), and when the full fit still moves the fitted
        landmarks more than ``landmark_guard`` times (plus 0.5 px) away from the detected ones
        than the landmarks alone do, the landmark-only head is returned. Such a fit never
        fails; ``result.terms`` says what was used. Otherwise raises FitError when there are
        too few matches or the fit does not converge.
        """
        started, cpu_started = time.perf_counter(), time.process_time()
        s = self.settings
        matches = None
        if inputs.uv is not None:
            valid = inputs.uv_valid if inputs.uv_valid is not None else np.ones(
                (inputs.height, inputs.width), dtype=bool)
            matches = match_vertices(inputs.uv, valid, self.vertex_uv, s.uv_max_sq_dist,
                                     s.subpixel)
            matches = matches.take(self.uv_vertices()[matches.vertex_ids])
            if len(matches) < s.min_matches and inputs.landmarks_px is None:
                raise FitError(f"only {len(matches)} vertices located by the uv map "
                               f"(need {s.min_matches}): no face-sized uv region")
        if matches is None and inputs.landmarks_px is None:
            raise FitError("nothing to fit: give a uv map or landmarks")
        adaptive = (s.map_agreement and inputs.landmarks_px is not None
                    and (matches is not None or inputs.normal_model is not None))
        if adaptive:
            result = self._fit_weighed(inputs, matches)
        else:
            result = self._solve(inputs, matches)
            result.terms = self._terms(inputs, matches, result, None, "as given")
        result.seconds = time.perf_counter() - started
        result.cpu_seconds = time.process_time() - cpu_started
        result.converged = bool(np.isfinite(result.residual_px)
                                and result.residual_px <= s.max_residual_px)
        if adaptive:
            return result
        if (matches is not None and inputs.landmarks_px is None
                and result.matches_kept < s.min_matches):
            raise FitError(f"fit did not converge: only {result.matches_kept} of "
                           f"{len(matches)} uv matches agree with the fitted head "
                           f"(need {s.min_matches})")
        if not result.converged:
            raise FitError(f"fit did not converge: median 2D residual "
                           f"{result.residual_px:.2f} px > {s.max_residual_px} px")
        return result

    def _solve(self, inputs: FitInputs, matches: UvMatches | None,
               match_weight: np.ndarray | None = None,
               normal_weight: np.ndarray | None = None) -> FitResult:
        """One optimisation (rigid then full stage) with the given per-sample weights."""
        threads = torch.get_num_threads()
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)
        try:
            problem = _Problem(self, inputs, matches, match_weight, normal_weight)
            history = problem.run()
            return problem.result(0.0, 0.0, history)
        finally:
            torch.set_num_threads(threads)

    def _fit_weighed(self, inputs: FitInputs, matches: UvMatches | None) -> FitResult:
        """The landmark-first fit with map terms weighed by agreement (see :meth:`fit`)."""
        s = self.settings
        reference = self._solve(dataclasses.replace(inputs, uv=None, normal_model=None), None)
        regions = vertex_regions(self.model.masks, self.model.n_vertices)
        agreements: dict[str, TermAgreement] = {}
        to_reference = REFERENCE_SIZE / max(inputs.width, inputs.height)
        if matches is not None and len(matches):
            agreements["uv"] = uv_agreement(
                matches.vertex_ids, matches.pixels_xy, reference.verts_camera, reference.K,
                s.uv_gate_px if s.uv_gate_px is not None else 20.0, to_reference, regions)
        if inputs.normal_model is not None:
            visible = self.visible_vertices(reference.verts_camera, reference.K, inputs.width,
                                            inputs.height)
            valid = (inputs.normal_valid if inputs.normal_valid is not None
                     else np.ones((inputs.height, inputs.width), dtype=bool))
            agreements["normal"] = normal_agreement(
                np.asarray(inputs.normal_model, np.float64), np.asarray(valid, bool),
                self.normal_vertices, visible, reference.verts_model, reference.verts_camera,
                reference.pose[0], reference.K, self.model.faces,
                s.normal_outlier if s.normal_outlier is not None else 0.33, regions, inputs.w2c)
        used = {name: a for name, a in agreements.items() if a.weight > 0}
        if not used:
            decision = "map terms dropped: no region of the maps agrees with the landmarks"
            reference.terms = self._terms(inputs, matches, reference, agreements, decision)
            return reference
        result = self._solve(
            inputs if "normal" in used else dataclasses.replace(inputs, normal_model=None),
            matches if "uv" in used else None,
            used["uv"].sample_weights() if "uv" in used else None,
            used["normal"].sample_weights() if "normal" in used else None)
        limit = (float("inf") if s.landmark_guard is None
                 else s.landmark_guard * reference.landmark_error_px + 0.5)
        if result.landmark_error_px > limit:
            decision = (f"map terms dropped: with them the fitted landmarks lie "
                        f"{result.landmark_error_px:.2f} px from the detected ones, alone "
                        f"{reference.landmark_error_px:.2f} px (limit {limit:.2f})")
            reference.terms = self._terms(inputs, matches, reference, agreements, decision)
            return reference
        weights = ", ".join(f"{name} {a.weight:.2f}" for name, a in agreements.items())
        result.terms = self._terms(inputs, matches, result, agreements,
                                   f"map terms weighed by agreement ({weights})")
        return result

    def _terms(self, inputs: FitInputs, matches: UvMatches | None, result: FitResult,
               agreements: dict[str, TermAgreement] | None, decision: str) -> dict:
        """JSON-ready report of the terms of a fit (settings, weights, agreement, errors)."""
        s = self.settings
        agreements = agreements or {}
        terms: dict = {"decision": decision}
        if inputs.landmarks_px is not None:
            terms["landmarks"] = {"used": True, "weight": s.w_landmark,
                                  "mean_error_px": round(result.landmark_error_px, 3)}
        if inputs.uv is not None:
            found = len(matches) if matches is not None else 0
            entry = {"used": result.matches is not None, "weight": s.w_uv, "matches": found,
                     "kept_at_end": result.matches_kept if result.matches is not None else 0,
                     "gate_px": s.uv_gate_px, "max_sq_uv_dist": s.uv_max_sq_dist}
            if "uv" in agreements:
                entry["agreement"] = agreements["uv"].as_dict()
                entry["used"] = entry["used"] and agreements["uv"].weight > 0
            terms["uv"] = entry
        if inputs.normal_model is not None:
            entry = {"used": True, "weight": s.w_normal, "outlier": s.normal_outlier,
                     "regions": list(s.normal_regions)}
            if "normal" in agreements:
                entry["agreement"] = agreements["normal"].as_dict()
                entry["used"] = (agreements["normal"].weight > 0
                                 and not decision.startswith("map terms dropped"))
            terms["normal"] = entry
        if "uv" in terms and decision.startswith("map terms dropped"):
            terms["uv"]["used"] = False
        terms["median_residual_px"] = round(float(result.residual_px), 3)
        terms["regions"] = list(REGIONS)
        return terms

    def visible_vertices(self, verts_camera: np.ndarray, K: np.ndarray, width: int,
                         height: int) -> np.ndarray:
        """(V,) bool: vertices of a head (V, 3) camera frame that the depth pass sees."""
        depth = self.depth_map(verts_camera, K, width, height)
        projected = verts_camera @ np.asarray(K).T
        pixels = projected[:, :2] / np.maximum(projected[:, 2:3], 1e-9)
        cols = np.clip(np.rint(pixels[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.rint(pixels[:, 1]).astype(int), 0, height - 1)
        seen = depth[rows, cols]
        return (seen > 0) & (verts_camera[:, 2] <= seen + self.settings.visibility_tol_m)

    def uv_vertices(self) -> np.ndarray:
        """(V,) bool: vertices that may take part in the uv term (settings' regions)."""
        s, masks = self.settings, self.model.masks
        if s.uv_regions is None:
            return np.ones(self.model.n_vertices, dtype=bool)
        keep = np.zeros(self.model.n_vertices, dtype=bool)
        for name in s.uv_regions:
            keep[masks.get(name, [])] = True
        for name in s.uv_excluded:
            keep[masks.get(name, [])] = False
        return keep

    def neutral(self, shape: np.ndarray) -> np.ndarray:
        """(V, 3) identity-only mesh (expression and pose zero) for coefficients (s,)."""
        with torch.no_grad():
            out = self.flame(shape=torch.as_tensor(shape, device=self.device)[None].float())
        return out.vertices[0].double().cpu().numpy()

    def renderer(self, width: int, height: int) -> Renderer:
        """The fitter's renderer for images of this size (created on first use)."""
        key = (width, height)
        if key not in self._renderers:
            self._renderers[key] = Renderer(width, height, cull_back_faces=True)
        return self._renderers[key]

    def depth_map(self, verts_camera: np.ndarray, K: np.ndarray, width: int,
                  height: int) -> np.ndarray:
        """(H, W) camera depth of the mesh (V, 3) given in the camera frame, metres
        (0 on background)."""
        camera = Camera(K=K, w2c=np.eye(4), width=width, height=height)
        _, _, depth = self.renderer(width, height).rasterize(verts_camera, self.model.faces,
                                                             camera)
        return depth

    def close(self) -> None:
        """Release the renderers' GL contexts."""
        for renderer in self._renderers.values():
            renderer.release()
        self._renderers.clear()


class _Problem:
    """The parameters and loss terms of one fit."""

    def __init__(self, fitter: FaceFitter, inputs: FitInputs, matches: UvMatches | None,
                 match_weight: np.ndarray | None = None,
                 normal_weight: np.ndarray | None = None) -> None:
        self.fitter, self.inputs, self.matches = fitter, inputs, matches
        self.settings = s = fitter.settings
        dev = self.device = fitter.device
        self.K0 = torch.as_tensor(inputs.K, dtype=torch.float32, device=dev)
        model = fitter.model
        if inputs.landmarks_px is None and matches is not None and len(matches) >= s.min_matches:
            start_points = model.v_template[matches.vertex_ids]
            start_pixels = matches.pixels_xy
        else:
            lmk = np.einsum("lkc,lk->lc", model.v_template[model.faces[model.lmk_faces]],
                            model.lmk_bary)
            start_points, start_pixels = lmk, np.asarray(inputs.landmarks_px, dtype=np.float64)
        rotation0, translation0 = pose_from_correspondences(start_points, start_pixels, inputs.K)
        self.rotation0 = torch.as_tensor(rotation0, dtype=torch.float32, device=dev)

        def param(value: np.ndarray | None, size: tuple[int, ...]) -> torch.Tensor:
            tensor = torch.zeros(size) if value is None else torch.as_tensor(value)
            return tensor.to(device=dev, dtype=torch.float32).requires_grad_(True)

        self.params = {
            "rotation": param(None, (3,)),
            "translation": param(translation0, (3,)),
            "shape": param(None, (fitter.n_shape,)),
            "expr": param(None, (fitter.n_expr,)),
            "joints": param(None, (fitter.flame.n_joints - 1, 3)),
        }
        if s.learn_camera:
            self.params["log_focal"] = param(None, (1,))
            self.params["principal"] = param(None, (2,))
        if matches is not None and len(matches):
            self.match_ids = torch.as_tensor(matches.vertex_ids, device=dev)
            self.match_px = torch.as_tensor(matches.pixels_xy, dtype=torch.float32, device=dev)
            self.match_weight = torch.as_tensor(
                np.ones(len(matches)) if match_weight is None else match_weight,
                dtype=torch.float32, device=dev)
        else:
            self.match_ids = None
        self.landmarks_px = (None if inputs.landmarks_px is None else torch.as_tensor(
            inputs.landmarks_px, dtype=torch.float32, device=dev))
        self.normal_map = None
        if inputs.normal_model is not None:
            normal_valid = (inputs.normal_valid if inputs.normal_valid is not None
                            else np.ones((inputs.height, inputs.width), dtype=bool))
            self.normal_valid = torch.as_tensor(normal_valid, dtype=torch.bool, device=dev)
            self.normal_map = torch.as_tensor(inputs.normal_model, dtype=torch.float32,
                                              device=dev).permute(2, 0, 1)[None]
            self.normal_ids = torch.as_tensor(fitter.normal_vertices, device=dev)
            weight = np.ones(fitter.model.n_vertices)
            if normal_weight is not None:
                weight[fitter.normal_vertices] = normal_weight
            self.vertex_normal_weight = torch.as_tensor(weight, dtype=torch.float32, device=dev)
            self.w2c_rotation = (None if inputs.w2c is None else torch.as_tensor(
                np.asarray(inputs.w2c)[:3, :3], dtype=torch.float32, device=dev))
        self.visible: torch.Tensor | None = None
        self._frozen_model: tuple[torch.Tensor, torch.Tensor] | None = None

    # ---- model -------------------------------------------------------------------------

    def camera_K(self) -> torch.Tensor:
        """(3, 3) current intrinsics: the focal scaled by exp(log_focal), the principal point
        shifted by ``principal`` half image sizes (when the camera is learnt)."""
        if "log_focal" not in self.params:
            return self.K0
        half = torch.tensor([self.inputs.width / 2, self.inputs.height / 2], device=self.device)
        scale = torch.exp(self.params["log_focal"])
        top = torch.cat([self.K0[:2, :2] * scale, (self.K0[:2, 2] + self.params["principal"]
                                                   * half)[:, None]], dim=1)
        return torch.cat([top, self.K0[2:]], dim=0)

    def head_rotation(self) -> torch.Tensor:
        return axis_angle_to_matrix(self.params["rotation"]) @ self.rotation0

    def flame_forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """FLAME with zero global rotation: verts_model (V, 3), landmarks_model (L, 3)."""
        p = self.params
        pose = torch.cat([torch.zeros_like(p["joints"][:1]), p["joints"]])[None]
        out = self.fitter.flame(shape=p["shape"][None], expr=p["expr"][None], pose=pose)
        return out.vertices[0], out.landmarks[0]

    def forward(self, rigid_only: bool = False) -> tuple[torch.Tensor, ...]:
        """verts_model (V, 3), verts_camera (V, 3), landmarks_camera (L, 3).

        With ``rigid_only`` the FLAME output is computed once and reused (the rigid stage
        changes only the head's rotation and translation).
        """
        if rigid_only:
            if self._frozen_model is None:
                with torch.no_grad():
                    self._frozen_model = self.flame_forward()
            verts_model, lmk_model = self._frozen_model
        else:
            self._frozen_model = None
            verts_model, lmk_model = self.flame_forward()
        rotation = self.head_rotation()
        translation = self.params["translation"]
        return (verts_model, verts_model @ rotation.T + translation,
                lmk_model @ rotation.T + translation)

    # ---- loss terms --------------------------------------------------------------------

    def refresh_visibility(self, verts_camera: torch.Tensor) -> None:
        verts = verts_camera.detach().double().cpu().numpy()
        K = self.camera_K().detach()
        depth = self.fitter.depth_map(verts, K.double().cpu().numpy(), self.inputs.width,
                                      self.inputs.height)
        pixels = project(verts_camera.detach(), K).cpu().numpy()
        cols = np.clip(np.rint(pixels[:, 0]).astype(int), 0, self.inputs.width - 1)
        rows = np.clip(np.rint(pixels[:, 1]).astype(int), 0, self.inputs.height - 1)
        seen = depth[rows, cols]
        visible = (seen > 0) & (verts[:, 2] <= seen + self.settings.visibility_tol_m)
        self.visible = torch.as_tensor(visible, device=self.device)

    def normal_loss(self, verts_model: torch.Tensor, verts_camera: torch.Tensor) -> torch.Tensor:
        ids = self.normal_ids[self.visible[self.normal_ids]]
        pixels = project(verts_camera[ids].detach(), self.camera_K().detach())
        height, width = self.inputs.height, self.inputs.width
        cols = pixels[:, 0].round().long().clamp(0, width - 1)
        rows = pixels[:, 1].round().long().clamp(0, height - 1)
        inside = ((pixels[:, 0] >= 0) & (pixels[:, 0] <= width - 1) & (pixels[:, 1] >= 0)
                  & (pixels[:, 1] <= height - 1) & self.normal_valid[rows, cols])
        ids, pixels = ids[inside], pixels[inside]
        if ids.numel() == 0:
            return verts_model.new_zeros(())
        grid = torch.stack([pixels[:, 0] / (width - 1), pixels[:, 1] / (height - 1)], -1) * 2 - 1
        target = F.grid_sample(self.normal_map, grid[None, None], align_corners=True)[0, :, 0].T
        target = F.normalize(target, dim=-1)
        normals = vertex_normals(verts_model, self.fitter.normal_faces)[ids]
        if self.w2c_rotation is not None:  # model frame of the map = world of the camera
            normals = normals @ (self.w2c_rotation.T @ self.head_rotation()).T
        error = (normals - target).abs()
        weight = self.vertex_normal_weight[ids]
        if self.settings.normal_outlier is not None:
            kept = error.detach().mean(dim=-1) < self.settings.normal_outlier
            if not bool(kept.any()):
                return verts_model.new_zeros(())
            error, weight = error[kept], weight[kept]
        return (error.sum(dim=-1) * weight).mean()

    def uv_kept(self, residual_px: torch.Tensor) -> torch.Tensor:
        """(k,) bool: the matches that count now, given their residuals (k, 2) in image
        pixels (the gate around the current projection, visibility)."""
        s = self.settings
        kept = torch.ones(residual_px.shape[0], dtype=torch.bool, device=self.device)
        if s.uv_gate_px is not None:
            to_reference = REFERENCE_SIZE / max(self.inputs.width, self.inputs.height)
            kept &= residual_px.detach().abs().sum(dim=-1) * to_reference < s.uv_gate_px
        if s.uv_visibility and self.visible is not None:
            kept &= self.visible[self.match_ids]
        return kept

    def data_loss(self, verts_camera: torch.Tensor, lmk_camera: torch.Tensor) -> torch.Tensor:
        s = self.settings
        loss = verts_camera.new_zeros(())
        # Residuals in pixels of a REFERENCE_SIZE image, so weights hold at any resolution.
        to_reference = REFERENCE_SIZE / max(self.inputs.width, self.inputs.height)
        K = self.camera_K()
        if self.match_ids is not None:
            residual = project(verts_camera[self.match_ids], K) - self.match_px
            kept = self.uv_kept(residual).float()
            per_match = pseudo_huber(residual * to_reference, s.robust_scale_px)
            loss = loss + s.w_uv * (per_match * kept * self.match_weight).sum() / kept.sum(
            ).clamp_min(1.0)
        if self.landmarks_px is not None:
            residual = project(lmk_camera, K) - self.landmarks_px
            loss = loss + s.w_landmark * pseudo_huber(residual * to_reference,
                                                      s.robust_scale_px).mean()
        return loss

    def prior_loss(self) -> torch.Tensor:
        s, p = self.settings, self.params
        prior = (s.w_shape * (p["shape"] ** 2).sum() + s.w_expr * (p["expr"] ** 2).sum()
                 + s.w_pose * (p["joints"] ** 2).sum())
        if "principal" in p:
            prior = prior + s.w_principal * (p["principal"] ** 2).sum()
        return prior

    # ---- optimisation ------------------------------------------------------------------

    def _stage(self, names: tuple[str, ...], steps: int, lr: float, use_normals: bool,
               history: list[tuple[int, float]]) -> None:
        groups = [{"params": [self.params[n]], "lr": lr * _LR_SCALE[n]} for n in names]
        optimiser = torch.optim.Adam(groups)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1),
                                                               eta_min=0.05 * lr)
        use_normals = use_normals and self.normal_map is not None
        needs_visibility = use_normals or (self.settings.uv_visibility
                                           and self.match_ids is not None)
        rigid_only = set(names) <= {"rotation", "translation", *_CAMERA}
        offset = len(history)
        for step in range(steps):
            optimiser.zero_grad(set_to_none=True)
            verts_model, verts_camera, lmk_camera = self.forward(rigid_only)
            if needs_visibility and (self.visible is None
                                     or step % self.settings.visibility_every == 0):
                self.refresh_visibility(verts_camera)
            loss = self.data_loss(verts_camera, lmk_camera) + self.prior_loss()
            if use_normals:
                loss = loss + self.settings.w_normal * self.normal_loss(verts_model, verts_camera)
            loss.backward()
            optimiser.step()
            scheduler.step()
            history.append((offset + step, float(loss.detach())))

    def run(self) -> list[tuple[int, float]]:
        s = self.settings
        history: list[tuple[int, float]] = []
        camera = tuple(name for name in _CAMERA if name in self.params)
        self._stage(("rotation", "translation", *camera), s.rigid_steps, s.lr_rigid, False,
                    history)
        self._stage(tuple(self.params), s.full_steps, s.lr_full, True, history)
        return history

    def result(self, seconds: float, cpu_seconds: float,
               history: list[tuple[int, float]]) -> FitResult:
        with torch.no_grad():
            verts_model, verts_camera, lmk_camera = self.forward()
            K = self.camera_K()
            residuals, kept = [], 0
            if self.match_ids is not None:
                residual = project(verts_camera[self.match_ids], K) - self.match_px
                residuals.append(residual[self.uv_kept(residual)])
                kept = len(residuals[-1])
            fitted_landmarks, landmark_error = None, float("nan")
            if self.landmarks_px is not None:
                residuals.append(project(lmk_camera, K) - self.landmarks_px)
                fitted_landmarks = project(lmk_camera, K).double().cpu().numpy()
                landmark_error = float(residuals[-1].norm(dim=-1).mean())
            stacked = torch.cat(residuals)
            residual_px = float(stacked.norm(dim=-1).median()) if len(stacked) else float("inf")
            rotation = self.head_rotation().double().cpu().numpy()
            root = self.fitter.flame(shape=self.params["shape"][None],
                                    expr=self.params["expr"][None]).joints[0, 0]
        root = root.double().cpu().numpy()
        translation = self.params["translation"].detach().double().cpu().numpy()
        joints = self.params["joints"].detach().double().cpu().numpy()
        pose = np.concatenate([Rotation.from_matrix(rotation).as_rotvec()[None], joints])
        shape = self.params["shape"].detach().double().cpu().numpy()
        return FitResult(
            shape=shape, expr=self.params["expr"].detach().double().cpu().numpy(), pose=pose,
            # FLAME rotates about the root joint: x_cam = R (x - J0) + J0 + transl.
            transl=translation + rotation @ root - root,
            verts_camera=verts_camera.double().cpu().numpy(),
            verts_model=verts_model.double().cpu().numpy(),
            verts_neutral=self.fitter.neutral(shape), matches=self.matches,
            residual_px=residual_px, seconds=seconds, cpu_seconds=cpu_seconds, history=history,
            K=K.double().cpu().numpy(), matches_kept=kept,
            fitted_landmarks_px=fitted_landmarks, landmark_error_px=landmark_error)
