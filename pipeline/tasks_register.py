"""Register every scan of a data set to FLAME topology, per scan on Dask, keyed per scan."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

import luigi

from pipeline.config import build, config_hash, section_values
from pipeline.config import registration as registration_section
from pipeline.dask_pool import dask_client, map_with_progress
from pipeline.keyed import KeyedJsonTarget
from pipeline.lock import hold_build_lock
from pipeline.paths import out_dir, registration_dir, truth_dir
from pipeline.sources import dataset_root, list_records, optional_files_statement, record_key
from pipeline.tasks_data import PrepareModel, RawData
from registration.dataset_map import read_map_info, update_topology_map
from registration.scan_budget import split_budget
from registration.worker import (
    prepared_model,
    read_scan_status,
    register_record,
    settings_from,
    summarise_dataset,
)
from rendering.photo_alignment import AlignmentThresholds
from reporting.sections import optional_file_lines
from scans.datasets import LAYOUTS


def effective_settings() -> dict:
    """The full :class:`registration.RegistrationSettings` the workers run with (the config's
    ``[registration]`` values over the dataclass defaults) and the scan budget
    (:class:`registration.scan_budget.ScanBudget`), JSON-ready: part of every key."""
    budget, overrides = split_budget(section_values(registration_section))
    return {**settings_from(overrides).to_json(), "scan_budget": asdict(budget)}


class RegisterDataset(luigi.Task):
    """``<out>/registration/<dataset>/{<scan_id>/..., summary.json, quarantine.json}``.

    A scan is registered again only when its files, the model, the registration settings or
    the photo-alignment thresholds change; the summary's key covers all of them. Where the
    data set's scans share one mesh topology, a second pass registers them again with the
    topology map built from the first (:mod:`registration.dataset_map`); their key then also
    hashes the map's key, which changes only when a scan of its group changes. The settings
    hashed are the full effective :class:`registration.RegistrationSettings` (the config's
    values over the dataclass's defaults), so a default changed in code is a new key too.
    """

    dataset = luigi.Parameter()

    def requires(self) -> dict:
        return {"model": PrepareModel(), "raw": RawData(dataset=self.dataset)}

    def scan_keys(self) -> dict[str, tuple]:
        """scan_id -> (record, key) for every scan currently listed."""
        model_key = PrepareModel().output().key
        effective = effective_settings()
        photo_checks = AlignmentThresholds().to_json()
        return {r.scan_id: (r, config_hash(effective, model_key, record_key(r), photo_checks))
                for r in list_records(self.dataset)}

    def output(self) -> KeyedJsonTarget:
        keys = sorted((scan_id, key) for scan_id, (_, key) in self.scan_keys().items())
        return KeyedJsonTarget(registration_dir(self.dataset) / "summary.json",
                               config_hash(self.dataset, keys))

    def run(self) -> None:
        hold_build_lock(out_dir())
        start = time.perf_counter()
        scans = self.scan_keys()
        if not scans:
            raise RuntimeError(f"{self.dataset}: no scans found under "
                               f"{dataset_root(self.dataset) or 'the synthetic root'} (looked "
                               f"for {LAYOUTS[self.dataset]})")
        statement = optional_files_statement(self.dataset, [r for r, _ in scans.values()])
        if statement:  # said once per data set, before any work (and in the summary)
            print("\n".join(["optional files:", *optional_file_lines(self.dataset, statement)]),
                  file=sys.stderr)
        folder = registration_dir(self.dataset)
        todo = [(record, key) for record, key in scans.values()
                if read_scan_status(folder / record.scan_id).get("base_key") != key]
        settings = section_values(registration_section)
        model_path = self.input()["model"].read()["model_path"]
        common = {"model_path": model_path, "out_dir": str(folder),
                  "truth_dir": str(truth_dir(self.dataset)), "settings": settings}
        with dask_client(build().dask_scheduler, build().local_workers) as client:
            map_with_progress(client, register_record, todo, f"register {self.dataset}",
                              **common)
            statuses = {i: read_scan_status(folder / i) for i in scans}
            _, overrides = split_budget(settings)
            shared = update_topology_map(folder, {i: r for i, (r, _) in scans.items()},
                                         statuses, prepared_model(model_path, overrides),
                                         settings_from(overrides))
            again = []
            if shared is not None:  # second pass: every registered scan, with the map
                map_path, map_key = shared
                for scan_id, (record, key) in scans.items():
                    final = config_hash(key, map_key)
                    status = statuses[scan_id]
                    if status.get("status") == "registered" and status.get("key") != final:
                        again.append((record, final))
                map_with_progress(client, register_record, again,
                                  f"register {self.dataset} (shared topology)",
                                  topology_map_path=str(map_path), **common)
        summary = summarise_dataset(folder, [record.scan_id for record, _ in scans.values()])
        summary.update(dataset=self.dataset, registered_now=len(todo),
                       registered_with_map_now=len(again),
                       topology_map=read_map_info(folder) or None,
                       seconds=time.perf_counter() - start, optional_files=statement)
        self.output().write(summary)
