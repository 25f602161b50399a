"""How far the network's maps agree with the landmarks, per face region, and the weights
the fit then gives each map term.

A network trained on little or unlike data disagrees with a real photo. Before the full fit,
the 68 landmarks alone are fitted (the *reference*); each uv match and each normal sample is
then checked against that head, region by region (FLAME's masks: forehead, nose, lips, eye
region, ears, the rest of the face):

- a uv match agrees when its pixel lies within the uv gate (``uv_gate_px``, L1 in pixels of a
  256-pixel image; Pixel3DMM's ``dist_uv``) of the reference head's projection of its vertex;
- a normal sample agrees when its mean absolute error per channel against the reference
  head's normal is below ``normal_outlier`` (Pixel3DMM's ``delta_n``).

A region's weight grows linearly from 0 at ``AGREE_LOW`` of its samples agreeing to 1 at
``AGREE_HIGH``; a region with fewer than ``MIN_REGION_SAMPLES`` samples gets 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from geometry import vertex_normals

REGIONS = ("forehead", "nose", "lips", "eye_region", "left_ear", "right_ear", "rest")
"""Regions (FLAME mask names, first match wins; "rest": any other vertex)."""
AGREE_LOW = 0.3
"""A region whose samples agree less often than this gets weight 0."""
AGREE_HIGH = 0.6
"""... and weight 1 from this share on."""
MIN_REGION_SAMPLES = 10
"""Regions with fewer samples than this are not used."""


def vertex_regions(masks: dict[str, np.ndarray], n_vertices: int) -> np.ndarray:
    """(V,) int: each vertex's index into ``REGIONS``."""
    region = np.full(n_vertices, len(REGIONS) - 1, np.int64)
    for index in reversed(range(len(REGIONS) - 1)):
        region[np.asarray(masks.get(REGIONS[index], []), np.int64)] = index
    return region


def region_weight(agreeing: int, samples: int) -> float:
    """Weight of a region from how many of its samples agree."""
    if samples < MIN_REGION_SAMPLES:
        return 0.0
    share = agreeing / samples
    return float(np.clip((share - AGREE_LOW) / (AGREE_HIGH - AGREE_LOW), 0.0, 1.0))


@dataclass(frozen=True)
class TermAgreement:
    """One map term's agreement with the landmark-only head.

    Attributes
    ----------
    term : "uv" or "normal"
    samples, agreeing : (R,) int per region of ``REGIONS``
    weights : (R,) float in [0, 1] per region
    sample_regions : (N,) int region of each sample (uv match, normal-term vertex)
    """

    term: str
    samples: np.ndarray
    agreeing: np.ndarray
    weights: np.ndarray
    sample_regions: np.ndarray

    @classmethod
    def from_flags(cls, term: str, regions: np.ndarray, agree: np.ndarray) -> TermAgreement:
        count = len(REGIONS)
        samples = np.bincount(regions, minlength=count)
        agreeing = np.bincount(regions[agree], minlength=count)
        weights = np.array([region_weight(a, n) for a, n in zip(agreeing, samples, strict=True)])
        return cls(term, samples, agreeing, weights, regions)

    def sample_weights(self) -> np.ndarray:
        """(N,) weight of each sample (its region's)."""
        return self.weights[self.sample_regions]

    @property
    def weight(self) -> float:
        """Sample-weighted mean weight of the term (0: dropped, 1: fully used)."""
        total = self.samples.sum()
        return float((self.weights * self.samples).sum() / total) if total else 0.0

    @property
    def agreement(self) -> float:
        """Share of all samples that agree."""
        total = self.samples.sum()
        return float(self.agreeing.sum() / total) if total else 0.0

    def as_dict(self) -> dict:
        """JSON-ready: overall and per-region samples, agreement and weight."""
        regions = {name: {"samples": int(n), "agreement": round(float(a / n), 3) if n else None,
                          "weight": round(float(w), 3)}
                   for name, n, a, w in zip(REGIONS, self.samples, self.agreeing, self.weights,
                                            strict=True) if n}
        return {"samples": int(self.samples.sum()), "agreement": round(self.agreement, 3),
                "weight": round(self.weight, 3), "regions": regions}


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    projected = points @ np.asarray(K, np.float64).T
    return projected[:, :2] / np.maximum(projected[:, 2:3], 1e-9)


def uv_agreement(vertex_ids: np.ndarray, pixels_xy: np.ndarray, verts_camera: np.ndarray,
                 K: np.ndarray, gate_px: float, to_reference: float,
                 regions: np.ndarray) -> TermAgreement:
    """Agreement of uv matches (vertex ids (N,), pixels (N, 2)) with a head (V, 3) camera
    frame projected with K (3, 3); ``to_reference`` converts image pixels to pixels of a
    256-pixel image, where ``gate_px`` is measured (L1)."""
    residual = _project(verts_camera[vertex_ids], K) - pixels_xy
    agree = np.abs(residual).sum(axis=1) * to_reference < gate_px
    return TermAgreement.from_flags("uv", regions[vertex_ids], agree)


def normal_agreement(normal_map: np.ndarray, normal_valid: np.ndarray, vertex_ids: np.ndarray,
                     visible: np.ndarray, verts_model: np.ndarray, verts_camera: np.ndarray,
                     head_rotvec: np.ndarray, K: np.ndarray, faces: np.ndarray,
                     outlier: float, regions: np.ndarray,
                     w2c: np.ndarray | None = None) -> TermAgreement:
    """Agreement of the normal map (H, W, 3) (model frame; valid (H, W) bool) with the
    normals of a head's visible vertices ``vertex_ids`` (visible: (V,) bool); samples outside
    the valid pixels are not counted."""
    height, width = normal_valid.shape
    normals = vertex_normals(verts_model, faces)
    if w2c is not None:  # the map's frame is the camera's world
        rotation = Rotation.from_rotvec(head_rotvec).as_matrix()
        normals = normals @ (np.asarray(w2c)[:3, :3].T @ rotation).T
    ids = vertex_ids[visible[vertex_ids]]
    pixels = _project(verts_camera[ids], K)
    cols, rows = np.rint(pixels[:, 0]).astype(int), np.rint(pixels[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    ids, cols, rows = ids[inside], cols[inside], rows[inside]
    valid = normal_valid[rows, cols]
    ids, cols, rows = ids[valid], cols[valid], rows[valid]
    error = np.abs(normals[ids] - normal_map[rows, cols]).mean(axis=1)
    agreement = TermAgreement.from_flags("normal", regions[ids], error < outlier)
    # Weights are looked up per vertex of the normal term (hidden ones: their region's).
    return TermAgreement(agreement.term, agreement.samples, agreement.agreeing,
                         agreement.weights, regions[vertex_ids])
