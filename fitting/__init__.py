"""FLAME fitting from predicted uv and normal maps, and the reconstruction benchmark.

Public API: :class:`FaceFitter`, :class:`FitInputs`, :class:`FitResult`, :class:`FitError`,
:class:`FitSettings`, :class:`EvalSettings`, :func:`match_vertices`, :class:`VertexUV`,
:func:`umeyama`, :func:`aligned_error`, :func:`evaluate`, :func:`evaluate_samples`,
:class:`TruthMesh`, :func:`truth_from_npz`, :func:`fit_image`, :func:`fit_photo`,
:class:`PhotoFit`, :func:`network_predictor`.
"""

from fitting.align import ALIGNMENT_LANDMARKS, Similarity, umeyama
from fitting.evaluate import TruthMesh, evaluate, evaluate_samples, truth_from_npz
from fitting.fit import FaceFitter, FitError, FitInputs, FitResult
from fitting.image_fit import fit_image
from fitting.metrics import aligned_error, point_to_surface
from fitting.photo_fit import PhotoFit, fit_photo
from fitting.predictor import MapPredictor, network_predictor
from fitting.settings import EvalSettings, FitSettings
from fitting.uv_match import UvMatches, VertexUV, match_vertices

__all__ = [
    "ALIGNMENT_LANDMARKS", "EvalSettings", "FaceFitter", "FitError", "FitInputs", "FitResult",
    "FitSettings", "MapPredictor", "PhotoFit", "Similarity", "TruthMesh",
    "UvMatches", "VertexUV", "aligned_error", "evaluate", "evaluate_samples", "fit_image",
    "fit_photo", "match_vertices", "network_predictor", "point_to_surface", "truth_from_npz",
    "umeyama",
]
