"""The Luigi build: end to end, incremental and keyed, per data set, on Dask, under faults.

Each build runs as a subprocess (``python -m luigi --module pipeline ...``) so that Luigi's
config and Dask's cluster are fresh for each; settings are given on the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shards import verify_folder
from synthetic import write_synthetic

pytestmark = pytest.mark.slow  # whole builds through Luigi: minutes each

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--data-synthetic-subjects", "2", "--data-synthetic-expressions", "1",
         "--data-synthetic-scan-vertices", "12000", "--render-resolution", "64",
         "--render-views-per-scan", "3", "--render-photo-views-per-scan", "1",
         "--render-samples-per-shard", "4", "--registration-fit-points", "1500"]
TINY_TRAIN = ["--train-steps", "150", "--train-batch-size", "4", "--train-resolution", "48",
              "--fit-images", "1", "--fit-iterations", "20"]


def luigi_build(out: Path, *args: str, env: dict | None = None, check: bool = True,
                timeout: float = 400) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "luigi", "--module", "pipeline", *args, "--local-scheduler",
               "--build-out-dir", str(out)]
    run_env = {k: v for k, v in os.environ.items() if k != "LUIGI_CONFIG_PATH"}
    run_env.update(env or {})
    result = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"build failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def ran(result: subprocess.CompletedProcess) -> str:
    """The 'ran successfully' part of Luigi's execution summary."""
    text = result.stderr
    start = text.find("ran successfully")
    if start < 0:
        return ""
    end = text.find("\n* ", start + 1)
    return text[start:end if end > 0 else None]


def stamps(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


def read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole small build (two data sets, training and fitting included)."""
    out = tmp_path_factory.mktemp("build")
    luigi_build(out, "BuildAll", "--build-datasets", '["nphm", "facescape"]', *SMALL,
                *TINY_TRAIN)
    return out


def test_default_build_end_to_end_writes_every_output(built):
    """Counts, verified shards, ground-truth registration error, the trained network against
    the mean baseline on held-out subjects, the fitting rows, the report page."""
    summary = read(built / "report" / "summary.json")
    assert set(summary["datasets"]) == {"nphm", "facescape"}
    for name, figures in summary["datasets"].items():
        assert figures["registration"]["registered"] == 2, name
        assert figures["samples"] == 2 * 3 + (2 if name == "facescape" else 0)
        assert verify_folder(built / "shards" / name) == []
        assert figures["registration"]["truth_error_mm"]["registered"]["mean"] < 2.0
        statement = {e["file"]: e for e in figures["registration"]["optional_files"]}
        if name == "facescape":  # toolkit files found in the toolkit's predef/, said once
            assert statement["landmark_indices.npz"]["found"]
            assert statement["Rt_scale_dict.json"]["path"].endswith(
                "toolkit/predef/Rt_scale_dict.json")
        if name == "facescape":  # photo views lined up with the scan, measured in the build
            photos = figures["photo_alignment"]
            assert photos["accepted"] == photos["views"] == 2 * 3
            assert photos["iou"]["min"] >= 0.98 and photos["landmark_px"]["max"] < 2.0
    model, baseline = summary["training"]["model"], summary["training"]["mean_baseline"]
    # Even a tiny 150-step run on 11 images beats the constant mean predictor.
    assert model["normal_angle_mean_deg"] < baseline["normal_angle_mean_deg"] - 5.0
    assert model["vertex_px_error_mean"] < 0.75 * baseline["vertex_px_error_mean"]
    assert model["uv_l1_mean"] < baseline["uv_l1_mean"]
    assert {"oracle", "network", "landmarks"} <= set(summary["fitting"]["rows"])
    page = (built / "report" / "index.html").read_text()
    assert "data:image/png;base64," in page and "Registration accuracy" in page
    assert "Photo alignment" in page and "photo-0.png" in page and "Optional files" in page
    for stage in ("train", "fit and evaluate", "register nphm", "render facescape",
                  "levels of detail nphm"):
        assert summary["timings_s"][stage] > 0
    for name in ("nphm", "facescape"):  # small scans: drawn as they are, not even read again
        levels = read(built / "shards" / name / "lod" / "levels.json")
        assert (levels["full"], levels["decimated"], levels["failed"]) == (2, 0, 0), levels


def test_rerun_with_nothing_changed_does_nothing(built):
    before = stamps(built)
    result = luigi_build(built, "BuildAll", "--build-datasets", '["nphm", "facescape"]',
                         *SMALL, *TINY_TRAIN)
    assert "Did not run any tasks" in result.stderr
    assert stamps(built) == before


def test_render_setting_rerenders_one_dataset_without_registering(built):
    registration_before = stamps(built / "registration")
    nphm_before = stamps(built / "shards" / "nphm")
    changed = [a if a != "3" else "4" for a in SMALL]  # views_per_scan 3 -> 4
    result = luigi_build(built, "BuildAll", "--dataset", "facescape", *changed)
    assert "RenderDataset(dataset=facescape)" in ran(result)
    assert "RegisterDataset" not in ran(result)
    assert stamps(built / "registration") == registration_before
    assert stamps(built / "shards" / "nphm") == nphm_before
    render = read(built / "shards" / "facescape" / "render.json")
    assert render["samples"] == 2 * 4 + 2 and render["rendered_now"] == render["shards"]
    assert verify_folder(built / "shards" / "facescape") == []


@pytest.fixture(scope="module")
def nphm_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real-layout NPHM root with subjects 1-2, and subject 3 kept aside."""
    source = tmp_path_factory.mktemp("nphm_source")
    write_synthetic("nphm", source, source.parent / "nphm_truth", subjects=3, expressions=1,
                    seed=0, scan_vertices=12000, texture_tile=64)
    subjects = sorted(p.name for p in source.iterdir() if p.is_dir() and p.name.isdigit())
    root = tmp_path_factory.mktemp("nphm_root")
    for item in source.iterdir():
        if item.name != subjects[-1]:
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, root / item.name)
    return root, source / subjects[-1]


ROOT_ARGS = ["--render-resolution", "64", "--render-views-per-scan", "2",
             "--render-photo-views-per-scan", "0", "--render-samples-per-shard", "2",
             "--registration-fit-points", "1500"]


def test_added_scan_registers_only_itself_and_writes_only_its_shard(tmp_path, nphm_root):
    root, extra_subject = nphm_root
    root = shutil.copytree(root, tmp_path / "root")
    out = tmp_path / "out"
    args = ["BuildDataset", "--dataset", "nphm", "--data-nphm-root", str(root), *ROOT_ARGS]
    luigi_build(out, *args)
    first = read(out / "registration" / "nphm" / "summary.json")
    assert first["registered"] == 2 and first["registered_now"] == 2
    shards_before = stamps(out / "shards" / "nphm")
    shutil.copytree(extra_subject, root / extra_subject.name)
    luigi_build(out, *args)
    second = read(out / "registration" / "nphm" / "summary.json")
    assert second["registered"] == 3 and second["registered_now"] == 1
    shards_after = stamps(out / "shards" / "nphm")
    old = [n for n in shards_before if n.endswith(".h5")]
    new = [n for n in shards_after if n.endswith(".h5") and n not in old]
    assert len(old) == 2 and all(shards_after[n] == shards_before[n] for n in old)
    manifest = {r["name"]: r for r in read(out / "shards" / "nphm" / "manifest.json")["shards"]}
    added = set(second["registered_ids"]) - set(first["registered_ids"])
    assert len(new) == 1 and {i.split("/")[1] for i in manifest[new[0]]["sample_ids"]} == added
    assert verify_folder(out / "shards" / "nphm") == []


@pytest.fixture()
def dask_cluster(tmp_path):
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0",
                               "--scheduler-file", str(scheduler_file)],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    for _ in range(2):
        procs.append(subprocess.Popen(
            [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
             "--host", "127.0.0.1", "--dashboard-address", ":0"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    yield address
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_external_cluster_build_survives_a_killed_worker(tmp_path, nphm_root, dask_cluster):
    root = nphm_root[0]
    args = ["BuildDataset", "--dataset", "nphm", "--data-nphm-root", str(root), *ROOT_ARGS,
            "--render-views-per-scan", "6", "--render-resolution", "96",
            "--build-dask-scheduler", dask_cluster]
    calm = tmp_path / "calm"
    luigi_build(calm, *args)
    disturbed = tmp_path / "disturbed"
    command = [sys.executable, "-m", "luigi", "--module", "pipeline", *args,
               "--local-scheduler", "--build-out-dir", str(disturbed)]
    build = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    shards = disturbed / "shards" / "nphm"
    killed = None
    deadline = time.time() + 300
    while killed is None and build.poll() is None and time.time() < deadline:
        for partial in shards.glob(".shard-*.tmp-*") if shards.exists() else []:
            pid = int(partial.name.rsplit("-", 1)[1])
            try:
                os.kill(pid, signal.SIGKILL)  # the worker writing this shard, mid-write
                killed = pid
            except ProcessLookupError:
                continue
            break
        time.sleep(0.02)
    _, stderr = build.communicate(timeout=300)
    assert build.returncode == 0, stderr[-4000:]
    assert killed is not None, "no shard was seen being written"
    calm_manifest = read(calm / "shards" / "nphm" / "manifest.json")
    disturbed_manifest = read(shards / "manifest.json")
    assert ([(s["name"], s["sha256"]) for s in calm_manifest["shards"]]
            == [(s["name"], s["sha256"]) for s in disturbed_manifest["shards"]])
    assert verify_folder(shards) == []
    assert not list(shards.glob(".shard-*"))


def test_two_builds_at_once_corrupt_nothing(tmp_path, nphm_root):
    out = tmp_path / "out"
    common = ["--data-nphm-root", str(nphm_root[0]), *ROOT_ARGS, "--local-scheduler",
              "--build-out-dir", str(out)]
    luigi = [sys.executable, "-m", "luigi", "--module", "pipeline"]
    # Different command lines, so Luigi's own pid lock does not step in: the build lock must.
    first = subprocess.Popen([*luigi, "BuildDataset", "--dataset", "nphm", *common], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (out / ".build.lock").exists() and first.poll() is None:
        time.sleep(0.05)
    second = subprocess.run([*luigi, "BuildAll", "--dataset", "nphm", *common], cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-3000:]
    assert second.returncode != 0
    assert "another build" in second.stderr and str(out) in second.stderr
    assert verify_folder(out / "shards" / "nphm") == []
    assert read(out / "registration" / "nphm" / "summary.json")["registered"] == 2


@pytest.mark.parametrize(("line", "named"), [("resolutoin = 64", "resolutoin"),
                                             ("resolution = big", "resolution")])
def test_config_typo_stops_the_build_before_any_work(tmp_path, line, named):
    config = tmp_path / "typo.cfg"
    config.write_text((REPO / "configs" / "default.cfg").read_text()
                      .replace("[render]\n", f"[render]\n{line}\n", 1)
                      .replace("resolution = 128\n", "", 1 if "big" in line else 0))
    out = tmp_path / "out"
    result = luigi_build(out, "BuildAll", env={"LUIGI_CONFIG_PATH": str(config)}, check=False)
    assert result.returncode != 0
    assert named in result.stderr and "[render]" in result.stderr
    assert not (out / "model").exists() and not (out / "raw").exists()
