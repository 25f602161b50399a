"""The top of the graph: one data set (``BuildDataset``) or everything (``BuildAll``)."""

from __future__ import annotations

import luigi
from luigi.task_register import Register

from pipeline.config import DATASETS, build, validate
from pipeline.tasks_render import VerifyShards
from pipeline.tasks_report import Report


def _checked_datasets(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown data set(s) {unknown}; known: {list(DATASETS)}")
    return list(names)


class BuildDataset(luigi.WrapperTask):
    """Register, render and verify one data set; the others are left untouched."""

    dataset = luigi.Parameter()

    def requires(self) -> list[luigi.Task]:
        validate(set(Register.task_names()))
        _checked_datasets([self.dataset])
        return [VerifyShards(dataset=self.dataset)]


class BuildAll(luigi.WrapperTask):
    """Everything: every configured data set, training, fitting, evaluation and the report.

    ``--dataset NAME`` restricts the build to one data set (same as ``BuildDataset``).
    """

    dataset = luigi.Parameter(default="", description="build only this data set")

    def requires(self) -> list[luigi.Task]:
        validate(set(Register.task_names()))
        if self.dataset:
            return [BuildDataset(dataset=self.dataset)]
        _checked_datasets(list(build().datasets))
        return [Report()]
