"""Read and write the uv layout of ``head_template.obj`` (positions, ``vt``, uv faces)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ObjUV:
    """A triangle mesh with per-corner texture coordinates.

    Attributes
    ----------
    vertices : (V, 3) float64, metres
    faces : (F, 3) int64, vertex indices
    vt : (T, 2) float64, uv in [0, 1] as stored in the file (v up)
    ft : (F, 3) int64, indices into ``vt`` per face corner
    """

    vertices: np.ndarray
    faces: np.ndarray
    vt: np.ndarray
    ft: np.ndarray


class ObjFormatError(ValueError):
    """The OBJ file is missing, truncated or has no uv faces."""


def read_obj_uv(path: str | Path) -> ObjUV:
    """Parse an OBJ with ``v``, ``vt`` and triangular ``f v/vt[/vn]`` lines."""
    path = Path(path)
    vertices: list[list[float]] = []
    vt: list[list[float]] = []
    faces: list[list[int]] = []
    ft: list[list[int]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ObjFormatError(f"{path}: cannot read: {exc}") from exc
    for line_no, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                vertices.append([float(x) for x in parts[1:4]])
            elif parts[0] == "vt":
                vt.append([float(x) for x in parts[1:3]])
            elif parts[0] == "f":
                corners = [p.split("/") for p in parts[1:]]
                if len(corners) != 3 or any(len(c) < 2 or not c[1] for c in corners):
                    raise ObjFormatError(
                        f"{path}:{line_no}: expected a triangle with uv indices (f v/vt v/vt v/vt)"
                    )
                faces.append([int(c[0]) - 1 for c in corners])
                ft.append([int(c[1]) - 1 for c in corners])
        except ValueError as exc:
            if isinstance(exc, ObjFormatError):
                raise
            raise ObjFormatError(f"{path}:{line_no}: cannot parse '{line.strip()}'") from exc
    if not vertices or not faces or not vt:
        raise ObjFormatError(f"{path}: no vertices, uv coordinates or faces found")
    obj = ObjUV(
        vertices=np.asarray(vertices, dtype=np.float64),
        faces=np.asarray(faces, dtype=np.int64),
        vt=np.asarray(vt, dtype=np.float64),
        ft=np.asarray(ft, dtype=np.int64),
    )
    if obj.faces.max() >= len(obj.vertices) or obj.ft.max() >= len(obj.vt) or obj.faces.min() < 0:
        raise ObjFormatError(f"{path}: face indices out of range (truncated file?)")
    return obj


def write_obj_uv(path: str | Path, obj: ObjUV) -> None:
    """Write ``obj`` as an OBJ with ``v``, ``vt`` and ``f v/vt`` lines (1-based)."""
    lines = [f"v {x:.8f} {y:.8f} {z:.8f}" for x, y, z in obj.vertices]
    lines += [f"vt {u:.8f} {v:.8f}" for u, v in obj.vt]
    lines += [
        f"f {a + 1}/{ta + 1} {b + 1}/{tb + 1} {c + 1}/{tc + 1}"
        for (a, b, c), (ta, tb, tc) in zip(obj.faces, obj.ft, strict=True)
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
