"""Masked L1 losses on the predicted normal and uv maps."""

from __future__ import annotations

import torch

MASK_NORMAL = 1
"""Bit of the sample mask: the normal map is valid at this pixel."""
MASK_UV = 2
"""Bit of the sample mask: the uv map is valid at this pixel."""
MASK_FACE = 4
"""Bit of the sample mask: the pixel lies in the face region."""


def mask_bit(mask: torch.Tensor, bit: int) -> torch.Tensor:
    """mask (..., H, W) uint8 bit field -> bool (..., H, W) where ``bit`` is set."""
    return (mask.to(torch.int32) & bit) != 0


def masked_l1(prediction: torch.Tensor, target: torch.Tensor,
              valid: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the channels of the valid pixels.

    Parameters
    ----------
    prediction, target : (B, C, H, W)
    valid : (B, H, W) bool

    Returns
    -------
    scalar tensor; 0 (still differentiable) when no pixel is valid
    """
    weight = valid.unsqueeze(1).to(prediction.dtype)
    total = ((prediction - target).abs() * weight).sum()
    count = weight.sum() * prediction.shape[1]
    return total / count.clamp(min=1.0)


def training_loss(normals: torch.Tensor, uv: torch.Tensor, batch: dict[str, torch.Tensor],
                  weight_normal: float, weight_uv: float) -> dict[str, torch.Tensor]:
    """Weighted masked L1 on normals and uv.

    Parameters
    ----------
    normals : (B, 3, H, W) predicted unit normals
    uv : (B, 2, H, W) predicted uv
    batch : holds 'normal' (B, 3, H, W), 'uv' (B, 2, H, W), 'mask' (B, H, W) uint8

    Returns
    -------
    dict with 'loss' (weighted sum), 'normal' and 'uv' (unweighted terms)
    """
    loss_normal = masked_l1(normals, batch["normal"], mask_bit(batch["mask"], MASK_NORMAL))
    loss_uv = masked_l1(uv, batch["uv"], mask_bit(batch["mask"], MASK_UV))
    return {"loss": weight_normal * loss_normal + weight_uv * loss_uv,
            "normal": loss_normal, "uv": loss_uv}
