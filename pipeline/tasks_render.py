"""Render every registered scan's views into HDF5 shards (per shard on Dask), then verify them."""

from __future__ import annotations

import time
from dataclasses import asdict

import luigi

from pipeline.config import build, config_hash, section_values
from pipeline.config import render as render_section
from pipeline.dask_pool import dask_client, map_with_progress
from pipeline.keyed import KeyedJsonTarget
from pipeline.lock import hold_build_lock
from pipeline.paths import out_dir, registration_dir, shards_dir
from pipeline.sources import list_records
from pipeline.tasks_data import PrepareModel
from pipeline.tasks_register import RegisterDataset
from rendering.camera import ViewSampling
from rendering.levels import LEVELS_FOLDER, prepare_level
from rendering.worker import plan_shards, render_shard, stale_shards, write_dataset_manifest
from shards.manifest import verify_folder


def render_settings() -> dict:
    """The render section's values plus the :class:`rendering.ViewSampling` defaults the
    worker fills in for every range the config does not set (``view_sampling``): both are
    part of every shard's key, so a default changed in code re-renders."""
    return {**section_values(render_section), "view_sampling": asdict(ViewSampling())}


class PrepareScanLevels(luigi.Task):
    """``<out>/shards/<dataset>/lod/<scan_id>.npz``: each dense scan decimated once for the
    render settings' views (:mod:`rendering.levels`), per scan on Dask; scans too small to
    need it are not read. ``levels.json`` records the task's key, counts and timing."""

    dataset = luigi.Parameter()

    def requires(self) -> RegisterDataset:
        return RegisterDataset(dataset=self.dataset)

    def output(self) -> KeyedJsonTarget:
        settings = render_settings()
        level_settings = {k: settings[k]
                          for k in ("resolution", "scan_pixels_per_edge", "scan_min_faces",
                                    "view_sampling")}
        return KeyedJsonTarget(shards_dir(self.dataset) / LEVELS_FOLDER / "levels.json",
                               config_hash(level_settings, self.requires().output().key))

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        registered = self.input().read()["registered_ids"]
        records = {r.scan_id: r for r in list_records(self.dataset)}
        with dask_client(build().dask_scheduler, build().local_workers) as client:
            done = map_with_progress(client, prepare_level,
                                     [records[i].to_json() for i in registered],
                                     f"levels {self.dataset}",
                                     registration_dir=str(registration_dir(self.dataset)),
                                     shards_dir=str(shards_dir(self.dataset)),
                                     settings=render_settings())
        counts = {level: sum(d["level"] == level for d in done)
                  for level in ("full", "cached", "decimated", "failed")}
        self.output().write({"dataset": self.dataset, **counts,
                             "failed_scans": [d for d in done if d["level"] == "failed"],
                             "decimation_cpu_s": round(sum(d.get("cpu_s", 0.0) for d in done), 2),
                             "faces_drawn": {d["scan_id"]: d["faces_used"] for d in done
                                             if "faces_used" in d},
                             "seconds": time.perf_counter() - start})


class RenderDataset(luigi.Task):
    """``<out>/shards/<dataset>/{shard-*.h5, manifest.json}``; only changed shards are rewritten.

    ``render.json`` beside them records the task's key, counts and timing.
    """

    dataset = luigi.Parameter()

    def requires(self) -> dict:
        return {"model": PrepareModel(), "registration": RegisterDataset(dataset=self.dataset),
                "levels": PrepareScanLevels(dataset=self.dataset)}

    def output(self) -> KeyedJsonTarget:
        settings = render_settings()
        upstream = RegisterDataset(dataset=self.dataset).output().key
        return KeyedJsonTarget(shards_dir(self.dataset) / "render.json",
                               config_hash(settings, build().seed, upstream))

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        settings = render_settings()
        registered = self.input()["registration"].read()["registered_ids"]
        records = {r.scan_id: r for r in list_records(self.dataset)}
        shards_dir(self.dataset).mkdir(parents=True, exist_ok=True)
        jobs = plan_shards(self.dataset, [records[i] for i in registered],
                           registration_dir(self.dataset), shards_dir(self.dataset),
                           settings=settings, seed=build().seed)
        todo = stale_shards(jobs, shards_dir(self.dataset))
        model_path = self.input()["model"].read()["model_path"]
        with dask_client(build().dask_scheduler, build().local_workers) as client:
            map_with_progress(client, render_shard, todo, f"render {self.dataset}",
                              resources={"GPU": 1} if build().gpu_render_workers else None,
                              model_path=model_path)
        manifest = write_dataset_manifest(shards_dir(self.dataset), jobs,
                                          config_hash=self.output().key)
        manifest.update(rendered_now=len(todo), seconds=time.perf_counter() - start,
                        levels=self.input()["levels"].read())
        self.output().write(manifest)


class VerifyShards(luigi.Task):
    """Every shard checked against the manifest (sha256, count, schema)."""

    dataset = luigi.Parameter()

    def requires(self) -> RenderDataset:
        return RenderDataset(dataset=self.dataset)

    def output(self) -> KeyedJsonTarget:
        return KeyedJsonTarget(shards_dir(self.dataset) / "verified.json",
                               self.requires().output().key)

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        problems = verify_folder(shards_dir(self.dataset))
        if problems:
            raise RuntimeError(f"{shards_dir(self.dataset)}: shards failed verification:\n  "
                               + "\n  ".join(problems))
        self.output().write({"dataset": self.dataset, "problems": [],
                             "seconds": time.perf_counter() - start})
