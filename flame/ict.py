"""The ICT FaceKit light model (``../shared/data/ict_facekit_light.npz``): real face geometry.

It is the source of the FLAME-format stand-in (``flame.standin``) and of the synthetic scans.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_ICT_PATH = Path(
    os.environ.get(
        "FACEFACTORY_ICT",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "ict_facekit_light.npz",
    )
)
"""Where the ICT archive is looked for: ``$FACEFACTORY_ICT``, else ``../shared/data/`` beside
the repository."""

STANDIN_PARTS = ("face", "head_and_neck", "eyeball_left", "eyeball_right")
"""ICT parts a scanner sees; the stand-in keeps them, in this order, vertex order unchanged."""


@dataclass(frozen=True)
class IctModel:
    """The ICT model's arrays.

    Attributes
    ----------
    vertices : (N, 3) float64, metres, FLAME frame (N = 26719)
    faces : (M, 3) int64
    uv : (T, 2) float64, UDIM tiles (u in [0, 4))
    faces_uv : (M, 3) int64
    face_polygon : (M,) int64, source polygon of each triangle
    identity_modes : (100, N, 3) float32, metres per unit coefficient, coefficients ~ N(0, 1)
    expression_modes : (53, N, 3) float32, metres at weight 1, weights in [0, 1]
    expression_names : (53,) str
    landmarks68 : (68,) int64 vertex indices (Multi-PIE layout)
    part_names : (P,) str
    part_vertex_ranges, part_polygon_ranges : (P, 2) int64, [start, stop)
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    faces_uv: np.ndarray
    face_polygon: np.ndarray
    identity_modes: np.ndarray
    expression_modes: np.ndarray
    expression_names: np.ndarray
    landmarks68: np.ndarray
    part_names: np.ndarray
    part_vertex_ranges: np.ndarray
    part_polygon_ranges: np.ndarray
    license: str

    def mesh(self, id_coeffs: np.ndarray | None = None,
             expr_weights: np.ndarray | None = None) -> np.ndarray:
        """Vertices (N, 3) metres for identity coefficients (<=100,) and blend weights (<=53,)."""
        verts = self.vertices.copy()
        if id_coeffs is not None:
            k = len(id_coeffs)
            verts += np.tensordot(np.asarray(id_coeffs, np.float64),
                                  self.identity_modes[:k], axes=1)
        if expr_weights is not None:
            k = len(expr_weights)
            verts += np.tensordot(np.asarray(expr_weights, np.float64),
                                  self.expression_modes[:k], axes=1)
        return verts

    def part_vertices(self, name: str) -> np.ndarray:
        """Vertex indices (k,) of one part."""
        start, stop = self.part_vertex_ranges[list(self.part_names).index(name)]
        return np.arange(start, stop)

    def part_triangles(self, name: str) -> np.ndarray:
        """Boolean (M,) mask of the triangles of one part."""
        start, stop = self.part_polygon_ranges[list(self.part_names).index(name)]
        return (self.face_polygon >= start) & (self.face_polygon < stop)


def load_ict(path: str | Path | None = None) -> IctModel:
    """Read the ICT archive (default :data:`DEFAULT_ICT_PATH`)."""
    path = Path(path) if path is not None else DEFAULT_ICT_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: ICT FaceKit archive not found (expected ../shared/data/ beside the "
            "repository, or set FACEFACTORY_ICT)"
        )
    with np.load(path, allow_pickle=False) as data:
        return IctModel(
            vertices=data["vertices"].astype(np.float64),
            faces=data["faces"].astype(np.int64),
            uv=data["uv"].astype(np.float64),
            faces_uv=data["faces_uv"].astype(np.int64),
            face_polygon=data["face_polygon"].astype(np.int64),
            identity_modes=data["identity_modes"].astype(np.float32),
            expression_modes=data["expression_modes"].astype(np.float32),
            expression_names=data["expression_names"],
            landmarks68=data["landmarks68"].astype(np.int64),
            part_names=data["part_names"],
            part_vertex_ranges=data["part_vertex_ranges"].astype(np.int64),
            part_polygon_ranges=data["part_polygon_ranges"].astype(np.int64),
            license=str(data["license"]),
        )


def standin_vertex_ids(ict: IctModel) -> np.ndarray:
    """ICT vertex index (V,) of each stand-in vertex (parts of :data:`STANDIN_PARTS`, in order)."""
    return np.concatenate([ict.part_vertices(name) for name in STANDIN_PARTS])


def standin_triangles(ict: IctModel) -> np.ndarray:
    """Boolean (M,) mask of the ICT triangles the stand-in keeps."""
    keep = np.zeros(len(ict.faces), dtype=bool)
    for name in STANDIN_PARTS:
        keep |= ict.part_triangles(name)
    return keep
