"""A FLAME-format stand-in model built from the ICT FaceKit (real light-stage face geometry).

No FLAME file can be downloaded here, so the project writes its own model **in FLAME's file
format** and loads it through the same loader as a real FLAME file:

- topology: ICT's face, head-and-neck and eyeball parts (14,388 vertices, 28,552 triangles),
  vertex order of ICT kept, in metres and FLAME's frame;
- identity: ICT's first 50 identity modes (synthetic scans use all 100);
- expression: the leading principal components of ICT's 53 blendshapes (eyeballs excluded),
  scaled so that a coefficient of 1 is one standard deviation of a uniform blendshape mix;
- joints: global (neck base), neck, jaw (temporomandibular), left and right eye, regressed from
  vertex rings; smooth skinning weights; posedirs are zeros (ICT has no pose correctives);
- uv: ICT's UDIM tiles (face, head, eyeballs) packed into one [0, 1] atlas;
- the 68 Multi-PIE landmarks as a FLAME landmark embedding, FLAME's region masks.

Run ``python -m flame.standin --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import scipy.sparse

from atomicfile import write_atomic, write_bytes
from flame.ict import IctModel, load_ict, standin_triangles, standin_vertex_ids
from flame.obj_uv import ObjUV, write_obj_uv

N_IDENTITY = 50
N_EXPRESSION = 20
SHAPE_COLUMNS = 300
EXPRESSION_COLUMNS = 100
MODEL_FILE = "generic_model.pkl"

# UDIM tile -> (offset, scale) in the packed atlas; the face gets the largest area.
_TILE_LAYOUT = {
    "face": ((0.0, 0.3), 0.7),
    "head_and_neck": ((0.7, 0.7), 0.3),
    "eyeball_left": ((0.85, 0.55), 0.15),
    "eyeball_right": ((0.7, 0.55), 0.15),
}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _packed_uv(ict: IctModel, tri_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uv (T, 2) in [0, 1] and ft (F, 3) for the kept triangles, one atlas region per part."""
    faces_uv = ict.faces_uv[tri_keep]
    used, ft = np.unique(faces_uv, return_inverse=True)
    ft = ft.reshape(-1, 3)
    vt = np.zeros((len(used), 2))
    for part, ((du, dv), scale) in _TILE_LAYOUT.items():
        part_tris = ict.part_triangles(part)[tri_keep]
        idx = np.unique(ft[part_tris])
        tile_uv = ict.uv[used[idx]]
        tile_uv = tile_uv - np.floor(tile_uv.min(axis=0)[0]) * np.array([1.0, 0.0])
        vt[idx] = np.array([du, dv]) + scale * np.clip(tile_uv, 0.0, 1.0)
    return vt, ft


def _expression_basis(ict: IctModel, vertex_ids: np.ndarray,
                      eyeball: np.ndarray) -> tuple[np.ndarray, float]:
    """(V, 3, N_EXPRESSION) principal components of the blendshapes and the energy they keep."""
    deltas = ict.expression_modes[:, vertex_ids].astype(np.float64)
    deltas[:, eyeball] = 0.0
    flat = deltas.reshape(len(deltas), -1)
    _, singular, vt = np.linalg.svd(flat, full_matrices=False)
    energy = float((singular[:N_EXPRESSION] ** 2).sum() / (singular**2).sum())
    # A uniform weight in [0, 1] has variance 1/12: scale so coefficient 1 is one std.
    scale = singular[:N_EXPRESSION] / np.sqrt(len(flat)) / np.sqrt(12.0)
    basis = (vt[:N_EXPRESSION] * scale[:, None]).T.reshape(len(vertex_ids), 3, N_EXPRESSION)
    return basis, energy


def _ring_regressor_row(selection: np.ndarray, n_vertices: int) -> np.ndarray:
    row = np.zeros(n_vertices)
    row[selection] = 1.0 / selection.sum()
    return row


def _joints_and_weights(verts: np.ndarray, lmk: np.ndarray, eye_left: np.ndarray,
                        eye_right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J_regressor (5, V) and skinning weights (V, 5): global, neck, jaw, left eye, right eye."""
    n = len(verts)
    x, y, z = verts.T
    head = ~(eye_left | eye_right)
    chin_y, chin_z = lmk[8, 1], lmk[8, 2]
    neck_ring = head & (np.abs(y - (chin_y - 0.01)) < 0.006) & (z < chin_z - 0.045)
    root_ring = head & (y < y[head].min() + 0.012)
    ear_points = np.stack([lmk[0], lmk[16]])
    tmj = head & (np.linalg.norm(verts[:, None] - ear_points[None], axis=2).min(axis=1) < 0.015)
    regressor = np.stack([
        _ring_regressor_row(root_ring, n),
        _ring_regressor_row(neck_ring, n),
        _ring_regressor_row(tmj, n),
        _ring_regressor_row(eye_left, n),
        _ring_regressor_row(eye_right, n),
    ])
    joints = regressor @ verts
    # Jaw: below the plane through the jaw pivot and the lip seam (x along the plane).
    pivot = joints[2]
    seam = 0.5 * (lmk[62] + lmk[66])
    direction = (seam - pivot)[1:] / np.linalg.norm((seam - pivot)[1:])
    below = np.array([direction[1], -direction[0]])  # (y, z) normal pointing down/forward
    if below[0] > 0:
        below = -below
    signed = (verts[:, 1:] - pivot[1:]) @ below
    jaw = _smoothstep((signed + 0.001) / 0.008)
    jaw *= _smoothstep((z - (pivot[2] - 0.01)) / 0.02)           # fade behind the pivot
    jaw *= _smoothstep((y - (chin_y - 0.045)) / 0.02)             # fade down the throat
    jaw *= _smoothstep((np.abs(lmk[0, 0]) + 0.005 - np.abs(x)) / 0.01)  # not the ears
    root = _smoothstep((joints[1, 1] - y) / (joints[1, 1] - joints[0, 1]))
    weights = np.zeros((n, 5))
    weights[:, 0] = root
    weights[:, 1] = (1.0 - root) * (1.0 - jaw)
    weights[:, 2] = (1.0 - root) * jaw
    weights[head, 3:] = 0.0
    weights[eye_left] = [0, 0, 0, 1, 0]
    weights[eye_right] = [0, 0, 0, 0, 1]
    return regressor, weights


def _landmark_embedding(faces: np.ndarray, lmk_vertices: np.ndarray) -> dict:
    """FLAME's landmark_embedding dict: each landmark sits on a corner of a face holding it."""
    face_idx = np.zeros(len(lmk_vertices), dtype=np.int64)
    bary = np.zeros((len(lmk_vertices), 3))
    for i, vertex in enumerate(lmk_vertices):
        rows, cols = np.nonzero(faces == vertex)
        face_idx[i] = rows[0]
        bary[i, cols[0]] = 1.0
    return {
        "static_lmk_faces_idx": face_idx[17:],
        "static_lmk_bary_coords": bary[17:],
        "full_lmk_faces_idx": face_idx[None],
        "full_lmk_bary_coords": bary[None],
    }


def _box(verts: np.ndarray, points: np.ndarray, margin: float) -> np.ndarray:
    lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
    return np.all((verts >= lo) & (verts <= hi), axis=1)


def _region_masks(verts: np.ndarray, faces: np.ndarray, lmk: np.ndarray, face_part: np.ndarray,
                  eye_left: np.ndarray, eye_right: np.ndarray) -> dict[str, np.ndarray]:
    """FLAME_masks.pkl regions as vertex-index arrays, from landmark-anchored boxes."""
    x, y, z = verts.T
    head = ~(eye_left | eye_right)
    brow_y = lmk[17:27, 1].max()
    face = (face_part & (z > lmk[0, 2] - 0.002) & (np.abs(x) < np.abs(lmk[0, 0]) + 0.004)
            & (y > lmk[8, 1] - 0.006) & (y < brow_y + 0.045))
    ears = head & (np.abs(x) > 0.06) & (z < lmk[0, 2] - 0.005) & (np.abs(y - lmk[0, 1]) < 0.045)
    right_eye_region = head & _box(verts, lmk[36:42], 0.012)
    left_eye_region = head & _box(verts, lmk[42:48], 0.012)
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique_edges, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = np.zeros(len(verts), dtype=bool)
    boundary[unique_edges[counts == 1].ravel()] = True
    masks = {
        "face": face,
        "neck": head & ~face & (y < lmk[8, 1] - 0.01),
        "scalp": head & ~face & ~ears & (y > brow_y + 0.03),
        "boundary": boundary & head,
        "right_eyeball": eye_right,
        "left_eyeball": eye_left,
        "right_ear": ears & (x < 0),
        "left_ear": ears & (x > 0),
        "forehead": face & (y > brow_y + 0.005),
        "eye_region": head & (_box(verts, lmk[np.r_[17:27, 36:48]], 0.01)),
        "nose": head & _box(verts, lmk[27:36], 0.008),
        "lips": head & _box(verts, lmk[48:68], 0.004),
        "right_eye_region": right_eye_region,
        "left_eye_region": left_eye_region,
    }
    return {name: np.flatnonzero(mask).astype(np.int64) for name, mask in masks.items()}


def build_standin_arrays(ict: IctModel) -> tuple[dict, ObjUV, dict, dict, dict]:
    """The stand-in's model dict (FLAME keys), uv mesh, landmark embedding, masks and a report."""
    vertex_ids = standin_vertex_ids(ict)
    tri_keep = standin_triangles(ict)
    remap = np.full(len(ict.vertices), -1, dtype=np.int64)
    remap[vertex_ids] = np.arange(len(vertex_ids))
    faces = remap[ict.faces[tri_keep]]
    if faces.min() < 0:
        raise ValueError("stand-in triangles reference dropped ICT vertices")
    verts = ict.vertices[vertex_ids]
    n = len(verts)
    part = np.concatenate([np.full(len(ict.part_vertices(p)), i)
                           for i, p in enumerate(("face", "head_and_neck", "eyeball_left",
                                                  "eyeball_right"))])
    face_part, eye_left, eye_right = part == 0, part == 2, part == 3
    lmk_vertices = remap[ict.landmarks68]
    lmk = verts[lmk_vertices]

    shapedirs = np.zeros((n, 3, SHAPE_COLUMNS + EXPRESSION_COLUMNS))
    identity = ict.identity_modes[:N_IDENTITY][:, vertex_ids].astype(np.float64)
    shapedirs[:, :, :N_IDENTITY] = identity.transpose(1, 2, 0)
    expression, energy = _expression_basis(ict, vertex_ids, eye_left | eye_right)
    shapedirs[:, :, SHAPE_COLUMNS:SHAPE_COLUMNS + N_EXPRESSION] = expression

    regressor, weights = _joints_and_weights(verts, lmk, eye_left, eye_right)
    vt, ft = _packed_uv(ict, tri_keep)
    model = {
        "v_template": verts,
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((n, 3, 36)),
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "J": regressor @ verts,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    masks = _region_masks(verts, faces, lmk, face_part, eye_left, eye_right)
    report = {
        "vertices": n,
        "faces": int(len(faces)),
        "uv_coords": int(len(vt)),
        "identity_components_nonzero": N_IDENTITY,
        "expression_components_nonzero": N_EXPRESSION,
        "expression_energy_kept": round(energy, 4),
        "joints": 5,
        "source_vertex_ids": "ICT parts face, head_and_neck, eyeball_left, eyeball_right",
    }
    obj = ObjUV(vertices=verts, faces=faces, vt=vt, ft=ft)
    return model, obj, _landmark_embedding(faces, lmk_vertices), masks, report


def _readme(report: dict, license_text: str) -> str:
    return (
        "# FLAME-format stand-in (built from ICT FaceKit)\n\n"
        "Written by `python -m flame.standin`. Same files and keys as a FLAME release, so the\n"
        "project loads it with the real FLAME loader. It is NOT FLAME: geometry, uv and\n"
        "landmarks come from the ICT Face Model Light (USC ICT, MIT licence below).\n\n"
        f"```\n{json.dumps(report, indent=2)}\n```\n\n"
        "posedirs are zeros (ICT has no pose-corrective shapes). Expression columns hold\n"
        "principal components of ICT's 53 blendshapes; unused columns are zero.\n\n"
        f"## ICT FaceKit licence\n\n```\n{license_text}\n```\n"
    )


def build_standin(out_dir: str | Path, ict_path: str | Path | None = None) -> Path:
    """Write the stand-in into ``out_dir`` in FLAME's file layout; returns the model pickle path.

    Files: ``generic_model.pkl``, ``head_template.obj``, ``landmark_embedding.npy``,
    ``FLAME_masks.pkl``, ``README.md``, ``standin.json`` (counts). Each is written atomically.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ict = load_ict(ict_path)
    model, obj, embedding, masks, report = build_standin_arrays(ict)
    write_atomic(out_dir / "head_template.obj", lambda tmp: write_obj_uv(tmp, obj))
    embedding_array = np.empty((), dtype=object)
    embedding_array[()] = embedding
    write_atomic(out_dir / "landmark_embedding.npy",
                 lambda tmp: np.save(tmp, embedding_array, allow_pickle=True), keep_suffix=True)
    write_bytes(out_dir / "FLAME_masks.pkl", pickle.dumps(masks, protocol=2))
    write_bytes(out_dir / "README.md", _readme(report, ict.license).encode())
    write_bytes(out_dir / "standin.json", json.dumps(report, indent=2).encode())
    write_bytes(out_dir / MODEL_FILE, pickle.dumps(model, protocol=2))
    return out_dir / MODEL_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flame.standin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--ict", type=Path, default=None, help="ict_facekit_light.npz path")
    args = parser.parse_args(argv)
    try:
        path = build_standin(args.out, args.ict)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
