"""Training: resume equals an unbroken run, held-out evaluation beats the mean baseline,
inference CLI writes maps and refuses bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from network.__main__ import main
from network.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from network.config import ModelConfig, TrainConfig
from network.train import train_on_dataset
from network.uv_mirror import UvMirror
from synthetic.sphere_faces import SphereFaces, grid_vertex_uv

TINY_MODEL = ModelConfig(resolution=32, patch_size=8, head_dim=32, head_heads=2,
                         head_blocks=4, decoder_channels=(16, 16, 8))
TINY_RUN = TrainConfig(model=TINY_MODEL, steps=6, batch_size=4, warmup_steps=2,
                       checkpoint_every=2, keep_checkpoints=2, val_every=3, val_batches=1,
                       num_workers=0, eval_max_samples=4, baseline_samples=8)


class Killed(Exception):
    """Stands in for a kill in the middle of a run."""


@pytest.fixture(autouse=True)
def one_thread():
    """Single-threaded torch: fast and reproducible on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DINOv2 backbone is RANDOMLY")
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def spheres_32() -> SphereFaces:
    return SphereFaces(subjects=4, views=4, size=48, seed=2)  # resized to 32 in the loader


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, spheres_32):
    out = tmp_path_factory.mktemp("unbroken")
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_on_dataset(spheres_32, TINY_RUN, out, uv_mirror=UvMirror.symmetric_u(),
                                  progress=False)
    return result


def test_killed_run_resumes_to_the_same_weights(tiny_run, spheres_32, tmp_path):
    def kill_at_step_5(step, row):
        if step == 5:
            raise Killed

    mirror = UvMirror.symmetric_u()
    with pytest.raises(Killed):
        train_on_dataset(spheres_32, TINY_RUN, tmp_path, uv_mirror=mirror, progress=False,
                         on_step=kill_at_step_5)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == [
        "step-00000002.pt", "step-00000004.pt"]
    assert not (tmp_path / "eval.json").exists()
    steps_seen = []
    resumed = train_on_dataset(spheres_32, TINY_RUN, tmp_path, uv_mirror=mirror,
                               progress=False, on_step=lambda step, row: steps_seen.append(step))
    assert steps_seen == [5, 6]

    unbroken = load_checkpoint(tiny_run.checkpoint)["model"]
    again = load_checkpoint(resumed.checkpoint)["model"]
    assert all(torch.equal(unbroken[name], again[name]) for name in unbroken)
    assert resumed.table == tiny_run.table
    curves = (tmp_path / "curves.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in curves[1:]] == ["1", "2", "3", "4", "5", "6"]
    # A finished run is returned as stored, without training.
    assert train_on_dataset(spheres_32, TINY_RUN, tmp_path, uv_mirror=mirror, progress=False,
                            on_step=lambda *_: pytest.fail("trained again")).table == resumed.table


def test_run_folder_of_another_config_is_refused(tiny_run, spheres_32):
    other = TrainConfig(**{**TINY_RUN.__dict__, "lr_head": 1e-3})
    with pytest.raises(CheckpointError, match="eval.json"):
        train_on_dataset(spheres_32, other, tiny_run.out_dir, uv_mirror=UvMirror.symmetric_u(),
                         progress=False)


@pytest.mark.slow
def test_trained_model_beats_the_mean_baseline_on_held_out_subjects(tmp_path):
    spheres = SphereFaces(subjects=6, views=8, size=64, seed=0)
    model = ModelConfig(resolution=64, patch_size=8, head_dim=64, head_heads=4,
                        decoder_channels=(32, 16, 16))
    config = TrainConfig(model=model, steps=150, batch_size=8, lr_head=1e-3, lr_backbone=1e-3,
                         warmup_steps=10, checkpoint_every=150, val_every=50, val_batches=1,
                         num_workers=0, eval_max_samples=None, uv_match_threshold=0.02)
    result = train_on_dataset(spheres, config, tmp_path, vertex_uv=grid_vertex_uv(),
                              uv_mirror=UvMirror.symmetric_u(), progress=False)

    split = json.loads((tmp_path / "split.json").read_text())
    assert not set(split["train_subjects"]) & set(split["val_subjects"])
    model_row, baseline = result.table["model"], result.table["mean_baseline"]
    assert model_row["images"] == split["val_samples"] == 8
    assert model_row["normal_angle_mean_deg"] < 0.7 * baseline["normal_angle_mean_deg"]
    assert model_row["normal_within_30deg_pct"] > baseline["normal_within_30deg_pct"] + 30
    assert model_row["uv_l1_mean"] < 0.5 * baseline["uv_l1_mean"]
    assert model_row["vertices_located_pct"] > 80
    assert model_row["vertex_px_error_mean"] < 8.0  # pixels, on 64x64 images
    assert result.curves_png.stat().st_size > 1000
    assert "model" in json.loads((tmp_path / "eval.json").read_text())["table"]


def test_predict_cli_writes_maps(tiny_run, spheres_32, tmp_path):
    image_path = tmp_path / "face.png"
    rgb = (spheres_32[0]["rgb"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(rgb).save(image_path)
    out = tmp_path / "pred"
    assert main(["predict", str(image_path), "--checkpoint", str(tiny_run.checkpoint),
                 "--out", str(out), "--flip-tta"]) == 0
    normals = np.load(out / "face_normal.npy")
    uv = np.load(out / "face_uv.npy")
    assert normals.shape == (32, 32, 3) and uv.shape == (32, 32, 2)
    assert np.allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-4)
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    png = np.asarray(Image.open(out / "face_normal.png"))
    assert np.abs(png.astype(float) - np.round((normals + 1) / 2 * 255)).max() <= 1


def test_predict_cli_refuses_bad_image_and_foreign_checkpoint(tiny_run, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    code = main(["predict", str(broken), "--checkpoint", str(tiny_run.checkpoint),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "broken.png: not a readable image" in capsys.readouterr().err

    state = load_checkpoint(tiny_run.checkpoint)
    state["model"]["normal_head.proj.weight"] = torch.zeros(5, 5)  # other architecture
    foreign = tmp_path / "foreign.pt"
    torch.save(state, foreign)
    code = main(["predict", str(broken), "--checkpoint", str(foreign), "--out", str(tmp_path)])
    assert code == 2 and "do not fit the architecture" in capsys.readouterr().err

    other_config = tmp_path / "other.json"
    other_config.write_text(json.dumps({**TINY_RUN.to_dict(), "steps": 7}))
    code = main(["predict", str(broken), "--checkpoint", str(tiny_run.checkpoint),
                 "--out", str(tmp_path), "--config", str(other_config)])
    assert code == 2 and "checkpoint is from config" in capsys.readouterr().err


def test_training_through_real_shards(tmp_path):
    shards = pytest.importorskip("shards", reason="shards not importable (editable install "
                                 "predates it: pip install -e . --no-deps)")
    ShardInfo, write_shard = shards.ShardInfo, shards.write_shard

    from network.train import train
    from synthetic.sphere_faces import to_shard_sample

    spheres = SphereFaces(subjects=3, views=4, size=48, seed=5)
    paths = []
    for shard, indices in enumerate((range(0, 6), range(6, 12))):
        path = tmp_path / f"shard-{shard:05d}.h5"
        write_shard(path, (to_shard_sample(spheres[i]) for i in indices), len(indices),
                    ShardInfo(config_hash="test"))
        paths.append(path)
    config = TrainConfig(**{**TINY_RUN.__dict__, "steps": 3, "val_every": 0})
    result = train(config, paths, tmp_path / "run", progress=False)
    assert result.split["train_samples"] + result.split["val_samples"] == 12
    assert len(result.split["val_subjects"]) == 1 and result.split["val_samples"] == 4
    assert result.table["model"]["images"] == 4  # eval_max_samples of the held-out subject
    assert result.checkpoint.name == "step-00000003.pt"
