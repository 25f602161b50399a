"""An exported frame against the file contract of Pixel3DMM's tracker.

The contract is ``Tracker.read_data`` in Pixel3DMM's ``src/pixel3dmm/tracking/tracker.py``
(commit 98b5d79 of github.com/SimonGiebenhain/pixel3dmm), lines 1500-1580:

- 1504-1507: ``cropped/NNNNN.jpg`` else ``.png``, opened with PIL, resized to ``size``, / 255;
- 1509-1519: every entry of ``mica/`` is a folder holding ``identity.npy``, squeezed and
  averaged (no fallback when ``mica/`` is missing); MICA writes 300 coefficients
  (``replacement_code/mica_demo.py`` line 165), the tracker's ``num_shape_params: 300``;
- 1521-1540: ``seg_og/NNNNN.png`` resized NEAREST, channel 0 when 3-D, classes: uv mask
  {2, 6, 7, 10, 12, 13, 1, 4, 5}, normal mask {2, 6, 7, 10, 12, 13, 11}, ``valid_bg = seg <= 1``;
- 1542-1548: ``p3dmm/normals/NNNNN.png`` as ``(png / 255 - 0.5) * 2``,
  ``p3dmm/uv_map/NNNNN.png`` as ``png / 255``, both 3-channel (``permute(0, 3, 1, 2)``);
- 1550-1553: ``PIPnet_landmarks/NNNNN.npy`` times ``size``, else zeros (98, 2); read through
  ``WFLW_2_iBUG68`` (lines 116-119, 1486), irises 96 and 97 (1487-1491), (0, 0) masked.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from faces.pixel3dmm import WFLW_2_IBUG68, ibug68_from_wflw98, wflw98_from_ibug68
from faces.segment import LABEL
from flame import FLAME
from geometry import axis_angle_to_matrix
from geometry.tensors import vertex_normals
from rendering import Renderer
from shards import ShardInfo, write_shard
from shards.__main__ import main as shards_main
from shards.pixel3dmm_export import sample_landmarks, tracker_frame_normals
from synthetic.fit_sample import synthetic_sample

TRACKER_SIZE = 256  # configs/tracking.yaml: size
UV_CLASSES = {2, 6, 7, 10, 12, 13, 1, 4, 5}  # read_data lines 1524-1528


def read_data(folder, timestep: int, size: int = TRACKER_SIZE) -> dict:
    """The file reads of ``Tracker.read_data`` (lines cited in the module), without torch."""
    try:
        rgb = np.array(Image.open(f"{folder}/cropped/{timestep:05d}.jpg").resize((size, size)))
    except OSError:
        rgb = np.array(Image.open(f"{folder}/cropped/{timestep:05d}.png").resize((size, size)))
    shapes = [np.squeeze(np.load(f"{folder}/mica/{entry}/identity.npy"))
              for entry in os.listdir(f"{folder}/mica")]
    seg = np.array(Image.open(f"{folder}/seg_og/{timestep:05d}.png").resize((size, size),
                                                                            Image.NEAREST))
    if seg.ndim == 3:
        seg = seg[..., 0]
    normals = (np.array(Image.open(f"{folder}/p3dmm/normals/{timestep:05d}.png").resize(
        (size, size))) / 255).astype(np.float32)
    normals = (normals - 0.5) * 2
    uv_map = (np.array(Image.open(f"{folder}/p3dmm/uv_map/{timestep:05d}.png").resize(
        (size, size))) / 255).astype(np.float32)
    lms = np.load(f"{folder}/PIPnet_landmarks/{timestep:05d}.npy") * size
    return {"rgb": rgb / 255, "mica_shape": np.mean(np.stack(shapes), axis=0), "seg": seg,
            "normals": normals, "uv_map": uv_map, "lmk": lms, "raw_lmk": lms / size}


@pytest.fixture(scope="module")
def exported(standin_model, standin_model_path, tmp_path_factory):
    renderer = Renderer(128, 128)
    try:
        sample, _ = synthetic_sample(standin_model, np.random.default_rng(5), renderer,
                                     yaw_deg_range=60.0)
    finally:
        renderer.release()
    folder = tmp_path_factory.mktemp("p3dmm")
    shard = folder / "shard-00000.h5"
    write_shard(shard, [sample], 1, ShardInfo(config_hash="test"))
    assert shards_main(["export", str(shard), "--out", str(folder / "frames"), "--convention",
                        "pixel3dmm", "--model", str(standin_model_path)]) == 0
    return sample, folder / "frames"


def test_exported_frame_meets_read_data_file_contract(standin_model, exported):
    sample, frames = exported
    data = read_data(frames, 0)
    assert data["rgb"].shape == (TRACKER_SIZE, TRACKER_SIZE, 3)
    # mica/: a folder per entry with identity.npy, 300 float32 coefficients = the sample's.
    identity = data["mica_shape"]
    assert identity.shape == (300,) and identity.dtype == np.float32
    used = len(sample["shape"])
    np.testing.assert_allclose(identity[:used], sample["shape"], atol=1e-6)
    assert not identity[used:].any()
    # seg_og: celebm ids; the face is there, the ears are 4/5 (uv term, not background).
    seg = data["seg"]
    assert seg.dtype == np.uint8 and seg.max() <= 18
    assert (seg == LABEL["face"]).sum() > 500
    assert np.isin(seg, [LABEL["rr"], LABEL["lr"]]).sum() > 20
    # normals and uv: 3 channels each, unit normals on the face, uv in [0, 1].
    assert data["normals"].shape == (TRACKER_SIZE, TRACKER_SIZE, 3)
    face = seg == LABEL["face"]
    lengths = np.linalg.norm(data["normals"][face], axis=-1)
    assert np.median(np.abs(lengths - 1)) < 0.02
    assert data["uv_map"].shape == (TRACKER_SIZE, TRACKER_SIZE, 3)
    assert data["uv_map"].min() >= 0 and data["uv_map"].max() <= 1
    # At the stored size (before the tracker's resampling) uv is zero outside its classes.
    stored_seg = np.array(Image.open(frames / "seg_og" / "00000.png"))
    stored_uv = np.array(Image.open(frames / "p3dmm" / "uv_map" / "00000.png"))
    assert stored_uv.shape == (128, 128, 3) and stored_uv.dtype == np.uint8
    assert not stored_uv[~np.isin(stored_seg, list(UV_CLASSES))].any()
    # PIPnet_landmarks: (98, 2) in [0, 1]; the 68 read through WFLW_2_iBUG68 are the
    # registered head's landmarks (render pixels scaled to the tracker's size), irises masked.
    raw = data["raw_lmk"]
    assert raw.shape == (98, 2) and raw.min() >= 0 and raw.max() <= 1
    lmk68 = data["lmk"][WFLW_2_IBUG68]
    expected = (sample_landmarks(sample, standin_model) + 0.5) * TRACKER_SIZE / 128
    np.testing.assert_allclose(lmk68, expected, atol=1e-6)
    assert not data["lmk"][96:98].any() and (lmk68.sum(axis=1) != 0).all()


def test_wflw98_round_trips_the_68_and_interpolates_the_rest():
    rng = np.random.default_rng(0)
    ibug = rng.uniform(10, 240, (68, 2))
    wflw = wflw98_from_ibug68(ibug, 256)
    np.testing.assert_allclose(ibug68_from_wflw98(wflw, 256), ibug)
    # WFLW contour point 1 lies halfway between iBUG jaw points 0 and 1; eye point 62 between
    # the upper lid points 61 and 63 (iBUG 37 and 38).
    np.testing.assert_allclose(wflw[1], (wflw[0] + wflw[2]) / 2)
    np.testing.assert_allclose(wflw[62] * 256 - 0.5, (ibug[37] + ibug[38]) / 2)


def test_tracker_frame_normals_equal_the_mesh_without_neck_rotation(standin_model):
    model = standin_model
    flame = FLAME(model, dtype=torch.float64)
    pose = np.zeros((model.n_joints, 3))
    pose[0], pose[1], pose[2, 0] = [0.1, -0.3, 0.05], [0.25, 0.2, -0.1], 0.15
    noneck = pose.copy()
    noneck[1] = 0
    faces = torch.as_tensor(model.faces)

    def normals(p: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            verts = flame(pose=torch.as_tensor(p)[None]).vertices[0]
        return vertex_normals(verts, faces).numpy()

    posed = normals(pose)
    # The tracker's normals: the no-neck mesh's, with the global rotation undone (opt_post).
    expected = normals(noneck) @ axis_angle_to_matrix(pose[0])
    weights = np.asarray(model.weights)
    head = weights[:, 0] < 1e-6  # vertices skinned only below the neck joint (head, jaw, eyes)
    labels = np.full((model.n_vertices, 1), LABEL["face"], np.uint8)
    converted = tracker_frame_normals(posed[:, None], labels, pose)[:, 0]
    angle = np.degrees(np.arccos(np.clip((converted[head] * expected[head]).sum(-1), -1, 1)))
    assert head.sum() > 1000 and np.percentile(angle, 99) < 0.5
    # Without the conversion the neck rotation (about 19 degrees) remains.
    raw = np.degrees(np.arccos(np.clip((posed[head] @ axis_angle_to_matrix(pose[0])
                                        * expected[head]).sum(-1), -1, 1)))
    assert np.median(raw) > 10
