"""The single-image command line and the benchmark on a shard, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fitting import (
    EvalSettings,
    FaceFitter,
    FitSettings,
    TruthMesh,
    aligned_error,
    evaluate,
    fit_image,
)
from fitting.cli import main
from fitting.evaluate import shard_samples
from flame import FLAME
from rendering import Renderer
from shards import ShardInfo, write_shard
from synthetic.fit_sample import synthetic_sample

SIZE = 256


@pytest.fixture(scope="module")
def scene(standin_model):
    renderer = Renderer(SIZE, SIZE)
    try:
        return synthetic_sample(standin_model, np.random.default_rng(3), renderer)
    finally:
        renderer.release()


def test_fit_image_writes_mesh_params_and_overlay(standin_model, scene, tmp_path):
    model = standin_model
    sample, truth = scene
    image = tmp_path / "face.png"
    Image.fromarray(sample["rgb"]).save(image)
    fitter = FaceFitter(model)
    try:
        # The network's place is taken by the exact maps of the rendered image.
        done = fit_image(image, tmp_path / "out", fitter,
                         lambda rgb: (sample["normal"], sample["uv"]),
                         focal_px=float(sample["K"][0, 0]))
    finally:
        fitter.close()
    error = aligned_error(done.result.verts_camera, truth.posed_m, model.faces, model.lmk_faces,
                          model.lmk_bary, model.masks["face"])
    assert error.mean_mm < 1.0
    overlay = np.asarray(Image.open(done.overlay_path))
    assert overlay.shape == (SIZE, 4 * SIZE, 3)
    np.testing.assert_array_equal(overlay[:, :SIZE], sample["rgb"])
    with np.load(done.params_path) as params:
        flame = FLAME(model, dtype=torch.float64)
        verts = flame(shape=torch.as_tensor(params["shape"])[None],
                      expr=torch.as_tensor(params["expr"])[None],
                      pose=torch.as_tensor(params["pose"])[None],
                      transl=torch.as_tensor(params["transl"])[None]).vertices[0].numpy()
    np.testing.assert_allclose(verts, done.result.verts_camera, atol=1e-5)
    ply = done.mesh_path.read_bytes()
    assert ply.startswith(b"ply") and f"element vertex {model.n_vertices}".encode() in ply


def test_cli_reports_a_failed_fit_and_an_image_without_a_face(standin_model_path, scene,
                                                              tiny_checkpoint, tmp_path, capsys):
    image = tmp_path / "face.png"
    Image.fromarray(scene[0]["rgb"]).save(image)
    common = ["--checkpoint", str(tiny_checkpoint), "--model", str(standin_model_path),
              "--steps", "20", "--no-detect"]
    assert main(["fit", str(image), "--out", str(tmp_path / "a"), *common]) == 2
    assert f"{image}: fit failed" in capsys.readouterr().err
    assert not (tmp_path / "a" / "mesh.ply").exists()
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(blank)
    assert main(["fit", str(blank), "--out", str(tmp_path / "b"), *common]) == 2
    assert f"{blank}: no face-sized region" in capsys.readouterr().err
    # Without --no-detect the photo goes to the face detector first.
    assert main(["fit", str(blank), "--out", str(tmp_path / "c"), *common[:-1]]) == 2
    assert f"{blank}: no face found" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_evaluate_on_a_shard_writes_the_three_row_table(standin_model_path, scene, tiny_checkpoint,
                                                        tmp_path):
    sample, truth = scene
    shard = tmp_path / "shard-00000.h5"
    write_shard(shard, [sample], 1, ShardInfo(config_hash="test"))
    settings = EvalSettings(fit=FitSettings(full_steps=60), max_images=1, overlays=1)
    seen = []

    def truth_lookup(item: dict) -> TruthMesh:
        seen.append((item["dataset"], item["scan"], item["view"]))
        return truth

    table = evaluate(standin_model_path, tiny_checkpoint, [shard], truth_lookup, tmp_path / "eval",
                     settings, subjects={"synthetic/s000"})
    assert list(shard_samples([shard], subjects={"synthetic/s001"})) == []
    assert seen == [("synthetic", sample["scan"], 0)]
    assert json.loads((tmp_path / "eval" / "fitting.json").read_text())["rows"] == table["rows"]
    rows = table["rows"]
    assert set(rows) == {"oracle", "network", "landmarks"}
    assert rows["oracle"]["images"] == 1 and rows["oracle"]["posed_mean_mm"] < 1.0
    assert rows["oracle"]["neutral_mean_mm"] < 1.5
    # An ideal landmark detector alone does worse than the dense maps.
    assert rows["landmarks"]["posed_mean_mm"] > rows["oracle"]["posed_mean_mm"]
    # The untrained network cannot locate the face: counted as a failed fit, not hidden.
    assert rows["network"] == {**rows["network"], "images": 0, "failed": 1}
    assert "fit did not converge" in table["images"]["network"][0]["failed"]
    assert len(table["overlays"]) == 1 and (tmp_path / "eval" / table["overlays"][0]).is_file()
