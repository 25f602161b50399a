"""Export shard samples as Pixel3DMM tracker frames (``python -m shards export``).

Each sample becomes frame ``i`` of the output folder in Pixel3DMM's layout
(:mod:`faces.pixel3dmm`; what ``Tracker.read_data`` in Pixel3DMM's
``src/pixel3dmm/tracking/tracker.py``, lines 1500-1580, reads):

- ``cropped/`` the rendered rgb;
- ``seg_og/`` facer celebm classes from the mask bits and, with the FLAME model, the region
  of the registered vertex each uv pixel shows: face region -> face (2), FLAME's ears -> right
  and left ear (4, 5; uv term, not background: ``valid_bg = seg <= 1``), scalp -> hair (14;
  no term, as a face parser labels it), eyeballs -> eyes (8, 9), other uv pixels (neck) ->
  neck (1), scan surface without uv -> hair; without the model every non-face uv pixel is
  neck, as before;
- ``p3dmm/normals/`` ``(n + 1) / 2`` of the sample's normals, in the model frame as stored
  (``normals_frame="model"``) or in the tracker's (``"tracker"``): its renderer takes normals
  from the mesh with the neck rotation removed (``verts_noneck``, ``renderer_nvdiffrast.py``
  lines 191-192; FLAME.py lines 253 and 265) and rotates them back by the global rotation
  (``opt_post``, tracker.py lines 984-986), so head pixels are rotated by
  ``(R_global R_neck)^T`` and neck pixels by ``R_global^T`` (exact for vertices skinned to
  one joint; blended ones near the neck's seam are approximated);
- ``p3dmm/uv_map/`` ``(u, 1 - v, 0)``;
- ``PIPnet_landmarks/`` (with the model) the registered head's 68 landmarks projected with
  the sample's camera, as 98 WFLW points in [0, 1];
- ``mica/NNNNN/identity.npy`` the sample's registered shape coefficients, padded to 300.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from faces.pixel3dmm import labels_from_shard_mask, write_frame
from faces.segment import LABEL
from shards.reader import ShardReader

NORMAL_FRAMES = ("model", "tracker")
REGION_LABELS = (("face", "face"), ("right_ear", "rr"), ("left_ear", "lr"), ("scalp", "hair"),
                 ("right_eyeball", "re"), ("left_eyeball", "le"))
"""FLAME mask -> celebm class for uv pixels without the face-region bit (else neck; later
entries win)."""


def region_labels(labels: np.ndarray, uv: np.ndarray, mask: np.ndarray, model) -> np.ndarray:
    """(H, W) uint8 classes with the non-face uv pixels of ``labels`` relabelled by the
    FLAME region of the vertex whose uv (H, W, 2, project uv) is nearest
    (:data:`REGION_LABELS`).
    """
    labels = labels.copy()
    pick = ((mask & 2) > 0) & ((mask & 4) == 0)
    if not pick.any():
        return labels
    corner_uv = np.asarray(model.vt)[np.asarray(model.ft)].reshape(-1, 2)
    corner_vertex = np.asarray(model.faces).reshape(-1)
    _, nearest = cKDTree(corner_uv).query(uv[pick])
    vertex = corner_vertex[nearest]
    chosen = np.full(vertex.shape, LABEL["neck"], np.uint8)
    for region, name in REGION_LABELS:
        chosen[np.isin(vertex, model.masks.get(region, []))] = LABEL[name]
    labels[pick] = chosen
    return labels


def tracker_frame_normals(normal: np.ndarray, labels: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """(H, W, 3) normals in Pixel3DMM's tracker frame from model-frame normals, given the
    sample's FLAME pose (J, 3) axis-angle (global, neck, ...): neck pixels rotated by
    ``R_global^T``, all others by ``(R_global R_neck)^T``."""
    pose = np.asarray(pose, np.float64).reshape(-1, 3)
    global_r = Rotation.from_rotvec(pose[0]).as_matrix()
    head_r = global_r @ Rotation.from_rotvec(pose[1]).as_matrix()
    out = np.asarray(normal, np.float64) @ head_r  # row vectors: n @ R == R^T n
    neck = labels == LABEL["neck"]
    out[neck] = np.asarray(normal, np.float64)[neck] @ global_r
    return out.astype(np.float32)


def sample_landmarks(sample: dict, model) -> np.ndarray:
    """(68, 2) pixels: the registered FLAME head's landmarks (``scale * FLAME(shape, expr,
    pose, transl)``, the non-rigid offsets left out) projected with the sample's K and w2c."""
    from flame import FLAME

    flame = FLAME(model, dtype=torch.float64)

    def tensor(name: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(sample[name], np.float64))[None]

    shape, expr = tensor("shape"), tensor("expr")
    with torch.no_grad():
        out = flame(shape=shape, expr=expr, pose=tensor("pose").reshape(1, -1, 3),
                    transl=tensor("transl"))
    points = out.landmarks[0].numpy() * float(sample["scale"])
    w2c = np.asarray(sample["w2c"], np.float64)
    camera = points @ w2c[:3, :3].T + w2c[:3, 3]
    projected = camera @ np.asarray(sample["K"], np.float64).T
    return projected[:, :2] / projected[:, 2:3]


def export_pixel3dmm(shard: Path, out_dir: Path, indices: Sequence[int] | None = None,
                     model=None, normals_frame: str = "model") -> list[str]:
    """Write samples ``indices`` (None: all) of ``shard`` as frames 0, 1, ... of
    ``out_dir`` (see the module); ``model``: the FLAME model (regions of ears and scalp,
    landmarks; None: neither); ``normals_frame``: "model" or "tracker". Returns the sample
    ids in frame order. Raises ShardError or IndexError naming the shard."""
    if normals_frame not in NORMAL_FRAMES:
        raise ValueError(f"normals_frame must be one of {NORMAL_FRAMES}, got {normals_frame!r}")
    with ShardReader(shard) as reader:
        chosen = list(range(len(reader))) if indices is None else list(indices)
        written = []
        for frame, index in enumerate(chosen):
            sample = reader.read_sample(index)
            normal = np.moveaxis(sample["normal"], 0, -1)
            uv = np.moveaxis(sample["uv"], 0, -1)
            labels = labels_from_shard_mask(sample["mask"])
            landmarks = None
            if model is not None:
                labels = region_labels(labels, uv, np.asarray(sample["mask"]), model)
                landmarks = sample_landmarks(sample, model)
            if normals_frame == "tracker":
                normal = tracker_frame_normals(normal, labels, sample["pose"])
            write_frame(out_dir, frame, normal, uv, labels, sample["rgb"],
                        landmarks_px=landmarks, shape=np.asarray(sample["shape"]))
            written.append(sample["sample_id"])
    return written
