"""Inference: load a checkpoint, predict normal and uv maps for images, write them.

Outputs per image ``<stem>``: ``<stem>_normal.png`` ((n + 1) / 2 in RGB, model frame),
``<stem>_uv.png`` (u in R, v in G, B = 0; u and v as stored in the template uv, *not*
Pixel3DMM's (u, 1 - v)), ``<stem>_normal.npy`` (H, W, 3) float32 and ``<stem>_uv.npy``
(H, W, 2) float32, at the model's resolution (a non-square image padded with black to a
centred square first). ``python -m network predict --convention
pixel3dmm`` writes Pixel3DMM's frame layout instead (:mod:`faces.pixel3dmm`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from atomicfile import write_atomic
from network.checkpoint import CheckpointError, load_checkpoint
from network.config import TrainConfig, config_hash
from network.model import NormalUvPredictor
from network.uv_mirror import UvMirror
from rgbimage import read_rgb


def load_predictor(checkpoint: Path, expected_config: TrainConfig | None = None,
                   device: str = "cpu"
                   ) -> tuple[NormalUvPredictor, UvMirror | None, TrainConfig]:
    """Rebuild the trained model from a checkpoint.

    Parameters
    ----------
    checkpoint : a ``step-*.pt`` file written by training
    expected_config : when given, the checkpoint must come from this config (else
        CheckpointError)
    device : where the model goes

    Returns
    -------
    model (eval mode), its uv mirror map (None when trained without), its TrainConfig
    """
    state = load_checkpoint(checkpoint)
    try:
        config = TrainConfig.from_dict(state["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint}: config in checkpoint is invalid: {error}") from error
    mirror = UvMirror(state["uv_mirror"].numpy()) if state["uv_mirror"] is not None else None
    extra = f"{mirror.digest() if mirror is not None else ''}|{state['data_key']}"
    stored_identity = config_hash(config, extra)
    if stored_identity != state["config_hash"]:
        raise CheckpointError(f"{checkpoint}: config hash {state['config_hash']} does not match "
                              f"its stored config ({stored_identity})")
    if expected_config is not None:
        expected = config_hash(expected_config, extra)
        if expected != state["config_hash"]:
            raise CheckpointError(f"{checkpoint}: checkpoint is from config "
                                  f"{state['config_hash']}, the given config is {expected}")
    model = NormalUvPredictor(config.model, state["backbone_config"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{checkpoint}: weights do not fit the architecture of its "
                              f"config: {str(error).splitlines()[0]}") from error
    return model.to(device).eval(), mirror, config


def read_image(path: Path, resolution: int) -> torch.Tensor:
    """Read an image file (:func:`rgbimage.read_rgb`; ImageError naming the file) as float32
    (3, resolution, resolution) in [0, 1]: a non-square image is padded with black to a
    centred square first (never squashed), then resized (bilinear, antialiased)."""
    rgb = read_rgb(path)
    height, width = rgb.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = rgb
    image = Image.fromarray(square).resize((resolution, resolution), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def predict(model: NormalUvPredictor, rgb: torch.Tensor, flip_tta: bool = False,
            uv_mirror: UvMirror | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """rgb (B, 3, R, R) -> normals (B, 3, R, R), uv (B, 2, R, R).

    With ``flip_tta`` the mirrored image is predicted too and mapped back (normal x negated,
    uv through ``uv_mirror``) and averaged; uv is averaged only where the mirror map is
    defined, and not at all without one.
    """
    with torch.no_grad():
        normals, uv = model(rgb)
        if not flip_tta:
            return normals, uv
        normals_f, uv_f = model(torch.flip(rgb, dims=[-1]))
        normals_f = torch.flip(normals_f, dims=[-1]) * torch.tensor(
            [-1.0, 1.0, 1.0], device=rgb.device).view(1, 3, 1, 1)
        normals = torch.nn.functional.normalize(normals + normals_f, dim=1, eps=1e-6)
        if uv_mirror is None:
            return normals, uv
        uv_f = torch.flip(uv_f, dims=[-1]).cpu()
        averaged = []
        for index in range(uv.shape[0]):
            mirrored, defined = uv_mirror(uv_f[index])
            mirrored = mirrored.to(uv.device)
            defined = defined.to(uv.device)
            averaged.append(torch.where(defined, 0.5 * (uv[index] + mirrored), uv[index]))
        return normals, torch.stack(averaged)


def predict_image(model: NormalUvPredictor, rgb: np.ndarray, resolution: int,
                  device: str = "cpu", flip_tta: bool = False,
                  uv_mirror: UvMirror | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maps of an (H, W, 3) uint8 image at its own size: resized to the network's
    ``resolution`` (bilinear, antialiased), predicted, resized back (bilinear; normals
    renormalised). Returns normals (H, W, 3) unit, uv (H, W, 2), float32."""
    import torch.nn.functional as F

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    image = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
    image = image.float() / 255.0
    if (height, width) != (resolution, resolution):
        image = F.interpolate(image, size=(resolution, resolution), mode="bilinear",
                              align_corners=False, antialias=True)
    normals, uv = predict(model, image, flip_tta=flip_tta, uv_mirror=uv_mirror)
    if (height, width) != (resolution, resolution):
        normals = F.normalize(F.interpolate(normals, size=(height, width), mode="bilinear",
                                            align_corners=False), dim=1, eps=1e-6)
        uv = F.interpolate(uv, size=(height, width), mode="bilinear", align_corners=False)
    return (normals[0].permute(1, 2, 0).cpu().numpy().astype(np.float32),
            uv[0].permute(1, 2, 0).cpu().numpy().astype(np.float32))


def write_prediction(out_dir: Path, stem: str, normals: torch.Tensor, uv: torch.Tensor) -> None:
    """Write one image's maps (normals (3, H, W), uv (2, H, W)) as PNG and .npy atomically."""
    normals_hwc = normals.permute(1, 2, 0).cpu().numpy().astype(np.float32)
    uv_hwc = uv.permute(1, 2, 0).cpu().numpy().astype(np.float32)
    normal_png = np.round((normals_hwc + 1.0) * 0.5 * 255.0).clip(0, 255).astype(np.uint8)
    uv_png = np.zeros((*uv_hwc.shape[:2], 3), dtype=np.uint8)
    uv_png[..., :2] = np.round(uv_hwc * 255.0).clip(0, 255).astype(np.uint8)
    out_dir = Path(out_dir)
    write_atomic(out_dir / f"{stem}_normal.png",
                 lambda tmp: Image.fromarray(normal_png).save(tmp, format="PNG"))
    write_atomic(out_dir / f"{stem}_uv.png",
                 lambda tmp: Image.fromarray(uv_png).save(tmp, format="PNG"))
    for name, array in (("normal", normals_hwc), ("uv", uv_hwc)):
        def save(tmp: Path, array: np.ndarray = array) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, array)
        write_atomic(out_dir / f"{stem}_{name}.npy", save)
