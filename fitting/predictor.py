"""Normal and uv maps for an image from a trained network checkpoint (``network.predict``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

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
    from network.predict import load_predictor, predict_image

    model, mirror, config = load_predictor(Path(checkpoint), device=device)
    resolution = config.model.resolution

    def predict_maps(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return predict_image(model, rgb, resolution, device, flip_tta, mirror)

    return predict_maps
