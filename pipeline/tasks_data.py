"""Model preparation and raw data: the FLAME model in use, and the synthetic data sets."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import luigi

from flame import load_model
from flame.standin import build_standin
from pipeline.config import build, config_hash, data, model, section_values
from pipeline.keyed import KeyedJsonTarget
from pipeline.lock import hold_build_lock
from pipeline.paths import model_dir, out_dir, raw_dir, truth_dir
from pipeline.sources import dataset_root, file_stamp
from synthetic import write_synthetic


class PrepareModel(luigi.Task):
    """The FLAME model in use: the user's FLAME files, or the stand-in built from ICT."""

    def output(self) -> KeyedJsonTarget:
        settings = section_values(model)
        stamp = file_stamp(settings["flame_path"]) if settings["flame_path"] else None
        return KeyedJsonTarget(model_dir() / "model.json", config_hash(settings, stamp))

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        settings = model()
        if settings.flame_path:
            path = Path(settings.flame_path)
        else:
            path = build_standin(model_dir(), settings.ict_path or None)
        summary = load_model(path).summary()
        self.output().write({"model_path": str(path.resolve()), "standin": not settings.flame_path,
                             "summary": summary, "seconds": time.perf_counter() - start})


class SynthesizeDataset(luigi.Task):
    """A synthetic data set in the real layout under ``<out>/raw/<dataset>/`` (truth aside)."""

    dataset = luigi.Parameter()

    def output(self) -> KeyedJsonTarget:
        settings = section_values(data)
        key = config_hash(self.dataset, build().seed, settings["synthetic_subjects"],
                          settings["synthetic_expressions"], settings["synthetic_scan_vertices"],
                          section_values(model)["ict_path"], settings["nphm_scan_faces"])
        return KeyedJsonTarget(raw_dir(self.dataset) / "synthetic.json", key)

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        settings = data()
        for stale in (raw_dir(self.dataset), truth_dir(self.dataset)):
            shutil.rmtree(stale, ignore_errors=True)  # written by this task only
        report = write_synthetic(
            self.dataset, raw_dir(self.dataset), truth_dir(self.dataset),
            subjects=settings.synthetic_subjects, expressions=settings.synthetic_expressions,
            seed=build().seed, scan_vertices=settings.synthetic_scan_vertices,
            texture_tile=settings.synthetic_texture_tile, views=3,
            photo_size=(settings.synthetic_photo_width, settings.synthetic_photo_height),
            ict_path=model().ict_path or None, nphm_scan_faces=settings.nphm_scan_faces)
        self.output().write({"dataset": self.dataset, "written": report,
                             "seconds": time.perf_counter() - start})


class RawData(luigi.WrapperTask):
    """A data set's scans: the configured real root, or the build's synthetic copy."""

    dataset = luigi.Parameter()

    def requires(self) -> list[luigi.Task]:
        if dataset_root(self.dataset) is not None:
            return []
        return [SynthesizeDataset(dataset=self.dataset)]
