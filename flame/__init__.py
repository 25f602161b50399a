"""The FLAME morphable model: real FLAME files (read without chumpy), a torch layer, a stand-in."""

from flame.layer import FLAME, FlameOutput, axis_angle_to_matrix
from flame.model import FlameModel, ModelFileError, load_model
from flame.safe_pickle import UnsafePickleError

__all__ = [
    "FLAME",
    "FlameModel",
    "FlameOutput",
    "ModelFileError",
    "UnsafePickleError",
    "axis_angle_to_matrix",
    "load_model",
]
