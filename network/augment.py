"""Seeded training augmentation that keeps images, maps, intrinsics and pose consistent.

Every random choice of a sample comes from ``sample_seed(seed, sample_id, epoch)``, so the
same run sees the same augmented bytes whatever the worker count or order.

Geometry: a zoom about the image centre and a shift (maps resampled with nearest so no
invalid pixel leaks into a valid one, ``K`` updated), then an optional horizontal flip. A
flipped image shows the mirror-symmetric face: the normal (model frame, x to the subject's
left) has its x component negated, and the uv at a pixel becomes the uv of the mirror
surface point, looked up in a ``UvMirror`` map (flip is disabled without one). The flipped
pose is ``w2c' = S w2c S`` with ``S = diag(-1, 1, 1, 1)``, ``cx' = W - 1 - cx``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from network.losses import MASK_UV
from network.uv_mirror import UvMirror

Sample = dict[str, object]

MIRROR_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))


def sample_seed(seed: int, sample_id: str, epoch: int) -> int:
    """64-bit seed from (global seed, sample id, epoch)."""
    digest = hashlib.sha256(f"{seed}|{sample_id}|{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class AugmentParams:
    """The random choices for one sample: zoom, shift (pixels), flip, colour."""

    scale: float = 1.0
    shift_px: tuple[float, float] = (0.0, 0.0)
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0


def draw_params(rng: np.random.Generator, size: int, flip_prob: float, jitter: float,
                scale_range: tuple[float, float], shift_frac: float) -> AugmentParams:
    """Draw one sample's augmentation; ``size`` is the image side in pixels."""
    scale = float(rng.uniform(*scale_range))
    shift = rng.uniform(-shift_frac, shift_frac, size=2) * size
    flip = bool(rng.random() < flip_prob)
    colour = rng.uniform(1.0 - jitter, 1.0 + jitter, size=3)
    return AugmentParams(scale, (float(shift[0]), float(shift[1])), flip,
                         float(colour[0]), float(colour[1]), float(colour[2]))


def _warp(image: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """image (C, H, W) float sampled at grid (1, H, W, 2) (normalised input coords)."""
    return F.grid_sample(image.unsqueeze(0), grid, mode=mode, padding_mode="zeros",
                         align_corners=True)[0]


def _jitter(rgb: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Brightness, contrast and saturation on rgb (3, H, W) in [0, 1]."""
    rgb = rgb * params.brightness
    rgb = (rgb - rgb.mean()) * params.contrast + rgb.mean()
    grey = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).unsqueeze(0)
    rgb = (rgb - grey) * params.saturation + grey
    return rgb.clamp(0.0, 1.0)


def apply_augmentation(sample: Sample, params: AugmentParams,
                       uv_mirror: UvMirror | None) -> Sample:
    """Apply ``params`` to a sample of the shard contract (tensors (C, H, W), mask (H, W)).

    Raises ValueError when asked to flip without a uv mirror map.
    """
    rgb, normal, uv = sample["rgb"], sample["normal"], sample["uv"]
    mask = sample["mask"]
    height, width = rgb.shape[-2:]
    if height != width:
        raise ValueError(f"augmentation expects square images, got {height}x{width}")
    if params.flip and uv_mirror is None:
        raise ValueError("horizontal flip needs a uv mirror map (uv layouts are not symmetric)")
    flip_x = -1.0 if params.flip else 1.0
    half = (width - 1) / 2.0
    # Forward map (normalised coords): n' = scale * n + shift, then x'' = -x' when flipping;
    # theta is its inverse (output -> input) as affine_grid expects.
    shift_n = torch.tensor(params.shift_px) / half
    theta = torch.tensor([[flip_x / params.scale, 0.0, -shift_n[0] / params.scale],
                          [0.0, 1.0 / params.scale, -shift_n[1] / params.scale]])
    grid = F.affine_grid(theta.unsqueeze(0), [1, 3, height, width], align_corners=True)
    rgb = _warp(rgb, grid, "bilinear")
    # Maps and mask in one nearest lookup (the mask's small integers are exact in float32).
    maps = _warp(torch.cat([normal, uv, mask.to(torch.float32).unsqueeze(0)]), grid, "nearest")
    normal, uv, mask = maps[:3], maps[3:5], maps[5].round().to(torch.uint8)
    # Intrinsics: zoom about the centre and shift, then mirror the principal point.
    zoom = torch.tensor([[params.scale, 0.0, (1 - params.scale) * half + params.shift_px[0]],
                         [0.0, params.scale, (1 - params.scale) * half + params.shift_px[1]],
                         [0.0, 0.0, 1.0]])
    K = zoom @ sample["K"]
    w2c = sample["w2c"]
    if params.flip:
        normal = normal * torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)
        uv_valid = (mask & MASK_UV) != 0
        uv, defined = uv_mirror(uv)
        keep = uv_valid & defined
        uv = uv * keep
        mask = torch.where(uv_valid & ~defined, mask & (0xFF ^ MASK_UV), mask)
        K = K.clone()
        K[0, 2] = (width - 1) - K[0, 2]
        w2c = MIRROR_X @ w2c @ MIRROR_X
    out = dict(sample)
    out.update(rgb=_jitter(rgb, params), normal=normal, uv=uv, mask=mask.to(torch.uint8),
               K=K, w2c=w2c)
    return out


def resize_sample(sample: Sample, resolution: int) -> Sample:
    """Resize a sample to resolution x resolution: rgb bilinear (antialiased), maps and mask
    nearest, ``K`` scaled (pixel centres at integer coordinates)."""
    height, width = sample["rgb"].shape[-2:]
    if (height, width) == (resolution, resolution):
        return sample
    size = (resolution, resolution)
    out = dict(sample)
    out["rgb"] = F.interpolate(sample["rgb"][None], size=size, mode="bilinear",
                               align_corners=False, antialias=True)[0].clamp(0.0, 1.0)
    maps = torch.cat([sample["normal"], sample["uv"], sample["mask"][None].to(torch.float32)])
    maps = F.interpolate(maps[None], size=size, mode="nearest-exact")[0]
    out["normal"], out["uv"], out["mask"] = maps[:3], maps[3:5], maps[5].to(torch.uint8)
    sx, sy = resolution / width, resolution / height
    scale = torch.tensor([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
    out["K"] = scale @ sample["K"]
    return out
