"""FaceScape adapter (TU models, optional multi-view photos).

Layout (as released)::

    ROOT/<id>/models_reg/<n>_<expression>.obj      TU model, millimetres, face to +z, top +y
                        /<n>_<expression>.obj.mtl  names the texture (map_Kd)
                        /<n>_<expression>.jpg      texture
    MVROOT/<id>/<n>_<expression>/<view>.jpg        multi-view photos (distorted, as shot)
                                /params.json       flat dict: <view>_K (3x3), <view>_Rt (3x4
                                                   world-to-camera, OpenCV), <view>_distortion
                                                   (k1 k2 p1 p2 k3), <view>_width, <view>_height,
                                                   <view>_valid (invalid views are skipped)
    TOOLKIT/predef/Rt_scale_dict.json   {"<id>": {"<n>": [scale, [[3x4 Rt]]]}} that take a
                                        multi-view point to the TU model:
                                        ``v_tu = R (scale * v_mv) + t``
    TOOLKIT/predef/landmark_indices.npz key "v10": 68 TU vertex indices

The two ``predef/`` files ship in FaceScape's code repository (github.com/zhuhao-nju/facescape,
``toolkit/predef/``), not in the data downloads: ``toolkit/demo_align.ipynb`` opens
``./predef/Rt_scale_dict.json`` and ``toolkit/demo_landmark.ipynb``
``./predef/landmark_indices.npz`` (``['v10']`` for TU models), both run from ``toolkit/``.

Conventions, from FaceScape's own toolkit (github.com/zhuhao-nju/facescape, ``toolkit/``):

- ``demo_align.ipynb``, cell "align multi-view model to TU model": ``vertices *= scale``
  then ``R @ v + t``, so a TU point goes to the multi-view frame as
  ``v_mv = R^T (v_tu - t) / scale``.
- ``demo_mview_projection.ipynb`` ``projection_test`` with ``src/renderer.py``
  ``render_cvcam``: ``<view>_Rt`` is the OpenCV world-to-camera of the multi-view frame,
  ``<view>_K`` the intrinsics of the ``<view>_width`` x ``<view>_height`` image, and the image
  is undistorted with ``cv2.undistort(img, K, dist)``.
- ``demo_align.ipynb`` (text): TU models are in millimetres, face to +z, top of head to +y.

Options (``list_scans(root, ...)``): ``mv_root`` (no photos when None), ``toolkit_path``
(a clone of the repository or its ``toolkit/`` folder: ``predef/`` is searched in both),
``rt_scale_path`` and ``landmark_indices_path`` (explicit files; used as given). Without an
explicit path each file is searched in :func:`toolkit_candidates` order (toolkit ``predef/``,
then ``MVROOT/Rt_scale_dict.json`` and ``ROOT/landmark_indices.npz``); a file found nowhere
costs the scans their photos (Rt_scale_dict.json) or landmarks (landmark_indices.npz), said
once per build by :func:`optional_files`. Ids are the numeric folder
names; ``scan_id`` is ``<id>_<n>_<expression>``. The transform is a pure scale
(``to_metres = diag(1e-3)``): the TU frame already has FLAME's axes. A photo's ``w2c`` is
``Rt`` composed with the TU -> multi-view similarity, with the scale divided out so that it
is rigid and maps the returned ``verts_m`` to the camera (projection is unchanged by a
uniform scale of the camera frame). With ``mv_root`` set, a missing ``params.json``,
``Rt_scale_dict.json`` or entry in it, or a malformed camera drops those photos with a
reason (``Scan.skipped_photos``); the TU model is still read.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from scans.errors import ScanError
from scans.geometry import similarity
from scans.meshio import read_obj
from scans.records import Photo, Scan, ScanRecord
from scans.textured import read_textured_mesh

log = logging.getLogger(__name__)

DATASET = "facescape"
MM_TO_M = 1e-3
EXPRESSIONS = ("neutral", "smile", "mouth_stretch", "anger", "jaw_left", "jaw_right",
               "jaw_forward", "mouth_left", "mouth_right", "dimpler", "chin_raiser",
               "lip_puckerer", "lip_funneler", "sadness", "lip_roll", "grin", "cheek_blowing",
               "eye_closed", "brow_raiser", "brow_lower")
"""The 20 expressions; ``<n>_<name>`` with n = position + 1."""
MODEL_NAME = re.compile(r"^(\d+)_([A-Za-z_]+)\.obj$")
CAMERA_KEYS = ("K", "Rt", "distortion", "width", "height", "valid")


TOOLKIT_FILES = {"landmark_indices": "landmark_indices.npz", "rt_scale": "Rt_scale_dict.json"}
"""Role in ``record.files`` -> the toolkit ``predef/`` file."""


def toolkit_candidates(role: str, root: Path, mv_root: str | Path | None,
                       toolkit_path: str | Path | None) -> list[Path]:
    """Where a toolkit file (:data:`TOOLKIT_FILES` role) is looked for, in order:
    ``TOOLKIT/predef/``, ``TOOLKIT/toolkit/predef/`` (a clone of the whole repository), then
    beside the data (``ROOT/landmark_indices.npz``, ``MVROOT/Rt_scale_dict.json``)."""
    name = TOOLKIT_FILES[role]
    out = []
    if toolkit_path:
        out += [Path(toolkit_path) / "predef" / name,
                Path(toolkit_path) / "toolkit" / "predef" / name]
    if role == "landmark_indices":
        out.append(Path(root) / name)
    elif mv_root:
        out.append(Path(mv_root) / name)
    return out


def toolkit_file(role: str, explicit: str | Path | None, root: Path,
                 mv_root: str | Path | None, toolkit_path: str | Path | None
                 ) -> tuple[Path | None, list[Path]]:
    """``(path found or None, paths looked at)`` of a toolkit file: ``explicit`` as given
    (even when missing: the reader then names it), else the first existing
    :func:`toolkit_candidates`."""
    if explicit:
        path = Path(explicit)
        return (path if path.is_file() else None), [path]
    searched = toolkit_candidates(role, root, mv_root, toolkit_path)
    return next((p for p in searched if p.is_file()), None), searched


def list_scans(root: str | Path, mv_root: str | Path | None = None,
               rt_scale_path: str | Path | None = None,
               landmark_indices_path: str | Path | None = None,
               toolkit_path: str | Path | None = None) -> list[ScanRecord]:
    """Records of every TU model under ``ROOT/<id>/models_reg/`` (reads only params.json)."""
    root = Path(root)
    if not root.is_dir():
        raise ScanError(root, "FaceScape root folder not found")
    landmark_indices_path, _ = toolkit_file("landmark_indices", landmark_indices_path, root,
                                            mv_root, toolkit_path)
    if mv_root is not None:
        found, searched = toolkit_file("rt_scale", rt_scale_path, root, mv_root, toolkit_path)
        rt_scale_path = found or searched[0]  # load() names the missing file per photo
    records = []
    for subject in sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()),
                          key=lambda p: int(p.name)):
        models = []
        for obj in (subject / "models_reg").glob("*.obj"):
            match = MODEL_NAME.match(obj.name)
            if match:
                models.append((int(match.group(1)), match.group(2), obj))
        for n, expr, obj in sorted(models):
            files = {"mesh": str(obj)}
            options = {"expression_index": n}
            if landmark_indices_path is not None:
                files["landmark_indices"] = str(landmark_indices_path)
            n_photos = 0
            if mv_root is not None:
                params = Path(mv_root) / subject.name / f"{n}_{expr}" / "params.json"
                files["params"] = str(params)
                files["rt_scale"] = str(rt_scale_path)
                try:
                    n_photos = len(_valid_views(_read_json(params)))
                except ScanError:
                    n_photos = 0  # load() reports why, and the scan is still read
            records.append(ScanRecord(DATASET, subject.name, f"{n}_{expr}",
                                      f"{subject.name}_{n}_{expr}", files, options, n_photos))
    return records


def optional_files(root: str | Path, records: list[ScanRecord],
                   mv_root: str | Path | None = None, rt_scale_path: str | Path | None = None,
                   landmark_indices_path: str | Path | None = None,
                   toolkit_path: str | Path | None = None) -> list[dict]:
    """The toolkit files and the multi-view root: found or not, where looked, and what the
    listed scans lose without each (for the build's statement)."""
    lost = {"landmark_indices": f"the 68 landmarks of {len(records)} scan(s): registration "
                                "without landmark terms, photo views without the landmark "
                                "check",
            "rt_scale": f"every multi-view photo of {len(records)} scan(s) (no photo samples)"}
    out = []
    for role, explicit in (("landmark_indices", landmark_indices_path),
                           ("rt_scale", rt_scale_path)):
        if role == "rt_scale" and mv_root is None:
            continue
        found, searched = toolkit_file(role, explicit, Path(root), mv_root, toolkit_path)
        out.append({"file": TOOLKIT_FILES[role], "found": found is not None,
                    "path": str(found or ""), "searched": [str(p) for p in searched],
                    "lost": "" if found else lost[role]})
    out.append({"file": "multi-view root (mv_root)", "found": mv_root is not None,
                "path": str(mv_root or ""), "searched": [],
                "lost": "" if mv_root is not None else "every multi-view photo (no photo "
                                                      "samples, no photo alignment)"})
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ScanError(path, "file not found") from None
    except (OSError, ValueError) as exc:
        raise ScanError(path, f"unreadable JSON: {exc}") from None


def _valid_views(params: dict) -> list[str]:
    views = sorted({key[:-2] for key in params if key.endswith("_K")},
                   key=lambda v: (len(v), v))
    return [v for v in views if bool(params.get(f"{v}_valid", True))]


def _mv_from_tu(record: ScanRecord) -> tuple[float, np.ndarray]:
    """``(scale, Rt (3, 4))`` of the scan's Rt_scale_dict.json entry (multi-view -> TU)."""
    path = Path(record.files["rt_scale"])
    table = _read_json(path)
    n = str(record.options["expression_index"])
    try:
        scale, rt = table[record.subject][n]
        rt = np.asarray(rt, np.float64).reshape(3, 4)
        scale = float(scale)
    except KeyError:
        raise ScanError(path, f"no entry for id {record.subject}, expression {n}") from None
    except (TypeError, ValueError):
        raise ScanError(path, f"entry for id {record.subject}, expression {n} is not "
                              "[scale, 3x4 Rt]") from None
    if not (scale > 0 and np.isfinite(rt).all()):
        raise ScanError(path, f"entry for id {record.subject}, expression {n} has scale "
                              f"{scale} or a non-finite Rt")
    return scale, rt


def tu_camera(rt_cam: np.ndarray, scale: float, rt_tu: np.ndarray) -> np.ndarray:
    """(4, 4) rigid w2c of the metric TU frame (metres) from a view's ``Rt`` (3, 4) and the
    scan's Rt_scale entry (``v_tu_mm = R (scale v_mv) + t``).

    ``x_cam = Rc R^T (v_tu_mm - t) / scale + tc``; times ``scale * 1e-3`` (a uniform scale of
    the camera frame, same pixels): ``Rc R^T v_m + 1e-3 (scale tc - Rc R^T t)``.
    """
    rotation = rt_cam[:, :3] @ rt_tu[:, :3].T
    w2c = np.eye(4)
    w2c[:3, :3] = rotation
    w2c[:3, 3] = MM_TO_M * (scale * rt_cam[:, 3] - rotation @ rt_tu[:, 3])
    return w2c


def read_photos(record: ScanRecord) -> tuple[list[Photo], list[dict]]:
    """The valid views of a scan, with ``w2c`` mapping the scan's metric TU frame to camera,
    and ``{"camera_id", "reason"}`` for each view (or the whole scan, camera id "*") dropped."""
    params_path = Path(record.files["params"])
    try:
        params = _read_json(params_path)
        scale, rt_tu = _mv_from_tu(record)
    except ScanError as exc:
        return [], [{"camera_id": "*", "reason": str(exc)}]
    photos, skipped = [], []
    for view in _valid_views(params):
        missing = [f"{view}_{k}" for k in CAMERA_KEYS if f"{view}_{k}" not in params]
        try:
            if missing:
                raise ScanError(params_path, f"missing key(s) {', '.join(missing)}")
            try:
                K = np.asarray(params[f"{view}_K"], np.float64).reshape(3, 3)
                rt_cam = np.asarray(params[f"{view}_Rt"], np.float64).reshape(3, 4)
                dist = np.asarray(params[f"{view}_distortion"], np.float64).reshape(-1)[:5]
                width, height = int(params[f"{view}_width"]), int(params[f"{view}_height"])
            except (TypeError, ValueError) as exc:
                raise ScanError(params_path, f"camera '{view}' malformed: {exc}") from None
        except ScanError as exc:
            skipped.append({"camera_id": view, "reason": str(exc)})
            continue
        photos.append(Photo(params_path.parent / f"{view}.jpg", None, view, K,
                            tu_camera(rt_cam, scale, rt_tu), dist, width, height))
    return photos, skipped


def _photos(record: ScanRecord) -> tuple[list[Photo], list[dict]]:
    return read_photos(record) if "params" in record.files else ([], [])


def load_photos(record: ScanRecord) -> list[Photo]:
    """The scan's calibrated photos without its mesh (those :func:`load` gives)."""
    return _photos(record)[0]


def load(record: ScanRecord, appearance: bool = True) -> Scan:
    """Read a TU model (metres), its texture and colours (``appearance``), landmarks and
    photos' cameras."""
    mesh_path = Path(record.files["mesh"])
    to_metres = similarity(MM_TO_M)
    scan = read_textured_mesh(mesh_path, read_obj, to_metres, appearance)
    verts_m, mesh = scan.verts_m, scan.mesh
    landmarks = None
    if "landmark_indices" in record.files:
        lmk_path = Path(record.files["landmark_indices"])
        try:
            with np.load(lmk_path) as data:
                idx = np.asarray(data["v10"], np.int64).reshape(-1)
        except FileNotFoundError:
            raise ScanError(lmk_path, "file not found") from None
        except KeyError:
            raise ScanError(lmk_path, "missing key 'v10'") from None
        except (OSError, ValueError) as exc:
            raise ScanError(lmk_path, f"unreadable: {exc}") from None
        if len(idx) != 68 or idx.min() < 0 or idx.max() >= len(verts_m):
            raise ScanError(lmk_path, f"'v10' must hold 68 vertex indices below {len(verts_m)}")
        landmarks = verts_m[idx]
    photos, skipped = _photos(record)
    for problem in skipped:
        log.warning("%s: photo %s dropped: %s", record.scan_id, problem["camera_id"],
                    problem["reason"])
    return Scan(record=record, verts_m=verts_m, faces=mesh.faces, vertex_colors=scan.colors,
                texture=scan.texture, uv_corners=mesh.uv_corners, landmarks_m=landmarks,
                photos=photos, to_metres=to_metres, skipped_photos=skipped)
