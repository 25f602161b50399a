"""Atomic writes: the target is either the old file or the whole new one, never a part."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from atomicfile import FILE_MODE, atomic_path, write_atomic, write_bytes, write_json


def test_write_json_sorted_indented_with_final_newline_and_options(tmp_path):
    path = write_json(tmp_path / "deep" / "a.json", {"b": 1, "a": [1, 2]})
    text = path.read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}
    write_json(path, {"b": 1, "a": 2}, indent=1, sort_keys=False)
    assert path.read_text() == '{\n "b": 1,\n "a": 2\n}\n'
    assert os.stat(path).st_mode & 0o777 == FILE_MODE


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_bytes(tmp_path / "data.bin", b"old")

    def half_then_fail(temporary):
        temporary.write_bytes(b"new but incompl")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed"):
        write_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_temporary_is_hidden_beside_the_target_and_keeps_the_suffix_when_asked(tmp_path):
    target = tmp_path / "arrays.npz"
    with atomic_path(target, keep_suffix=True) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".arrays.npz.tmp-")
        assert temporary.suffix == ".npz" and str(os.getpid()) in temporary.name
        np.savez(temporary, x=np.arange(3))
        assert not target.exists()
    assert np.load(target)["x"].tolist() == [0, 1, 2]
