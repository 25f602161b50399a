"""The FLAME morphable model: real FLAME files (read without chumpy), a torch layer, a stand-in."""

from flame.layer import FLAME, FlameOutput
from flame.model import FlameModel, ModelFileError, load_model
from flame.safe_pickle import UnsafePickleError

__all__ = [
    "FLAME",
    "FlameModel",
    "FlameOutput",
    "ModelFileError",
    "UnsafePickleError",
    "load_model",
]
