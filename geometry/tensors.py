"""The geometry of :mod:`geometry` in torch, differentiable, for the fits: normals,
rotations, projection (same conventions and units)."""

from __future__ import annotations

import torch


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals (V, 3) of ``verts`` (V, 3) and ``faces`` (F, 3)
    int64, counter-clockwise seen from outside (zero for vertices in no triangle)."""
    corners = verts[faces]  # (F, 3, 3)
    area_normals = torch.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0],
                               dim=-1)
    normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1),
                                                 area_normals.repeat_interleave(3, dim=0))
    return normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (..., 3) radians -> rotation matrices (..., 3, 3), smooth (and
    differentiable) at zero rotation through series expansions."""
    angle_sq = (axis_angle * axis_angle).sum(-1, keepdim=True)
    small = angle_sq < 1e-12
    angle = torch.sqrt(torch.where(small, torch.ones_like(angle_sq), angle_sq))
    sin_term = torch.where(small, 1.0 - angle_sq / 6.0, torch.sin(angle) / angle)
    cos_term = torch.where(small, 0.5 - angle_sq / 24.0, (1.0 - torch.cos(angle)) / (angle * angle))
    x, y, z = axis_angle.unbind(-1)
    zeros = torch.zeros_like(x)
    skew = torch.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], dim=-1)
    skew = skew.reshape(*axis_angle.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_term[..., None] * skew + cos_term[..., None] * (skew @ skew)


def project(points_camera: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of (N, 3) camera-frame points (OpenCV axes) -> (N, 2) pixels; depth
    clamped at 1e-6 so points behind the camera stay finite."""
    z = points_camera[:, 2:3].clamp_min(1e-6)
    return (points_camera[:, :2] / z) @ K[:2, :2].T + K[:2, 2]
