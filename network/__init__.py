"""DINOv2 normal and uv predictor (Pixel3DMM-style): model, losses, training, inference.

The pipeline calls ``network.train(config, shard_paths, out_dir, device)``; tests and other
data sources call ``train_on_dataset`` with any Dataset of the shard item contract.
"""

from network.config import ModelConfig, TrainConfig, config_hash
from network.train import TrainResult, train, train_on_dataset
from network.uv_mirror import UvMirror

__all__ = ["ModelConfig", "TrainConfig", "TrainResult", "UvMirror", "config_hash", "train",
           "train_on_dataset"]
