"""The FLAME model as plain numpy arrays, read from the real files (or the stand-in).

``load_model(path)`` reads the model pickle (2020 ``generic_model.pkl`` or 2023
``flame2023.pkl``) through the allow-listed unpickler and looks beside it for the uv layout
(``head_template.obj``), the landmark embedding (``landmark_embedding.npy`` or
``flame_static_embedding.pkl``) and the region masks (``FLAME_masks.pkl``).
Sizes (vertices, components, joints) always come from the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse

from flame.obj_uv import ObjFormatError, read_obj_uv
from flame.safe_pickle import SKIPPED, UnsafePickleError, load_npy_pickle, load_pickle

FLAME_SHAPE_COLUMNS = 300
"""FLAME's ``shapedirs`` hold this many identity columns before the expression columns."""

REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights",
                 "kintree_table")
UV_FILES = ("head_template.obj", "head_template_mesh.obj")
LANDMARK_FILES = ("landmark_embedding.npy", "flame_static_embedding.pkl")
MASK_FILE = "FLAME_masks.pkl"


class ModelFileError(ValueError):
    """A FLAME file is missing, refused, truncated or has a wrong key or shape."""


@dataclass(frozen=True)
class FlameModel:
    """A FLAME-format morphable model.

    Attributes
    ----------
    v_template : (V, 3) float64, metres, FLAME frame (x subject's left, y up, z out of face)
    faces : (F, 3) int64
    shapedirs : (V, 3, S) float64, identity blendshapes (metres per unit coefficient)
    exprdirs : (V, 3, E) float64, expression blendshapes
    posedirs : (V, 3, 9 * (J - 1)) float64, pose-corrective blendshapes
    j_regressor : (J, V) float64, dense
    weights : (V, J) float64, skinning weights (rows sum to 1)
    parents : (J,) int64, parent joint of each joint (-1 for the root)
    vt : (T, 2) float64 or None, template uv
    ft : (F, 3) int64 or None, uv index per face corner
    lmk_faces : (L,) int64 or None, face index of each landmark
    lmk_bary : (L, 3) float64 or None, barycentric coordinates in that face
    masks : dict of str -> (k,) int64 vertex indices (empty when no mask file)
    shape_used, expr_used : number of non-zero identity / expression columns
    source : path of the model pickle
    """

    v_template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    exprdirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    vt: np.ndarray | None = None
    ft: np.ndarray | None = None
    lmk_faces: np.ndarray | None = None
    lmk_bary: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    shape_used: int = 0
    expr_used: int = 0
    source: str = ""

    @property
    def n_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def n_joints(self) -> int:
        return int(self.j_regressor.shape[0])

    def vertex_uv(self) -> np.ndarray:
        """One uv (V, 2) per vertex: that of the first face corner using it (uv has seams).

        Raises ModelFileError when the model has no uv layout.
        """
        if self.vt is None or self.ft is None:
            raise ModelFileError(f"{self.source}: no uv layout (head_template.obj) beside it")
        index = np.zeros(self.n_vertices, dtype=np.int64)
        index[self.faces[::-1].ravel()] = self.ft[::-1].ravel()
        return self.vt[index]

    def summary(self) -> dict:
        """JSON-ready description (sizes, and which side files were found)."""
        return {
            "source": self.source,
            "vertices": self.n_vertices,
            "faces": int(self.faces.shape[0]),
            "identity_components": int(self.shapedirs.shape[2]),
            "identity_components_nonzero": self.shape_used,
            "expression_components": int(self.exprdirs.shape[2]),
            "expression_components_nonzero": self.expr_used,
            "joints": self.n_joints,
            "uv": self.vt is not None,
            "uv_coords": None if self.vt is None else int(self.vt.shape[0]),
            "landmarks": None if self.lmk_faces is None else int(self.lmk_faces.shape[0]),
            "masks": sorted(self.masks),
        }


def _array(raw: dict, key: str, path: Path, ndim: int, dtype: type = np.float64) -> np.ndarray:
    value = raw[key]
    if scipy.sparse.issparse(value):
        value = value.toarray()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: key '{key}' is not numeric: {exc}") from exc
    if array.ndim != ndim:
        raise ModelFileError(
            f"{path}: key '{key}' has shape {array.shape}, expected {ndim} dimensions"
        )
    if not np.all(np.isfinite(array)):
        raise ModelFileError(f"{path}: key '{key}' holds NaN or infinite values")
    return array


def _nonzero_columns(dirs: np.ndarray) -> int:
    if dirs.shape[-1] == 0:
        return 0
    norms = np.abs(dirs).reshape(-1, dirs.shape[-1]).max(axis=0)
    nonzero = np.flatnonzero(norms > 0)
    return int(nonzero[-1] + 1) if nonzero.size else 0


def _parents(kintree: np.ndarray) -> np.ndarray:
    parents = kintree[0].astype(np.int64)
    parents[0] = -1
    return parents


def _load_dict(path: Path, what: str) -> dict:
    """A pickle from a user path, through the allow-list, that must hold a dict."""
    try:
        raw = load_pickle(path)
    except UnsafePickleError as exc:
        raise ModelFileError(str(exc)) from exc
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: {what} (a {type(raw).__name__}, not a dict)")
    return raw


def _read_model_pickle(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"{path}: FLAME model file not found")
    raw = _load_dict(path, "not a FLAME model")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ModelFileError(f"{path}: not a FLAME model, missing keys {missing}")
    return raw


def _core_arrays(raw: dict, path: Path) -> dict:
    v_template = _array(raw, "v_template", path, 2)
    n_vertices = v_template.shape[0]
    faces = _array(raw, "f", path, 2, np.int64)
    shapedirs = _array(raw, "shapedirs", path, 3)
    posedirs = _array(raw, "posedirs", path, 3)
    j_regressor = _array(raw, "J_regressor", path, 2)
    weights = _array(raw, "weights", path, 2)
    kintree = _array(raw, "kintree_table", path, 2, np.int64)
    n_joints = j_regressor.shape[0]
    expected = {
        "v_template": (v_template.shape, (n_vertices, 3)),
        "f": (faces.shape[1:], (3,)),
        "shapedirs": (shapedirs.shape[:2], (n_vertices, 3)),
        "posedirs": (posedirs.shape, (n_vertices, 3, 9 * (n_joints - 1))),
        "J_regressor": (j_regressor.shape, (n_joints, n_vertices)),
        "weights": (weights.shape, (n_vertices, n_joints)),
        "kintree_table": (kintree.shape, (2, n_joints)),
    }
    for key, (got, want) in expected.items():
        if tuple(got) != tuple(want):
            raise ModelFileError(f"{path}: key '{key}' has shape {got}, expected {want}")
    if faces.min() < 0 or faces.max() >= n_vertices:
        raise ModelFileError(f"{path}: key 'f' indexes vertices outside 0..{n_vertices - 1}")
    n_shape = min(FLAME_SHAPE_COLUMNS, shapedirs.shape[2])
    return {
        "v_template": v_template,
        "faces": faces,
        "shapedirs": shapedirs[:, :, :n_shape],
        "exprdirs": shapedirs[:, :, n_shape:],
        "posedirs": posedirs,
        "j_regressor": j_regressor,
        "weights": weights,
        "parents": _parents(kintree),
    }


def _read_uv(folder: Path, n_vertices: int, n_faces: int) -> tuple[np.ndarray | None, ...]:
    for name in UV_FILES:
        path = folder / name
        if path.is_file():
            try:
                obj = read_obj_uv(path)
            except ObjFormatError as exc:
                raise ModelFileError(str(exc)) from exc
            if len(obj.vertices) != n_vertices or len(obj.faces) != n_faces:
                raise ModelFileError(
                    f"{path}: {len(obj.vertices)} vertices / {len(obj.faces)} faces, but the "
                    f"model has {n_vertices} / {n_faces}"
                )
            return obj.vt, obj.ft
    return None, None


def _read_landmarks(folder: Path, n_faces: int) -> tuple[np.ndarray | None, ...]:
    for name in LANDMARK_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            raw = load_npy_pickle(path) if path.suffix == ".npy" else load_pickle(path)
        except UnsafePickleError as exc:
            raise ModelFileError(str(exc)) from exc
        if not isinstance(raw, dict):
            raise ModelFileError(f"{path}: expected a dict of landmark arrays")
        if "full_lmk_faces_idx" in raw and raw["full_lmk_faces_idx"] is not SKIPPED:
            faces = np.asarray(raw["full_lmk_faces_idx"], dtype=np.int64).reshape(-1)
            bary = np.asarray(raw["full_lmk_bary_coords"], dtype=np.float64).reshape(-1, 3)
        elif "static_lmk_faces_idx" in raw:
            faces = np.asarray(raw["static_lmk_faces_idx"], dtype=np.int64).reshape(-1)
            bary = np.asarray(raw["static_lmk_bary_coords"], dtype=np.float64).reshape(-1, 3)
        elif "lmk_face_idx" in raw:
            faces = np.asarray(raw["lmk_face_idx"], dtype=np.int64).reshape(-1)
            bary = np.asarray(raw["lmk_b_coords"], dtype=np.float64).reshape(-1, 3)
        else:
            raise ModelFileError(f"{path}: no landmark face indices found (keys {sorted(raw)})")
        if len(faces) != len(bary) or faces.min() < 0 or faces.max() >= n_faces:
            raise ModelFileError(f"{path}: landmark faces out of range or mismatched")
        return faces, bary
    return None, None


def _read_masks(folder: Path, n_vertices: int) -> dict[str, np.ndarray]:
    path = folder / MASK_FILE
    if not path.is_file():
        return {}
    raw = _load_dict(path, "expected a dict of vertex-index arrays")
    masks = {}
    for name, indices in raw.items():
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= n_vertices):
            raise ModelFileError(f"{path}: mask '{name}' indexes vertices outside the model")
        masks[str(name)] = indices
    return masks


def load_model(path: str | Path) -> FlameModel:
    """Load a FLAME model pickle and the uv, landmark and mask files beside it.

    Parameters
    ----------
    path : str or Path
        The model pickle (``generic_model.pkl``, ``flame2023.pkl``, the stand-in's
        ``generic_model.pkl``), or a folder holding exactly one of those.

    Returns
    -------
    FlameModel

    Raises
    ------
    ModelFileError
        Naming the file and the problem (missing, refused global, missing key, shape).
    """
    path = Path(path)
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.pkl") if p.name != MASK_FILE
                            and p.name != "flame_static_embedding.pkl")
        if len(candidates) != 1:
            raise ModelFileError(
                f"{path}: expected one model pickle in the folder, found "
                f"{[p.name for p in candidates]}"
            )
        path = candidates[0]
    raw = _read_model_pickle(path)
    core = _core_arrays(raw, path)
    vt, ft = _read_uv(path.parent, core["v_template"].shape[0], core["faces"].shape[0])
    lmk_faces, lmk_bary = _read_landmarks(path.parent, core["faces"].shape[0])
    masks = _read_masks(path.parent, core["v_template"].shape[0])
    return FlameModel(
        **core,
        vt=vt,
        ft=ft,
        lmk_faces=lmk_faces,
        lmk_bary=lmk_bary,
        masks=masks,
        shape_used=_nonzero_columns(core["shapedirs"]),
        expr_used=_nonzero_columns(core["exprdirs"]),
        source=str(path),
    )
