"""The predictor: a DINOv2 backbone and two dense heads (normals, uv).

One backbone is shared; the normal and uv outputs have separate heads (each: 4 transformer
blocks on the patch tokens, 3 transposed convolutions to half resolution, a linear
unpatchify to full resolution). Pixel3DMM trains two whole networks; sharing the backbone
halves the cost, and the heads stay independent.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Dinov2Config, Dinov2Model

from network.config import BACKBONE_PRESETS, TOKEN_STRIDE, ModelConfig

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneWeightsError(ValueError):
    """The configured DINOv2 weights directory is missing or unreadable."""


def backbone_config(model_config: ModelConfig) -> Dinov2Config:
    """The ``Dinov2Config`` for a randomly initialised backbone of ``model_config``."""
    preset = dict(BACKBONE_PRESETS[model_config.backbone])
    if model_config.patch_size is not None:
        preset["patch_size"] = model_config.patch_size
    tokens = model_config.resolution // TOKEN_STRIDE
    return Dinov2Config(image_size=tokens * preset["patch_size"], **preset)


def build_backbone(model_config: ModelConfig,
                   saved_config: dict[str, Any] | None = None) -> Dinov2Model:
    """The DINOv2 backbone: local pretrained weights, a saved architecture, or random init.

    Parameters
    ----------
    model_config : names the preset and, optionally, a local weights directory
    saved_config : a ``Dinov2Config.to_dict()`` stored in a checkpoint; when given the
        backbone is built with that architecture and no weights are read (the checkpoint
        supplies them)
    """
    if saved_config is not None:
        return Dinov2Model(Dinov2Config.from_dict(saved_config))
    if model_config.backbone_weights is not None:
        path = Path(model_config.backbone_weights)
        if not (path / "config.json").is_file():
            raise BackboneWeightsError(
                f"{path}: not a DINOv2 checkpoint directory (no config.json); give the folder "
                "holding config.json and model.safetensors of e.g. facebook/dinov2-small")
        try:
            return Dinov2Model.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as error:
            raise BackboneWeightsError(f"{path}: cannot load DINOv2 weights: {error}") from error
    warnings.warn(
        "DINOv2 backbone is RANDOMLY INITIALISED (no backbone_weights in the config): "
        "results will be far below a pretrained backbone", stacklevel=2)
    log.warning("DINOv2 backbone is RANDOMLY INITIALISED (no backbone_weights configured)")
    return Dinov2Model(backbone_config(model_config))


class DenseHead(nn.Module):
    """Patch tokens -> dense map at full resolution.

    Parameters
    ----------
    in_dim : backbone token width
    model_config : head sizes
    out_channels : channels of the raw output map
    """

    def __init__(self, in_dim: int, model_config: ModelConfig, out_channels: int) -> None:
        super().__init__()
        dim = model_config.head_dim
        self.proj = nn.Linear(in_dim, dim)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, model_config.head_heads, dim_feedforward=4 * dim,
                                       dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True)
            for _ in range(model_config.head_blocks))
        self.norm = nn.LayerNorm(dim)
        layers: list[nn.Module] = []
        channels = dim
        for out in model_config.decoder_channels:
            layers += [nn.ConvTranspose2d(channels, out, kernel_size=4, stride=2, padding=1),
                       nn.GELU()]
            channels = out
        self.upsample = nn.Sequential(*layers)
        # Linear unpatchify: each half-resolution pixel -> a 2x2 block of outputs.
        self.unpatchify = nn.Sequential(nn.Conv2d(channels, out_channels * 4, kernel_size=1),
                                        nn.PixelShuffle(2))

    def forward(self, tokens: torch.Tensor, grid: int) -> torch.Tensor:
        """tokens (B, grid*grid, in_dim) -> raw map (B, out_channels, 16*grid, 16*grid)."""
        x = self.proj(tokens)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        x = x.transpose(1, 2).reshape(x.shape[0], -1, grid, grid)
        return self.unpatchify(self.upsample(x))


class NormalUvPredictor(nn.Module):
    """RGB image -> per-pixel unit normal (model frame) and uv in [0, 1].

    Parameters
    ----------
    model_config : architecture
    saved_backbone_config : see ``build_backbone``
    """

    def __init__(self, model_config: ModelConfig,
                 saved_backbone_config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model_config = model_config
        self.backbone = build_backbone(model_config, saved_backbone_config)
        hidden = self.backbone.config.hidden_size
        self.grid = model_config.resolution // TOKEN_STRIDE
        self.backbone_size = self.grid * self.backbone.config.patch_size
        self.normal_head = DenseHead(hidden, model_config, 3)
        self.uv_head = DenseHead(hidden, model_config, 2)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def backbone_config_dict(self) -> dict[str, Any]:
        """The backbone's architecture, to rebuild it from a checkpoint."""
        return self.backbone.config.to_dict()

    def head_parameters(self) -> list[nn.Parameter]:
        """Parameters outside the backbone (they get the head learning rate)."""
        return [*self.normal_head.parameters(), *self.uv_head.parameters()]

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rgb (B, 3, R, R) in [0, 1], R = resolution.

        Returns
        -------
        normals (B, 3, R, R) unit vectors, uv (B, 2, R, R) in [0, 1]
        """
        resolution = self.model_config.resolution
        if rgb.shape[-2:] != (resolution, resolution):
            raise ValueError(f"expected images of {resolution}x{resolution}, got "
                             f"{tuple(rgb.shape[-2:])}")
        x = (rgb - self.pixel_mean) / self.pixel_std
        x = F.interpolate(x, size=(self.backbone_size, self.backbone_size), mode="bilinear",
                          align_corners=False, antialias=True)
        tokens = self.backbone(pixel_values=x).last_hidden_state[:, 1:]
        normals = F.normalize(self.normal_head(tokens, self.grid), dim=1, eps=1e-6)
        uv = torch.sigmoid(self.uv_head(tokens, self.grid))
        return normals, uv
