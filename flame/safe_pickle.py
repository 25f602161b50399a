"""Restricted unpickling for FLAME files: plain data only, never code.

FLAME's pickles (2020 ``generic_model.pkl``, 2023 ``flame2023.pkl``) are Python 2 pickles
that hold numpy arrays, a scipy sparse matrix and ``chumpy`` objects; ``landmark_embedding.npy``
is a ``.npy`` file whose payload is such a pickle (with torch tensors inside). Every global a
pickle names is looked up in an allow-list; anything else (``os.system``, ``builtins.eval``...)
raises :class:`UnsafePickleError` naming the file and the global. chumpy objects become numpy
arrays, sparse matrices are rebuilt from their parts, torch tensors become :data:`SKIPPED`.
"""

from __future__ import annotations

import codecs
import copyreg
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse


class UnsafePickleError(ValueError):
    """A pickle names a global outside the allow-list, or is not a pickle we can read."""


class _Skipped:
    """Marker for values that cannot be rebuilt without running code (torch tensors)."""

    def __repr__(self) -> str:
        return "SKIPPED"

    def __reduce__(self) -> str:
        return "SKIPPED"


SKIPPED = _Skipped()


class _ChumpyStandIn:
    """Receives the state of a pickled ``chumpy`` object; :func:`_plain` turns it into numpy."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _SparseStandIn:
    """Receives the ``__dict__`` of a pickled scipy sparse matrix (any scipy version)."""

    format_name = "csc"

    def __setstate__(self, state: dict) -> None:
        self.state = state


def _sparse_class(format_name: str) -> type:
    return type(f"_{format_name}StandIn", (_SparseStandIn,), {"format_name": format_name})


def _skip(*_args: Any, **_kwargs: Any) -> _Skipped:
    return SKIPPED


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to the stand-in classes above and plain objects."""
    if isinstance(cls, type) and issubclass(cls, (_ChumpyStandIn, _SparseStandIn)):
        return cls.__new__(cls)
    return copyreg._reconstructor(cls, base, state)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    from numpy.lib import format as _np_format  # noqa: F401  (ensures numpy._core is loaded)

    multiarray = np._core.multiarray
    entries: dict[tuple[str, str], Any] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries[(module, "_reconstruct")] = multiarray._reconstruct
        entries[(module, "scalar")] = multiarray.scalar
    for module in ("numpy", "numpy.core", "numpy._core"):
        entries[(module, "ndarray")] = np.ndarray
        entries[(module, "dtype")] = np.dtype
    entries[("numpy.core.numeric", "_frombuffer")] = np._core.numeric._frombuffer
    entries[("numpy._core.numeric", "_frombuffer")] = np._core.numeric._frombuffer
    return entries


def _allow_list() -> dict[tuple[str, str], Any]:
    allowed = _numpy_globals()
    allowed[("copy_reg", "_reconstructor")] = _reconstructor
    allowed[("copyreg", "_reconstructor")] = _reconstructor
    allowed[("__builtin__", "object")] = object
    allowed[("builtins", "object")] = object
    for module in ("__builtin__", "builtins"):
        allowed[(module, "set")] = set
        allowed[(module, "frozenset")] = frozenset
    allowed[("_codecs", "encode")] = codecs.encode
    for fmt in ("csc", "csr", "coo"):
        cls = _sparse_class(fmt)
        for module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse"):
            allowed[(module, f"{fmt}_matrix")] = cls
            allowed[(module, f"{fmt}_array")] = cls
    for module, name in (
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch.storage", "_load_from_bytes"),
        ("torch._tensor", "_rebuild_from_type_v2"),
    ):
        allowed[(module, name)] = _skip
    return allowed


_ALLOWED = _allow_list()
_CHUMPY_MODULES = ("chumpy.ch", "chumpy.ch_ops", "chumpy.reordering", "chumpy.linalg", "chumpy")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BufferedIOBase, source: str) -> None:
        super().__init__(stream, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module in _CHUMPY_MODULES:
            return type(name, (_ChumpyStandIn,), {"chumpy_class": f"{module}.{name}"})
        raise UnsafePickleError(
            f"{self.source}: refusing to unpickle global '{module}.{name}' "
            "(not on the allow-list of numpy/scipy/chumpy data types)"
        )

    def persistent_load(self, pid: Any) -> Any:
        return SKIPPED


def _sparse_to_scipy(obj: _SparseStandIn, source: str) -> scipy.sparse.csc_matrix:
    state = obj.state
    shape = tuple(state.get("_shape") or state.get("shape"))
    if obj.format_name == "coo":
        rows = state.get("row", state.get("coords", [None, None])[0])
        cols = state.get("col", state.get("coords", [None, None])[1])
        matrix = scipy.sparse.coo_matrix((state["data"], (rows, cols)), shape=shape)
        return matrix.tocsc()
    parts = (np.asarray(state["data"]), np.asarray(state["indices"]), np.asarray(state["indptr"]))
    if obj.format_name == "csr":
        return scipy.sparse.csr_matrix(parts, shape=shape).tocsc()
    return scipy.sparse.csc_matrix(parts, shape=shape)


def _plain(value: Any, source: str, key: str = "") -> Any:
    """Replace stand-in objects by numpy arrays / scipy matrices, recursively."""
    if isinstance(value, _SparseStandIn):
        return _sparse_to_scipy(value, source)
    if isinstance(value, _ChumpyStandIn):
        state = getattr(value, "state", None)
        if isinstance(state, dict) and "x" in state:
            return np.asarray(_plain(state["x"], source, key))
        raise UnsafePickleError(
            f"{source}: chumpy object '{getattr(value, 'chumpy_class', '?')}' at key '{key}' "
            "holds a derived expression, not a value; re-save the file with plain arrays"
        )
    if isinstance(value, dict):
        return {k: _plain(v, source, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, source, key) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v, source, key) for v in value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        flat = [_plain(v, source, key) for v in value.ravel()]
        if value.ndim == 0:
            return flat[0]
        out = np.empty(value.shape, dtype=object)
        out.ravel()[:] = flat
        return out
    return value


def _load_stream(stream: io.BufferedIOBase, source: str) -> Any:
    try:
        raw = _RestrictedUnpickler(stream, source).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError) as exc:
        raise UnsafePickleError(
            f"{source}: not a readable pickle (truncated or corrupt?): {exc}"
        ) from exc
    return _plain(raw, source)


def load_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` with the allow-list.

    Parameters
    ----------
    path : str or Path
        A ``.pkl`` file (Python 2 or 3 pickle).

    Returns
    -------
    object
        The unpickled value with chumpy objects as numpy arrays and sparse matrices as
        ``scipy.sparse.csc_matrix``.
    """
    path = Path(path)
    with open(path, "rb") as stream:
        return _load_stream(stream, str(path))


def load_npy_pickle(path: str | Path) -> Any:
    """Read a ``.npy`` file whose payload is a pickled object (e.g. ``landmark_embedding.npy``).

    The header is parsed with numpy's format reader; the payload goes through the same
    allow-list as :func:`load_pickle`, never through ``np.load(allow_pickle=True)``.
    A plain numeric ``.npy`` is returned as an array.
    """
    path = Path(path)
    with open(path, "rb") as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            _shape, _fortran, dtype = read_header(stream)
        except ValueError as exc:
            raise UnsafePickleError(f"{path}: not a .npy file: {exc}") from exc
        if not dtype.hasobject:
            stream.seek(0)
            return np.load(stream, allow_pickle=False)
        value = _load_stream(stream, str(path))
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        return value.item()
    return value
