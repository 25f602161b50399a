"""The FLAME loader: real-file quirks (Python 2 pickles, chumpy, sparse), refusal of code."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from flame import ModelFileError, load_model
from flame.safe_pickle import UnsafePickleError, load_npy_pickle, load_pickle

REPO = Path(__file__).resolve().parents[1]


def _tiny_model_dict(n_vertices: int = 6, n_joints: int = 5) -> dict:
    rng = np.random.default_rng(0)
    return {
        "v_template": rng.normal(size=(n_vertices, 3)),
        "f": np.array([[0, 1, 2], [2, 3, 4], [3, 4, 5]], dtype=np.uint32),
        "shapedirs": rng.normal(size=(n_vertices, 3, 12)),
        "posedirs": np.zeros((n_vertices, 3, 9 * (n_joints - 1))),
        "J_regressor": scipy.sparse.csc_matrix(np.full((n_joints, n_vertices), 1 / n_vertices)),
        "weights": np.full((n_vertices, n_joints), 1.0 / n_joints),
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
        "bs_style": "lbs",
    }


@pytest.fixture()
def fake_chumpy(monkeypatch: pytest.MonkeyPatch) -> type:
    """A module ``chumpy.ch`` with a ``Ch`` class pickled the way chumpy pickles (state dict)."""
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self._dirty_vars = set()

        def __getstate__(self) -> dict:
            return {"x": self.x, "_dirty_vars": self._dirty_vars}

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch.Ch = Ch
    chumpy.ch = ch
    monkeypatch.setitem(sys.modules, "chumpy", chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch)
    return Ch


def test_chumpy_objects_load_as_arrays_without_chumpy(tmp_path, fake_chumpy, monkeypatch):
    model = _tiny_model_dict()
    shapedirs = model["shapedirs"]
    model["shapedirs"] = fake_chumpy(shapedirs)
    model["v_template"] = fake_chumpy(model["v_template"])
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.shapedirs, shapedirs)
    assert loaded.j_regressor.shape == (5, 6)
    assert loaded.shapedirs.shape[2] == 12 and loaded.exprdirs.shape[2] == 0


def test_python2_style_latin1_bytes_and_python3_codecs_both_load(tmp_path):
    array = np.arange(12, dtype=np.float64).reshape(4, 3)
    py3 = tmp_path / "py3.pkl"
    py3.write_bytes(pickle.dumps({"a": array}, protocol=2))  # bytes -> _codecs.encode
    assert b"_codecs" in py3.read_bytes()
    np.testing.assert_array_equal(load_pickle(py3)["a"], array)
    # A Python 2 pickle stores the raw array bytes as a str (opcode SHORT_BINSTRING/BINSTRING).
    py2 = tmp_path / "py2.pkl"
    py2.write_bytes(_python2_array_pickle(array))
    np.testing.assert_array_equal(load_pickle(py2)["a"], array)


def _python2_array_pickle(array: np.ndarray) -> bytes:
    """Hand-assembled protocol-2 pickle as Python 2 numpy writes it (raw bytes as a str)."""
    data = array.tobytes()
    out = io.BytesIO()
    out.write(b"\x80\x02}q\x00U\x01aq\x01")  # PROTO 2, EMPTY_DICT, key 'a'
    out.write(b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85q\x04")
    out.write(b"U\x01b\x87q\x05Rq\x06(K\x01K\x04K\x03\x86q\x07cnumpy\ndtype\nq\x08U\x02f8K\x00K\x01")
    out.write(b"\x87q\tRq\n(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x0bb\x89")
    out.write(b"T" + len(data).to_bytes(4, "little") + data)
    out.write(b"tq\x0cbs.")
    return out.getvalue()


def test_forbidden_global_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (__import__("os").system, (f"touch {marker}",))

    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2))
    with pytest.raises(ModelFileError, match=r"generic_model\.pkl.*(posix|os)\.system"):
        load_model(path)
    assert not marker.exists()


def test_npy_with_pickled_payload_is_unpickled_through_the_allow_list(tmp_path):
    class Evil:
        def __reduce__(self):
            return (eval, ("1+1",))

    holder = np.empty((), dtype=object)
    holder[()] = {"x": Evil()}
    path = tmp_path / "landmark_embedding.npy"
    np.save(path, holder, allow_pickle=True)
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_npy_pickle(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("weights"), "missing keys"),
        (lambda d: d.update(weights=np.ones((3, 5))), "'weights' has shape"),
        (lambda d: d.update(v_template=np.full((6, 3), np.nan)), "NaN"),
    ],
)
def test_bad_model_files_name_the_problem(tmp_path, mutate, message):
    model = _tiny_model_dict()
    mutate(model)
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_truncated_and_non_flame_pickles_are_refused(tmp_path):
    payload = pickle.dumps(_tiny_model_dict(), protocol=2)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(truncated)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ModelFileError, match="not a FLAME model"):
        load_model(other)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.pkl")


def test_info_cli_prints_json_and_fails_on_refused_file(standin_model_path, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "flame", "info", str(standin_model_path)],
                        capture_output=True, text=True, cwd=REPO, check=False)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["uv"] and summary["landmarks"] == 68 and "face" in summary["masks"]
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle")
    failed = subprocess.run([sys.executable, "-m", "flame", "info", str(bad)],
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert failed.returncode != 0 and "bad.pkl" in failed.stderr
