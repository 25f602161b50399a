"""Analytic spheres in the shard item contract, for tests and benchmarks without shards.

Each subject is a sphere of its own radius and colour, seen by an orthographic-style camera
under a random yaw; normals and uv are exact per pixel. The uv layout is
u = 0.5 + atan2(n_x, n_z) / (2 pi), v = 0.5 + asin(n_y) / pi (normals in the model frame),
which is mirror-symmetric: the mirror of (u, v) is (1 - u, v) (``UvMirror.symmetric_u``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from network.losses import MASK_FACE, MASK_NORMAL, MASK_UV

FRONTAL = np.diag([1.0, -1.0, -1.0])
"""Model-to-camera rotation of a frontal camera: model x (subject's left) is image right."""


def yaw_matrix(yaw_rad: float) -> np.ndarray:
    """(3, 3) rotation about the model's y axis."""
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def sphere_uv(normals_model: np.ndarray) -> np.ndarray:
    """(..., 3) unit normals in the model frame -> (..., 2) uv of the sphere layout."""
    u = 0.5 + np.arctan2(normals_model[..., 0], normals_model[..., 2]) / (2 * np.pi)
    v = 0.5 + np.arcsin(np.clip(normals_model[..., 1], -1, 1)) / np.pi
    return np.stack([u, v], axis=-1)


def to_shard_sample(item: dict[str, object]) -> dict[str, object]:
    """A ``SphereFaces`` item as the sample dict of ``shards.write_shard``."""
    rgb = (item["rgb"].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    inside = item["mask"].numpy() != 0
    subject, view = str(item["subject"]), int(str(item["sample_id"]).split("-v")[1])
    return {"rgb": rgb, "normal": item["normal"].permute(1, 2, 0).numpy(),
            "uv": item["uv"].permute(1, 2, 0).numpy(), "mask": item["mask"].numpy(),
            "depth": np.where(inside, 2.0, 0.0).astype(np.float32),
            "K": item["K"].numpy(), "w2c": item["w2c"].numpy(),
            "shape": np.zeros(1, np.float32), "expr": np.zeros(1, np.float32),
            "pose": np.zeros(15, np.float32), "transl": np.zeros(3, np.float32),
            "scale": np.float32(1.0), "dataset": str(item["dataset"]), "subject": subject,
            "expression": "neutral", "scan": f"{subject}-neutral", "view": view}


def grid_vertex_uv(count: int = 12, low: float = 0.35, high: float = 0.65) -> np.ndarray:
    """(count*count, 2) uv of 'vertices' on a regular grid of the sphere's front."""
    u, v = np.meshgrid(np.linspace(low, high, count), np.linspace(low, high, count))
    return np.stack([u.ravel(), v.ravel()], axis=-1)


class SphereFaces(Dataset):
    """Spheres rendered analytically with exact normal and uv maps.

    Parameters
    ----------
    subjects : number of subjects (radius and colour differ per subject)
    views : images per subject
    size : image side in pixels
    seed : seeds subjects and views
    """

    def __init__(self, subjects: int = 6, views: int = 8, size: int = 64, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.size = size
        self.radius_frac = rng.uniform(0.28, 0.42, size=subjects)
        self.colour = rng.uniform(0.3, 1.0, size=(subjects, 3))
        self.yaw_rad = np.deg2rad(rng.uniform(-30, 30, size=(subjects, views)))
        self.centre_px = (size - 1) / 2 + rng.uniform(-0.06, 0.06, size=(subjects, views, 2)) * size
        self.views = views
        self.subjects = [f"synthetic/s{index:02d}" for index in range(subjects)
                         for _ in range(views)]

    def __len__(self) -> int:
        return len(self.subjects)

    def __getitem__(self, index: int) -> dict[str, object]:
        subject, view = divmod(index, self.views)
        size = self.size
        radius_px = self.radius_frac[subject] * size
        centre = self.centre_px[subject, view]
        rotation = FRONTAL @ yaw_matrix(self.yaw_rad[subject, view])  # model -> camera
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
        dx, dy = (xs - centre[0]) / radius_px, (ys - centre[1]) / radius_px
        inside = dx**2 + dy**2 < 1.0
        dz = np.sqrt(np.clip(1.0 - dx**2 - dy**2, 0.0, None))
        normals_cam = np.stack([dx, dy, -dz], axis=-1)
        normals_model = normals_cam @ rotation  # R^T n per pixel
        uv = sphere_uv(normals_model)
        shading = 0.25 + 0.75 * dz
        pattern = 0.75 + 0.25 * (np.sin(2 * np.pi * 6 * uv[..., 0])
                                 * np.sin(2 * np.pi * 4 * uv[..., 1]))
        rgb = self.colour[subject] * (shading * pattern)[..., None] * inside[..., None]
        mask = np.where(inside, MASK_NORMAL | MASK_UV | MASK_FACE, 0).astype(np.uint8)
        focal = 2.0 * size
        K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
        w2c = np.eye(4)
        w2c[:3, :3], w2c[2, 3] = rotation, 2.0
        return {
            "rgb": torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32)),
            "normal": torch.from_numpy((normals_model * inside[..., None]).transpose(2, 0, 1)
                                       .astype(np.float32)),
            "uv": torch.from_numpy((uv * inside[..., None]).transpose(2, 0, 1).astype(np.float32)),
            "mask": torch.from_numpy(mask),
            "K": torch.from_numpy(K.astype(np.float32)),
            "w2c": torch.from_numpy(w2c.astype(np.float32)),
            "sample_id": f"s{subject:02d}-v{view:02d}",
            "subject": f"s{subject:02d}",
            "dataset": "synthetic",
        }
