"""Configuration of the normal/uv predictor and its training run.

``ModelConfig`` fixes the architecture (and so which checkpoints fit it); ``TrainConfig``
adds everything that changes the trained weights. ``config_hash`` keys a run's outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

BACKBONE_PRESETS: dict[str, dict[str, int]] = {
    # DINOv2 ViT-S/14 and ViT-B/14 as published; "tiny" for tests and the default CPU build.
    "vits14": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6,
               "patch_size": 14},
    "vitb14": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
               "patch_size": 14},
    "tiny": {"hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 3,
             "patch_size": 14},
}

TOKEN_STRIDE = 16
"""Output pixels per backbone token: 3 transposed convolutions (x8) then unpatchify (x2)."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the predictor.

    Attributes
    ----------
    backbone : key of ``BACKBONE_PRESETS``; ignored for the backbone's shape when
        ``backbone_weights`` names a local DINOv2 checkpoint directory (its config.json rules)
    backbone_weights : local directory for ``Dinov2Model.from_pretrained`` or None (random init)
    patch_size : overrides the preset's patch size when not None (e.g. 8 for tiny test models)
    resolution : square input and output size in pixels; a multiple of 16. The backbone sees
        the image resized to ``resolution // 16 * patch_size`` so it yields resolution/16 tokens
        a side (32x32 tokens at 512, as Pixel3DMM)
    head_dim : width of the head's transformer blocks
    head_blocks : transformer blocks in each head (4 as published)
    head_heads : attention heads in those blocks
    decoder_channels : output channels of the 3 transposed convolutions
    """

    backbone: str = "tiny"
    backbone_weights: str | None = None
    patch_size: int | None = None
    resolution: int = 128
    head_dim: int = 96
    head_blocks: int = 4
    head_heads: int = 4
    decoder_channels: tuple[int, int, int] = (64, 32, 32)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONE_PRESETS:
            raise ValueError(f"unknown backbone {self.backbone!r}; "
                             f"choose one of {sorted(BACKBONE_PRESETS)}")
        if self.resolution % TOKEN_STRIDE or self.resolution <= 0:
            raise ValueError(f"resolution {self.resolution} must be a positive multiple of "
                             f"{TOKEN_STRIDE}")
        if self.head_dim % self.head_heads:
            raise ValueError(f"head_dim {self.head_dim} not divisible by head_heads "
                             f"{self.head_heads}")
        if len(self.decoder_channels) != 3:
            raise ValueError("decoder_channels needs exactly 3 entries (3 transposed convs)")
        object.__setattr__(self, "decoder_channels", tuple(int(c) for c in self.decoder_channels))


PRETRAINED_BACKBONE_LR = 1e-5
RANDOM_BACKBONE_LR = 2e-4


@dataclass(frozen=True)
class TrainConfig:
    """One training run: model, optimisation, augmentation, split and evaluation.

    Attributes
    ----------
    model : the architecture
    steps, batch_size : optimisation steps and samples per step
    lr_head, lr_backbone : AdamW learning rates (published: 4e-4 head, 1e-5 backbone);
        lr_backbone None picks 1e-5 with pretrained weights and 2e-4 for a randomly
        initialised backbone (which must learn from scratch); see ``backbone_lr``
    weight_decay, warmup_steps : AdamW decay; linear warm-up before the cosine decay to 0
    weight_normal, weight_uv : masked-L1 loss weights (published: 0.1 and 10)
    seed : seeds init, sample order, augmentation and the split
    val_fraction : share of subjects held out (at least one subject)
    checkpoint_every, keep_checkpoints : checkpoint cadence in steps and how many to keep
    val_every, val_batches : held-out loss for the curves every so many steps, on that many
        batches (0 disables)
    flip_prob, jitter, scale_range, shift_frac : augmentation; flip only when a uv mirror
        map is given to the training call
    num_workers : loader worker processes (does not change results; not hashed)
    baseline_samples : training samples averaged for the mean-normal / mean-uv baseline
    eval_max_samples : held-out samples evaluated (None: all)
    uv_match_threshold : uv distance under which a pixel locates a vertex
        (Pixel3DMM keeps uv distance^2 < 5e-5, i.e. 0.0071)
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 1000
    batch_size: int = 8
    lr_head: float = 4e-4
    lr_backbone: float | None = None
    weight_decay: float = 0.01
    warmup_steps: int = 100
    weight_normal: float = 0.1
    weight_uv: float = 10.0
    seed: int = 0
    val_fraction: float = 0.2
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    val_every: int = 100
    val_batches: int = 4
    flip_prob: float = 0.5
    jitter: float = 0.2
    scale_range: tuple[float, float] = (0.9, 1.1)
    shift_frac: float = 0.05
    num_workers: int = 2
    baseline_samples: int = 256
    eval_max_samples: int | None = 512
    uv_match_threshold: float = 0.0071

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig(**self.model))
        object.__setattr__(self, "scale_range", tuple(float(s) for s in self.scale_range))
        if self.steps <= 0 or self.batch_size <= 0:
            raise ValueError("steps and batch_size must be positive")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction {self.val_fraction} must lie in (0, 1)")

    def backbone_lr(self) -> float:
        """The backbone's learning rate, resolving the None default."""
        if self.lr_backbone is not None:
            return self.lr_backbone
        return PRETRAINED_BACKBONE_LR if self.model.backbone_weights else RANDOM_BACKBONE_LR

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (``TrainConfig.from_dict`` inverts it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict as ``to_dict`` writes it; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {sorted(unknown)}")
        return cls(**values)


UNHASHED_FIELDS = ("num_workers",)


def config_hash(config: TrainConfig, extra: str = "") -> str:
    """16-hex-digit key of everything that changes the trained result.

    Parameters
    ----------
    config : the run's configuration (``num_workers`` is left out: it changes speed only)
    extra : further identity to fold in (e.g. the uv mirror map's digest)
    """
    values = config.to_dict()
    for name in UNHASHED_FIELDS:
        values.pop(name)
    text = json.dumps(values, sort_keys=True) + "|" + extra
    return hashlib.sha256(text.encode()).hexdigest()[:16]
