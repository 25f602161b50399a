"""Rigid and similarity alignment: Umeyama, a coarse start without landmarks, trimmed ICP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from geometry import axis_angle_to_matrix
from registration.errors import RegistrationError
from registration.scan_surface import ScanSurface


@dataclass(frozen=True)
class Similarity:
    """x_scan = scale * rotation @ x_model + translation (metres)."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Model-frame points (n, 3) -> scan frame (n, 3)."""
        return self.scale * points @ self.rotation.T + self.translation


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> Similarity:
    """Least-squares similarity (rigid with ``with_scale=False``) mapping src (n, 3) onto
    dst (n, 3), n >= 3 corresponding points (Umeyama 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[0] < 3:
        raise ValueError(f"umeyama: need two (n, 3) sets with n >= 3, got {src.shape} "
                         f"and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, sing, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((sing * sign).sum() / src_c.var(axis=0).sum()) if with_scale else 1.0
    return Similarity(scale, rotation, dst_mean - scale * rotation @ src_mean)


def align_landmarks(model_landmarks_m: np.ndarray, scan_landmarks_m: np.ndarray,
                    max_rms_m: float) -> Similarity:
    """Similarity from the model's landmarks (L, 3) to the scan's (L, 3).

    Raises
    ------
    RegistrationError
        When the landmarks fit a face shape poorly (RMS after alignment over ``max_rms_m``).
    """
    similarity = umeyama(model_landmarks_m, scan_landmarks_m)
    rms = np.sqrt(((similarity.apply(model_landmarks_m) - scan_landmarks_m) ** 2)
                  .sum(axis=1).mean())
    if rms > max_rms_m:
        raise RegistrationError(
            f"the scan's landmarks do not fit a face: RMS {rms * 1000:.1f} mm after a "
            f"similarity alignment (limit {max_rms_m * 1000:.0f} mm)"
        )
    return similarity


def trimmed_icp(src_m: np.ndarray, src_normals: np.ndarray, surface: ScanSurface,
                start: Similarity, iterations: int, keep_fraction: float,
                with_scale: bool, max_normal_angle_deg: float = 60.0) -> Similarity:
    """Point-to-plane ICP of model points src (n, 3) with unit normals (n, 3) onto the scan,
    keeping the closest ``keep_fraction`` of the pairs each iteration and rejecting pairs whose
    normals differ by more than ``max_normal_angle_deg`` (robust to hair, shoulders, holes)."""
    current = start
    min_cosine = np.cos(np.deg2rad(max_normal_angle_deg))
    for _ in range(iterations):
        x = current.apply(src_m)
        dist, ids = surface.nearest(x)
        keep = np.flatnonzero(dist <= np.quantile(dist, keep_fraction))
        normals = surface.normals(ids[keep])
        cosine = (normals * (src_normals[keep] @ current.rotation.T)).sum(axis=1)
        if not surface.oriented:
            normals *= np.sign(cosine)[:, None]
            cosine = np.abs(cosine)
        good = cosine > min_cosine
        keep, normals = keep[good], normals[good]
        centre = x[keep].mean(axis=0)
        arm = x[keep] - centre
        rows = [np.cross(arm, normals), normals]
        if with_scale:
            rows.append((arm * normals).sum(axis=1, keepdims=True))
        jac = np.concatenate(rows, axis=1)
        residual = ((x[keep] - surface.points_m[ids[keep]]) * normals).sum(axis=1)
        update = -np.linalg.lstsq(jac, residual, rcond=None)[0]
        turn = axis_angle_to_matrix(update[:3])
        grow = float(np.exp(update[6])) if with_scale else 1.0
        # x' = centre + grow * turn @ (x - centre) + shift
        current = Similarity(
            grow * current.scale,
            turn @ current.rotation,
            centre + grow * turn @ (current.translation - centre) + update[3:6],
        )
    return current


def trimmed_distance(src_m: np.ndarray, surface: ScanSurface, similarity: Similarity,
                     scan_sample_m: np.ndarray, keep_fraction: float) -> float:
    """Symmetric trimmed mean distance (metres) between placed model points and a scan sample:
    the mean of the closest ``keep_fraction`` of the model-to-scan and scan-to-model distances."""
    placed = similarity.apply(src_m)
    forward = np.sort(surface.nearest(placed)[0])
    backward = np.sort(cKDTree(placed).query(scan_sample_m)[0])
    return float(forward[: int(keep_fraction * len(forward))].mean()
                 + backward[: int(keep_fraction * len(backward))].mean())


def coarse_alignment(template_m: np.ndarray, template_normals: np.ndarray,
                     nose_tip_m: np.ndarray, surface: ScanSurface,
                     start_angles_deg: tuple[float, ...], keep_fraction: float) -> Similarity:
    """A similarity placing the model's front on a scan without landmarks.

    Starts from yaw and pitch rotations in ``start_angles_deg`` (the scan is in FLAME's frame
    up to a moderate rotation), each translated so that the model's nose tip meets the scan's
    most forward point or the centroids meet; a short trimmed ICP from each start, the one
    with the lowest symmetric trimmed distance refined with scale.

    Parameters
    ----------
    template_m, template_normals : (n, 3) model points of the front of the head and their
        unit normals, model frame
    nose_tip_m : (3,) the model's nose tip, model frame
    """
    points = surface.points_m
    sample = points[np.random.default_rng(0).choice(len(points), min(len(points), 2000),
                                                    replace=False)]
    trials = []
    for yaw in start_angles_deg:
        for pitch in start_angles_deg if yaw == 0 else (0.0,):
            rotation = (axis_angle_to_matrix(np.array([0.0, np.deg2rad(yaw), 0.0]))
                        @ axis_angle_to_matrix(np.array([np.deg2rad(pitch), 0.0, 0.0])))
            depth = points @ (rotation @ np.array([0.0, 0.0, 1.0]))
            front = points[depth >= np.quantile(depth, 0.999)].mean(axis=0)
            for anchor in (front - rotation @ nose_tip_m,
                           points.mean(axis=0) - rotation @ template_m.mean(axis=0)):
                placed = trimmed_icp(template_m, template_normals, surface,
                                     Similarity(1.0, rotation, anchor), 10, keep_fraction, False)
                trials.append((trimmed_distance(template_m, surface, placed, sample,
                                                keep_fraction), placed))
    best = min(trials, key=lambda trial: trial[0])[1]
    return trimmed_icp(template_m, template_normals, surface, best, 10, keep_fraction, True)
