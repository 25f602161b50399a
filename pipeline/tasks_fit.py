"""Fit FLAME to held-out test images from predicted maps, and evaluate against ground truth."""

from __future__ import annotations

import time

import luigi

from fitting.evaluate import TruthMesh, evaluate, truth_from_npz
from fitting.settings import EvalSettings, FitSettings
from pipeline.config import build, config_hash, section_values
from pipeline.config import fit as fit_section
from pipeline.keyed import KeyedJsonTarget
from pipeline.lock import hold_build_lock
from pipeline.paths import fitting_dir, out_dir, registration_dir, shards_dir, truth_dir
from pipeline.tasks_data import PrepareModel
from pipeline.tasks_train import Train
from rendering.worker import to_sample_frame
from shards.manifest import list_shards


def truth_of_sample(sample: dict) -> TruthMesh:
    """The synthetic ground truth of a shard sample, in the frame of its cameras."""
    dataset, scan = sample["dataset"], sample["scan"]
    truth = truth_from_npz(truth_dir(dataset) / scan / "truth.npz")
    reg = registration_dir(dataset) / scan
    neutral = None if truth.neutral_m is None else to_sample_frame(truth.neutral_m, reg)
    return TruthMesh(posed_m=to_sample_frame(truth.posed_m, reg), neutral_m=neutral)


class Evaluate(luigi.Task):
    """``<out>/fitting/<key>/fitting.json``: oracle, network and landmark-baseline rows on
    held-out subjects (posed and neutral error in mm after 7-landmark alignment)."""

    def requires(self) -> dict:
        return {"model": PrepareModel(), "train": Train()}

    def output(self) -> KeyedJsonTarget:
        key = config_hash(section_values(fit_section), Train().output().key)
        return KeyedJsonTarget(out_dir() / "fitting" / "result.json", key)

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        trained = self.input()["train"].read()
        settings = fit_section()
        held_out = set(trained["split"]["val_subjects"])
        shard_paths = [p for d in build().datasets for p in list_shards(shards_dir(d))]
        eval_settings = EvalSettings(fit=FitSettings(full_steps=settings.iterations),
                                     max_images=settings.images)
        folder = fitting_dir(self.output().key)
        table = evaluate(self.input()["model"].read()["model_path"], trained["checkpoint"],
                         shard_paths, truth_of_sample, folder, eval_settings,
                         subjects=held_out)
        self.output().write({"table": table, "out_dir": str(folder),
                             "held_out_subjects": sorted(held_out),
                             "seconds": time.perf_counter() - start})
