"""The build report: ``<out>/report/index.html`` and ``<out>/report/summary.json``."""

from __future__ import annotations

import sys
from pathlib import Path

import luigi

from pipeline.config import build, config_files, config_hash
from pipeline.keyed import KeyedJsonTarget, read_json
from pipeline.lock import hold_build_lock
from pipeline.paths import out_dir, raw_dir, registration_dir, report_dir, shards_dir
from pipeline.sources import dataset_root
from pipeline.tasks_data import PrepareModel
from pipeline.tasks_fit import Evaluate
from pipeline.tasks_register import RegisterDataset
from pipeline.tasks_render import RenderDataset, VerifyShards
from pipeline.tasks_train import Train
from reporting import sections
from reporting.page import write_report


class Report(luigi.Task):
    """One self-contained page and its machine-readable twin, over every stage's outputs."""

    def requires(self) -> dict:
        datasets = list(build().datasets)
        return {"model": PrepareModel(),
                "registration": {d: RegisterDataset(dataset=d) for d in datasets},
                "render": {d: RenderDataset(dataset=d) for d in datasets},
                "verify": {d: VerifyShards(dataset=d) for d in datasets},
                "train": Train(), "fitting": Evaluate()}

    def output(self) -> KeyedJsonTarget:
        keys = [task.output().key for task in luigi.task.flatten(self.requires())]
        return KeyedJsonTarget(report_dir() / "report.json", config_hash(keys))

    def run(self) -> None:
        hold_build_lock(out_dir())
        inputs = self.input()
        model = inputs["model"].read()
        registration = {d: t.read() for d, t in inputs["registration"].items()}
        render = {d: t.read() for d, t in inputs["render"].items()}
        trained, fitting = inputs["train"].read(), inputs["fitting"].read()
        quarantine = {d: read_json(registration_dir(d) / "quarantine.json")
                      for d in registration}
        synthesis = {d: read_json(raw_dir(d) / "synthetic.json") for d in registration
                     if dataset_root(d) is None}
        summary = {
            "out_dir": str(out_dir()), "config_files": config_files(),
            "model": model["summary"],
            "datasets": {d: {"registration": registration[d], "quarantine": quarantine[d],
                             "samples": render[d]["samples"], "shards": render[d]["shards"],
                             "bytes": render[d]["bytes"],
                             "quarantined": registration[d]["quarantined"],
                             "photo_alignment": registration[d].get("photos")}
                         for d in registration},
            "timings_s": sections.stage_timings(model, synthesis, registration, render,
                                                trained, fitting),
            "config_hashes": {t.task_id: t.output().key
                              for t in luigi.task.flatten(self.requires())},
            "training": trained["table"], "fitting": fitting["table"],
        }
        pictures = report_dir() / "pictures"
        page_sections = [
            ("Data sets", sections.dataset_table(summary["datasets"])),
            ("Optional files", sections.optional_files(
                {d: r.get("optional_files", []) for d, r in registration.items()})),
            ("Quarantined scans", sections.quarantine_list(quarantine)),
            ("Registration accuracy", sections.registration_table(registration)),
            ("Registration signals", sections.registration_signals(registration)),
            ("Registration error heat-maps",
             sections.heatmaps({d: registration_dir(d) for d in registration}, registration)),
            ("Photo alignment",
             sections.photo_alignment(registration,
                                      {d: registration_dir(d) for d in registration})),
            ("Samples (rgb | normal | uv | mask)",
             sections.contact_sheets({d: shards_dir(d) for d in render}, pictures,
                                     build().seed)),
            ("Training (held-out subjects)",
             sections.training(trained["table"], Path(trained["curves_png"]))),
            ("Single-image FLAME fitting (held-out subjects)",
             sections.fitting(fitting["table"], Path(fitting["out_dir"]))),
            ("Timings", sections.timings(summary["timings_s"])),
            ("Config hashes", sections.hashes(summary["config_hashes"])),
        ]
        index = write_report(report_dir(), "facefactory build report", page_sections, summary)
        self.output().write({"index": str(index)})
        print(sections.console_summary(summary, index.resolve()), file=sys.stderr)
