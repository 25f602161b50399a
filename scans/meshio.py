"""Mesh files as the data sets ship them: PLY (NPHM, Ava256) and OBJ + MTL (FaceScape).

Readers keep the file's vertex order (landmark indices point into it) and raise
:class:`~scans.errors.ScanError` naming the file and the problem. Writers are atomic.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomicfile import write_bytes as atomic_write_bytes
from scans.errors import ScanError

PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2",
             "int16": "i2", "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4",
             "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4", "double": "f8",
             "float64": "f8"}


@dataclass
class RawMesh:
    """A mesh as stored in its file (raw units and frame).

    Attributes
    ----------
    verts : (N, 3) float64
    faces : (M, 3) int64 (empty (0, 3) for a point cloud)
    vertex_colors : (N, 3) uint8 or None
    uv_corners : (M, 3, 2) float64 or None
    texture_name : texture file named by the file (PLY comment or MTL map_Kd), or None
    """

    verts: np.ndarray
    faces: np.ndarray
    vertex_colors: np.ndarray | None = None
    uv_corners: np.ndarray | None = None
    texture_name: str | None = None


def check_mesh(mesh: RawMesh, path: Path | str, need_faces: bool = True) -> RawMesh:
    """Raise ScanError for an empty mesh, non-finite vertices or out-of-range faces."""
    if len(mesh.verts) == 0:
        raise ScanError(path, "mesh has no vertices")
    if not np.isfinite(mesh.verts).all():
        bad = int((~np.isfinite(mesh.verts)).any(axis=1).sum())
        raise ScanError(path, f"{bad} vertices are NaN or infinite")
    if need_faces and len(mesh.faces) == 0:
        raise ScanError(path, "mesh has no faces")
    if len(mesh.faces) and (mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.verts)):
        raise ScanError(path, "face indices out of range")
    return mesh


# ---------------------------------------------------------------- PLY

def _parse_ply_header(data: bytes, path: Path) -> tuple[str, list, list[str], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise ScanError(path, "not a PLY file (no 'ply' magic or no end_header)")
    body_start = data.index(b"\n", end) + 1
    lines = data[:end].decode("ascii", "replace").splitlines()
    fmt, elements, comments = "", [], []
    for line in lines[1:]:
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "format":
            fmt = tok[1]
        elif tok[0] in ("comment", "obj_info"):
            comments.append(line.split(None, 1)[1] if len(tok) > 1 else "")
        elif tok[0] == "element":
            elements.append((tok[1], int(tok[2]), []))
        elif tok[0] == "property" and elements:
            if tok[1] == "list":
                elements[-1][2].append((tok[4], "list", PLY_TYPES[tok[2]], PLY_TYPES[tok[3]]))
            else:
                elements[-1][2].append((tok[2], PLY_TYPES[tok[1]], None, None))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ScanError(path, f"unsupported PLY format {fmt!r}")
    return fmt, elements, comments, body_start


def _binary_element(data: bytes, offset: int, count: int, props: list, endian: str,
                    path: Path) -> tuple[np.ndarray, int]:
    """Read one element's rows; lists must have one length throughout (e.g. triangles)."""
    fields = []
    for name, kind, count_t, item_t in props:
        if kind != "list":
            fields.append((name, endian + kind))
            continue
        n = 3 if count == 0 else int(
            np.frombuffer(data, endian + count_t, 1, offset + _row_offset(fields))[0])
        fields.append((name + "__n", endian + count_t))
        fields.append((name, endian + item_t, (n,)))
    dtype = np.dtype(fields)
    size = dtype.itemsize * count
    if offset + size > len(data):
        raise ScanError(path, f"PLY body truncated ({len(data) - offset} of {size} bytes)")
    rows = np.frombuffer(data, dtype, count, offset)
    for name, kind, _, _ in props:
        if kind == "list" and count and not (rows[name + "__n"] == rows[name].shape[1]).all():
            raise ScanError(path, f"PLY list '{name}' has varying lengths (only triangles read)")
    return rows, offset + size


def _row_offset(fields: list) -> int:
    return np.dtype(fields).itemsize if fields else 0


def _ascii_elements(body: bytes, elements: list, path: Path) -> dict[str, dict]:
    lines = body.decode("ascii", "replace").split("\n")
    out, pos = {}, 0
    for name, count, props in elements:
        chunk = lines[pos:pos + count]
        pos += count
        if len(chunk) < count:
            raise ScanError(path, f"PLY body truncated in element '{name}'")
        try:
            table = np.array([ln.split() for ln in chunk], dtype=np.float64)
        except ValueError as exc:
            raise ScanError(path, f"PLY element '{name}' unreadable: {exc}") from None
        cols, col = {}, 0
        for pname, kind, _, _ in props:
            if kind == "list":
                n = int(table[0, col]) if count else 0
                cols[pname] = table[:, col + 1:col + 1 + n]
                col += 1 + n
            else:
                cols[pname] = table[:, col]
                col += 1
        out[name] = cols
    return out


def read_ply(path: str | Path, data: bytes | None = None) -> RawMesh:
    """Read a PLY mesh (binary or ascii; triangles; optional rgb and per-corner texcoord).

    The texture file name comes from a ``comment TextureFile <name>`` header line. ``data``
    gives the file's bytes when they come from elsewhere (a zip member); ``path`` then only
    names it in errors.
    """
    if data is None:
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ScanError(path, "file not found") from None
        except OSError as exc:
            raise ScanError(path, f"cannot read: {exc}") from None
    try:
        fmt, elements, comments, body_start = _parse_ply_header(data, path)
    except (KeyError, ValueError, IndexError) as exc:
        raise ScanError(path, f"corrupt PLY header: {exc}") from None
    if fmt == "ascii":
        cols = _ascii_elements(data[body_start:], elements, path)
    else:
        endian = "<" if fmt == "binary_little_endian" else ">"
        cols, offset = {}, body_start
        for name, count, props in elements:
            rows, offset = _binary_element(data, offset, count, props, endian, path)
            cols[name] = {p[0]: rows[p[0]] for p in props}
    vertex = cols.get("vertex")
    if vertex is None or not {"x", "y", "z"} <= vertex.keys():
        raise ScanError(path, "PLY has no vertex element with x, y, z")
    verts = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float64)
    colors = None
    if {"red", "green", "blue"} <= vertex.keys():
        colors = np.stack([vertex["red"], vertex["green"], vertex["blue"]], 1).astype(np.uint8)
    face = cols.get("face", {})
    index_key = "vertex_indices" if "vertex_indices" in face else "vertex_index"
    faces = np.asarray(face.get(index_key, np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    uv_corners = None
    if "texcoord" in face and len(faces):
        uv_corners = np.asarray(face["texcoord"], np.float64).reshape(-1, 3, 2)
    texture = None
    for comment in comments:
        match = re.match(r"TextureFile\s+(\S.*)$", comment.strip())
        if match:
            texture = match.group(1).strip()
    return RawMesh(verts, faces, colors, uv_corners, texture)


def write_ply(path: str | Path, verts: np.ndarray, faces: np.ndarray | None = None,
              vertex_colors: np.ndarray | None = None, uv_corners: np.ndarray | None = None,
              texture_name: str | None = None) -> None:
    """Write :func:`ply_bytes` to ``path`` atomically."""
    atomic_write_bytes(Path(path), ply_bytes(verts, faces, vertex_colors, uv_corners,
                                             texture_name))


def ply_bytes(verts: np.ndarray, faces: np.ndarray | None = None,
              vertex_colors: np.ndarray | None = None, uv_corners: np.ndarray | None = None,
              texture_name: str | None = None) -> bytes:
    """A binary little-endian PLY (float32 xyz, optional uchar rgb, int32 triangles,
    optional per-corner ``texcoord`` and a ``comment TextureFile`` line, as MeshLab does)."""
    verts = np.asarray(verts)
    header = ["ply", "format binary_little_endian 1.0"]
    if texture_name:
        header.append(f"comment TextureFile {texture_name}")
    header += [f"element vertex {len(verts)}", "property float x", "property float y",
               "property float z"]
    vfields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if vertex_colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
        vfields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vrows = np.empty(len(verts), vfields)
    vrows["x"], vrows["y"], vrows["z"] = verts[:, 0], verts[:, 1], verts[:, 2]
    if vertex_colors is not None:
        vrows["red"], vrows["green"], vrows["blue"] = vertex_colors.T
    parts = [vrows.tobytes()]
    if faces is not None:
        faces = np.asarray(faces)
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
        ffields = [("n", "u1"), ("idx", "<i4", (3,))]
        if uv_corners is not None:
            header.append("property list uchar float texcoord")
            ffields += [("m", "u1"), ("uv", "<f4", (6,))]
        frows = np.empty(len(faces), ffields)
        frows["n"], frows["idx"] = 3, faces
        if uv_corners is not None:
            frows["m"], frows["uv"] = 6, np.asarray(uv_corners).reshape(-1, 6)
        parts.append(frows.tobytes())
    header.append("end_header")
    return ("\n".join(header) + "\n").encode("ascii") + b"".join(parts)


# ---------------------------------------------------------------- OBJ

def _numbers(lines: list[bytes]) -> np.ndarray:
    """All whitespace-separated numbers of some lines, parsed in C."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return np.fromstring(b" ".join(lines).decode("ascii"), sep=" ")


def _floats(lines: list[bytes], width: int, path: Path, what: str) -> np.ndarray:
    if not lines:
        return np.zeros((0, width))
    try:
        table = _numbers(lines)
        cols = len(lines[0].split())
        return table.reshape(-1, cols)[:, :width]
    except (ValueError, DeprecationWarning, UnicodeDecodeError):
        raise ScanError(path, f"unreadable OBJ '{what}' lines") from None


def read_obj(path: str | Path) -> RawMesh:
    """Read an OBJ mesh (triangles; ``v``, ``vt``, ``f v/vt[/vn]``; texture via ``mtllib``).

    Vertex order is kept; per-vertex colours in ``v x y z r g b`` lines (0-1) are read.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    lines = text.splitlines()
    buckets = {key: [ln[len(key) + 1:] for ln in lines if ln[:len(key) + 1] == key + b" "]
               for key in (b"v", b"vt", b"f", b"mtllib")}
    v_table = _floats(buckets[b"v"], 6, path, "v")
    verts = v_table[:, :3]
    colors = None
    if v_table.shape[1] == 6:
        colors = np.clip(np.round(v_table[:, 3:] * 255), 0, 255).astype(np.uint8)
    vt = _floats(buckets[b"vt"], 2, path, "vt")
    faces = np.zeros((0, 3), np.int64)
    uv_corners = None
    if buckets[b"f"]:
        faces, vt_idx = _obj_faces(buckets[b"f"], path)
        faces = np.where(faces < 0, faces + len(verts), faces - 1)
        if vt_idx is not None and len(vt):
            vt_idx = np.where(vt_idx < 0, vt_idx + len(vt), vt_idx - 1)
            if vt_idx.min() < 0 or vt_idx.max() >= len(vt):
                raise ScanError(path, "texture coordinate indices out of range")
            uv_corners = vt[vt_idx]
    texture = None
    if buckets[b"mtllib"]:
        texture = _mtl_texture(path.parent / buckets[b"mtllib"][0].decode().strip())
    return RawMesh(verts, faces, colors, uv_corners, texture)


def _obj_faces(lines: list[bytes], path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertex indices (M, 3) and texture-coordinate indices (M, 3) or None (1-based)."""
    first = lines[0].split()[0]
    if b"//" in first:
        per_corner, has_vt = 2, False
    else:
        per_corner = first.count(b"/") + 1
        has_vt = per_corner > 1
    text = b" ".join(lines).replace(b"//", b" ").replace(b"/", b" ")
    try:
        table = _numbers([text]).astype(np.int64).reshape(len(lines), 3 * per_corner)
    except (ValueError, DeprecationWarning, UnicodeDecodeError):
        raise ScanError(path, "OBJ faces are not all triangles of one corner format") from None
    faces = table[:, 0::per_corner]
    return faces, (table[:, 1::per_corner] if has_vt else None)


def _mtl_texture(mtl_path: Path) -> str | None:
    if not mtl_path.is_file():
        raise ScanError(mtl_path, "material file named by the OBJ not found")
    for line in mtl_path.read_text(errors="replace").splitlines():
        tok = line.strip().split(None, 1)
        if len(tok) == 2 and tok[0] == "map_Kd":
            return tok[1].strip()
    return None


def _rows(fmt: str, table: np.ndarray) -> str:
    """One formatted line per row of a 2-D table (fast: one C-level format call)."""
    return (fmt * len(table)) % tuple(table.ravel().tolist())


def write_obj(path: str | Path, verts: np.ndarray, faces: np.ndarray,
              uv_corners: np.ndarray | None = None, texture_name: str | None = None) -> None:
    """Write an OBJ (and ``<name>.mtl`` naming ``texture_name`` when given), atomically.

    Per-corner uv are written as one ``vt`` per corner.
    """
    path = Path(path)
    out = io.StringIO()
    if texture_name:
        mtl_name = path.name + ".mtl"
        atomic_write_bytes(path.parent / mtl_name,
                           f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nmap_Kd {texture_name}\n"
                           .encode())
        out.write(f"mtllib {mtl_name}\nusemtl material0\n")
    out.write(_rows("v %.6f %.6f %.6f\n", verts))
    faces = np.asarray(faces) + 1
    if uv_corners is not None:
        out.write(_rows("vt %.6f %.6f\n", np.asarray(uv_corners).reshape(-1, 2)))
        vt_idx = np.arange(1, 3 * len(faces) + 1).reshape(-1, 3)
        table = np.stack([faces, vt_idx], axis=2).reshape(-1, 6)
        out.write(_rows("f %d/%d %d/%d %d/%d\n", table))
    else:
        out.write(_rows("f %d %d %d\n", faces))
    atomic_write_bytes(path, out.getvalue().encode())
