"""Every tunable number of the registration, in one frozen dataclass (part of the stage's key)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FitStage:
    """One coarse-to-fine step of the model fit.

    Attributes
    ----------
    iterations : Gauss-Newton iterations
    n_shape, n_expr : leading identity / expression coefficients free in this step
    max_distance_m : correspondences farther than this are rejected
    fit_pose : whether the neck and jaw rotations are free
    """

    iterations: int
    n_shape: int
    n_expr: int
    max_distance_m: float
    fit_pose: bool


@dataclass(frozen=True)
class RegistrationSettings:
    """Settings of :func:`registration.register_scan` (metres, radians, unitless weights)."""

    # input checks
    min_points: int = 2000
    max_extent_m: float = 1.5          # a bigger scan is taken to be in millimetres
    min_extent_m: float = 0.08
    max_landmark_rms_m: float = 0.012
    # rigid start without landmarks
    start_angles_deg: tuple[float, ...] = (0.0, -30.0, 30.0)
    icp_keep_fraction: float = 0.7
    icp_points: int = 1500
    rigid_scan_points: int = 10_000    # the scan thinned to this many points for the start
    # model fit
    fit_points: int = 3000
    stages: tuple[FitStage, ...] = (
        FitStage(4, 10, 5, 0.015, True),
        FitStage(5, 50, 20, 0.008, True),
        FitStage(5, 50, 20, 0.004, True),
    )
    jaw_starts_rad: tuple[float, ...] = (0.0, 0.3)  # jaw openings tried without landmarks
    start_pitch_deg: tuple[float, ...] = (0.0, 5.0)  # head pitches (about x; + tilts the
    #                                    face down) tried likewise: an open jaw biases the
    #                                    rigid start's pitch, and the lips then lock crossed
    start_stages: int = 2              # stages each jaw start runs before the best goes on
    max_normal_angle_deg: float = 60.0
    robust_scale_m: float = 0.002      # Cauchy scale of the point-to-plane residual
    scan_to_model_weight: float = 1.0  # scan-to-model pairs relative to model-to-scan
    landmark_sigma_m: float = 0.0015   # per coordinate (the synthetic landmarks: 1 mm)
    contour_landmark_weight: float = 0.2
    shape_prior: float = 1.0           # identity coefficients ~ N(0, 1 / shape_prior)
    expr_prior: float = 0.05           # expression ~ N(0, 1 / expr_prior): wide, mixes vary
    pose_prior_rad: float = 0.3
    scale_prior: float = 0.1           # log scale ~ N(0, scale_prior^2)
    damping: float = 1e-3
    max_coeff: float = 20.0            # |identity coefficient| beyond this: the fit diverged
    max_expr_coeff: float = 50.0       # |expression coefficient| beyond this: diverged (the
    #                                    stand-in's expression units are small: 15 occurs)
    max_face_residual_m: float = 0.001  # mean face residual beyond this: not a face
    max_shape_norm_per_sqrt_n: float = 1.5  # identity norm beyond this * sqrt(n): not a face
    min_face_coverage: float = 0.3     # fraction of face vertices with scan within 5 mm
    # correspondence signals (a shipped FLAME fit, a shared-topology map, landmarks)
    prior_max_distance_m: float = 0.002  # a shipped FLAME fit's face farther (mean) from the
    #                                    scan than this is refused
    map_min_scans: int = 2             # scans of one topology a shared-topology map needs
    map_max_distance_m: float = 0.001  # a registered vertex farther from its scan: unmapped
    map_max_spread_m: float = 0.002    # vertices whose per-scan positions spread more: unmapped
    prior_fit_points: int = 600        # prior vertices in the model fit's point terms
    prior_fit_sigma_m: float = 0.002   # their sigma per coordinate
    prior_refine_weight: float = 1.0   # a prior vertex's sideways pull in the refinement,
    #                                    relative to its scan term
    landmark_refine_weight: float = 1.0  # likewise per landmark (contour ones times
    #                                    contour_landmark_weight)
    # non-rigid refinement
    refine_iterations: int = 3
    refine_max_distance_m: tuple[float, ...] = (0.004, 0.002, 0.0015)
    refine_max_normal_angle_deg: float = 45.0
    laplacian_weight: float = 1.0
    offset_weight: float = 1e-3
    # metrics
    within_m: float = 0.002

    def to_json(self) -> dict:
        """The settings as a JSON-ready dict."""
        return asdict(self)
