"""Settings of the FLAME fit and of the reconstruction benchmark."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FitSettings:
    """Weights, schedule and thresholds of one single-image FLAME fit.

    Attributes
    ----------
    n_shape, n_expr : identity / expression coefficients fitted (capped at the model's
        non-zero columns)
    uv_max_sq_dist : a pixel locates a vertex when their uv distance squared is below this
        (Pixel3DMM: 5e-5)
    subpixel : refine each matched pixel to a sub-pixel position with the local uv gradient
    robust_scale_px : scale of the pseudo-Huber loss on 2D residuals, pixels of a 256-pixel
        image (residuals are rescaled to that size, so weights hold at any resolution)
    w_uv, w_normal, w_landmark : data term weights (uv and landmark terms in such pixels^2
        under the robust loss, the normal term as the L1 difference of unit vectors)
    w_shape, w_expr, w_pose : priors (sum of squares of coefficients / radians)
    normal_regions : FLAME mask names whose vertices take part in the normal term
        (the scan's normal map also shows hair, which FLAME does not model)
    rigid_steps, full_steps : optimiser iterations of the rigid stage and of the full stage
    lr_rigid, lr_full : Adam learning rates of the two stages
    visibility_every : refresh the visible vertices (depth pass) every so many steps
    visibility_tol_m : a vertex is visible when it lies within this of the depth buffer
    min_matches : fewer uv matches than this (or landmarks, when fitting landmarks only)
        fail the fit
    max_residual_px : a fit whose median final 2D residual (image pixels) exceeds this
        is a failed fit
    uv_gate_px : drop a uv match while its pixel lies this far or farther (L1, pixels of a
        256-pixel image) from the vertex's current projection (Pixel3DMM's ``dist_uv``: 20 in
        its 256-pixel tracking); None: keep every match
    uv_regions, uv_excluded : FLAME mask names whose vertices may (and then may not) take part
        in the uv term (Pixel3DMM's list: face and ears without eyes and eye region);
        None: every vertex with uv
    uv_visibility : drop uv matches of vertices hidden in the current render (off by default:
        it did not help on held-out shards, see README)
    normal_outlier : drop normal-term samples whose mean absolute error per channel is at
        least this (Pixel3DMM's ``delta_n`` 0.33); None: keep all
    learn_camera : fit the focal length and principal point too, from the given K (off by
        default, where K is known; the photo command turns it on, its K being a guess)
    w_principal : prior on the principal point's shift (squared, in half image sizes)
    map_agreement : with landmarks and maps, fit the landmarks alone first, weigh each map
        term per region by its agreement with that head, and never fail (see
        :meth:`fitting.FaceFitter.fit`); False: use the maps as given and refuse a fit whose
        residual exceeds ``max_residual_px`` (``--strict``)
    landmark_guard : with ``map_agreement``, return the landmark-only head when the full fit's
        landmark error exceeds this many times (plus 0.5 px) the landmark-only fit's; None: off
    device : torch device name ("cpu", "cuda"); "auto" takes CUDA when present
    threads : torch intra-op threads during a fit (None: leave torch's setting). The mesh is
        small: a second thread gains little and, on a busy machine, costs several times over
    """

    n_shape: int = 50
    n_expr: int = 50
    uv_max_sq_dist: float = 5e-5
    subpixel: bool = True
    robust_scale_px: float = 2.0
    w_uv: float = 1.0
    w_normal: float = 20.0
    w_landmark: float = 1.0
    w_shape: float = 2e-3
    w_expr: float = 2e-3
    w_pose: float = 1e-1
    normal_regions: tuple[str, ...] = ("face",)
    rigid_steps: int = 30
    full_steps: int = 100
    lr_rigid: float = 2e-2
    lr_full: float = 2e-2
    visibility_every: int = 25
    visibility_tol_m: float = 0.004
    min_matches: int = 50
    max_residual_px: float = 8.0
    uv_gate_px: float | None = 20.0
    uv_regions: tuple[str, ...] | None = ("face", "left_ear", "right_ear")
    uv_excluded: tuple[str, ...] = ("left_eyeball", "right_eyeball", "eye_region")
    uv_visibility: bool = False
    normal_outlier: float | None = 0.33
    learn_camera: bool = False
    w_principal: float = 1.0
    map_agreement: bool = True
    landmark_guard: float | None = 1.2
    device: str = "auto"
    threads: int | None = 1

    def replace(self, **changes: Any) -> FitSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class EvalSettings:
    """The reconstruction benchmark.

    Attributes
    ----------
    fit : settings of every fit (the landmark baseline uses the same priors and schedule)
    max_images : test images evaluated (the first ones in shard order; None: all)
    alignment : "similarity" (Umeyama with scale) or "rigid" alignment on the 7 landmarks
    region : FLAME mask whose ground-truth vertices are measured
    overlays : how many images get an overlay picture
    """

    fit: FitSettings = field(default_factory=FitSettings)
    max_images: int | None = 20
    alignment: str = "similarity"
    region: str = "face"
    overlays: int = 4

    def __post_init__(self) -> None:
        if self.alignment not in ("similarity", "rigid"):
            raise ValueError(f"alignment must be 'similarity' or 'rigid', got {self.alignment!r}")
