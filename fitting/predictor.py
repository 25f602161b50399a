"""Normal and uv maps for an image from a trained network checkpoint (``network.predict``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

MapPredictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""rgb (H, W, 3) uint8 -> (normal (H, W, 3) unit, model frame; uv (H, W, 2)) at image size."""


def network_predictor(checkpoint: Path, device: str = "cpu",
                      flip_tta: bool = False) -> MapPredictor:
    """A :data:`MapPredictor` running the network of ``checkpoint``.

    The image is resized to the network's resolution (bilinear, antialiased) and the maps
    are resized back to the image (bilinear; normals renormalised).

    Raises
    ------
    network.checkpoint.CheckpointError naming the file when it is not a usable checkpoint
    """
    from network.predict import load_predictor, predict

    model, mirror, config = load_predictor(Path(checkpoint), device=device)
    resolution = config.model.resolution

    def predict_maps(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        image = torch.from_numpy(rgb).to(device).permute(2, 0, 1)[None].float() / 255.0
        if (height, width) != (resolution, resolution):
            image = F.interpolate(image, size=(resolution, resolution), mode="bilinear",
                                  align_corners=False, antialias=True)
        normals, uv = predict(model, image, flip_tta=flip_tta, uv_mirror=mirror)
        if (height, width) != (resolution, resolution):
            normals = F.normalize(F.interpolate(normals, size=(height, width), mode="bilinear",
                                                align_corners=False), dim=1, eps=1e-6)
            uv = F.interpolate(uv, size=(height, width), mode="bilinear", align_corners=False)
        return (normals[0].permute(1, 2, 0).cpu().numpy().astype(np.float32),
                uv[0].permute(1, 2, 0).cpu().numpy().astype(np.float32))

    return predict_maps
