"""Held-out metrics for predicted normal and uv maps, and the constant mean baseline.

Normals: angular error in degrees over normal-valid pixels (mean, median, share under 11.25,
22.5 and 30 degrees). uv: mean L1 over uv-valid pixels, and the 2D position error in pixels
of the vertices the uv maps locate: for each vertex uv, the pixel whose predicted uv is
nearest and the pixel whose true uv is nearest (both within ``threshold`` in uv, both among
the uv-valid pixels of the truth), as Pixel3DMM's fitting finds its 2D targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from scipy.spatial import cKDTree

from network.losses import MASK_NORMAL, MASK_UV, mask_bit

Predictor = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
ANGLE_THRESHOLDS_DEG = (11.25, 22.5, 30.0)


def vertex_uv_from_mesh(faces: np.ndarray, ft: np.ndarray, vt: np.ndarray,
                        vertex_count: int) -> np.ndarray:
    """(V, 2) one uv per vertex (the first face corner's, for vertices on a uv seam).

    Parameters
    ----------
    faces : (F, 3) vertex indices; ft : (F, 3) uv indices; vt : (T, 2) uv
    vertex_count : V; vertices in no face get NaN (never located)
    """
    vertex_uv = np.full((vertex_count, 2), np.nan)
    corners_v, corners_t = np.asarray(faces).ravel(), np.asarray(ft).ravel()
    first = np.unique(corners_v, return_index=True)[1]
    vertex_uv[corners_v[first]] = np.asarray(vt)[corners_t[first]]
    return vertex_uv


def angular_errors_deg(normals_pred: torch.Tensor, normals_true: torch.Tensor,
                       valid: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) unit normals, valid (B, H, W) bool -> (n,) degrees at valid pixels."""
    cosine = (normals_pred * normals_true).sum(dim=1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cosine))[valid].cpu().numpy()


def vertex_pixel_errors(uv_pred: np.ndarray, uv_true: np.ndarray, valid: np.ndarray,
                        vertex_uv: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Pixel distance between where predicted and true uv maps locate each vertex.

    Parameters
    ----------
    uv_pred, uv_true : (2, H, W) uv maps
    valid : (H, W) bool, pixels searched (uv-valid in the truth)
    vertex_uv : (V, 2) uv of each vertex
    threshold : largest uv distance at which a pixel locates a vertex

    Returns
    -------
    errors_px : (k,) for the k vertices located by both maps; V : vertices asked
    """
    vertex_uv = vertex_uv[np.isfinite(vertex_uv).all(axis=1)]
    rows, cols = np.nonzero(valid)
    if rows.size == 0:
        return np.empty(0), len(vertex_uv)
    pixels = np.stack([cols, rows], axis=-1).astype(np.float64)
    located = []
    for uv_map in (uv_pred, uv_true):
        distance, nearest = cKDTree(uv_map[:, rows, cols].T).query(vertex_uv)
        located.append((distance < threshold, pixels[nearest]))
    both = located[0][0] & located[1][0]
    errors = np.linalg.norm(located[0][1][both] - located[1][1][both], axis=-1)
    return errors, len(vertex_uv)


class MetricAccumulator:
    """Collects per-pixel errors over batches; ``summary`` gives the table row."""

    def __init__(self, vertex_uv: np.ndarray | None, threshold: float) -> None:
        self.vertex_uv = vertex_uv
        self.threshold = threshold
        self.angles: list[np.ndarray] = []
        self.uv_abs_sum = 0.0
        self.uv_count = 0
        self.vertex_errors: list[np.ndarray] = []
        self.vertices_asked = 0
        self.images = 0

    def add(self, normals_pred: torch.Tensor, uv_pred: torch.Tensor,
            batch: dict[str, torch.Tensor]) -> None:
        """Add a batch: predictions (B, 3|2, H, W) against batch 'normal', 'uv', 'mask'."""
        normal_valid = mask_bit(batch["mask"], MASK_NORMAL)
        uv_valid = mask_bit(batch["mask"], MASK_UV)
        self.angles.append(angular_errors_deg(normals_pred, batch["normal"], normal_valid))
        difference = (uv_pred - batch["uv"]).abs() * uv_valid.unsqueeze(1)
        self.uv_abs_sum += float(difference.sum())
        self.uv_count += int(uv_valid.sum()) * 2
        self.images += normals_pred.shape[0]
        if self.vertex_uv is None:
            return
        uv_pred_np, uv_true_np = uv_pred.cpu().numpy(), batch["uv"].cpu().numpy()
        for index, valid in enumerate(uv_valid.cpu().numpy()):
            errors, asked = vertex_pixel_errors(uv_pred_np[index], uv_true_np[index], valid,
                                                self.vertex_uv, self.threshold)
            self.vertex_errors.append(errors)
            self.vertices_asked += asked

    def summary(self) -> dict[str, float | int | None]:
        """The metrics row (None where nothing was measured)."""
        angles = np.concatenate(self.angles) if self.angles else np.empty(0)
        row: dict[str, float | int | None] = {
            "images": self.images,
            "normal_pixels": int(angles.size),
            "normal_angle_mean_deg": float(angles.mean()) if angles.size else None,
            "normal_angle_median_deg": float(np.median(angles)) if angles.size else None,
        }
        for threshold in ANGLE_THRESHOLDS_DEG:
            row[f"normal_within_{threshold:g}deg_pct"] = (
                float(100.0 * np.mean(angles < threshold)) if angles.size else None)
        row["uv_l1_mean"] = self.uv_abs_sum / self.uv_count if self.uv_count else None
        if self.vertex_uv is not None:
            errors = np.concatenate(self.vertex_errors) if self.vertex_errors else np.empty(0)
            row["vertex_px_error_mean"] = float(errors.mean()) if errors.size else None
            row["vertices_located_pct"] = (100.0 * errors.size / self.vertices_asked
                                           if self.vertices_asked else None)
        return row


def constant_predictor(mean_normal: np.ndarray, mean_uv: np.ndarray) -> Predictor:
    """A predictor that outputs the same unit normal (3,) and uv (2,) at every pixel."""
    normal = torch.as_tensor(mean_normal, dtype=torch.float32)
    uv = torch.as_tensor(mean_uv, dtype=torch.float32)

    def predict(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = rgb.shape
        return (normal.to(rgb.device).view(1, 3, 1, 1).expand(batch, 3, height, width),
                uv.to(rgb.device).view(1, 2, 1, 1).expand(batch, 2, height, width))

    return predict


def mean_maps(batches: Iterable[dict[str, torch.Tensor]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean unit normal (3,) and mean uv (2,) over the valid pixels of ``batches``."""
    normal_sum, uv_sum = torch.zeros(3, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    uv_count = 0
    for batch in batches:
        normal_valid = mask_bit(batch["mask"], MASK_NORMAL).unsqueeze(1)
        uv_valid = mask_bit(batch["mask"], MASK_UV).unsqueeze(1)
        normal_sum += (batch["normal"] * normal_valid).sum(dim=(0, 2, 3)).double()
        uv_sum += (batch["uv"] * uv_valid).sum(dim=(0, 2, 3)).double()
        uv_count += int(uv_valid.sum())
    norm = float(normal_sum.norm())
    if norm == 0.0 or uv_count == 0:
        raise ValueError("no valid normal or uv pixel to average for the mean baseline")
    return (normal_sum / norm).numpy(), (uv_sum / uv_count).numpy()


def evaluate(predictor: Predictor, batches: Iterable[dict[str, torch.Tensor]],
             vertex_uv: np.ndarray | None, threshold: float,
             device: str = "cpu") -> dict[str, float | int | None]:
    """Metrics row of ``predictor`` over ``batches`` (collated shard items)."""
    accumulator = MetricAccumulator(vertex_uv, threshold)
    with torch.no_grad():
        for batch in batches:
            normals, uv = predictor(batch["rgb"].to(device))
            accumulator.add(normals.float().cpu(), uv.float().cpu(), batch)
    return accumulator.summary()
