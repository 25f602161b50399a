"""Luigi tasks wiring the stages: ``luigi --module pipeline BuildAll --local-scheduler``.

``configs/default.cfg`` is read first unless ``LUIGI_CONFIG_PATH`` names another config
(``configs/full.cfg``); a ``luigi.cfg`` in the working directory and the command line
override it. No geometry, rendering or training code lives here: each task calls one
function of a stage package.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import luigi.configuration

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.cfg"


def _read_default_config() -> None:
    if os.environ.get("LUIGI_CONFIG_PATH"):
        return
    parser = luigi.configuration.get_config()
    paths = type(parser)._config_paths
    if str(DEFAULT_CONFIG) not in paths:
        paths.insert(0, str(DEFAULT_CONFIG))
        parser.reload()


class _SummaryOnly(logging.Filter):
    """Of Luigi's INFO chatter keep the execution summary; warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "Execution Summary" in str(record.msg)


_read_default_config()
logging.getLogger("luigi-interface").addFilter(_SummaryOnly())

from pipeline.build import BuildAll, BuildDataset  # noqa: E402
from pipeline.tasks_data import PrepareModel, RawData, SynthesizeDataset  # noqa: E402
from pipeline.tasks_fit import Evaluate  # noqa: E402
from pipeline.tasks_register import RegisterDataset  # noqa: E402
from pipeline.tasks_render import RenderDataset, VerifyShards  # noqa: E402
from pipeline.tasks_report import Report  # noqa: E402
from pipeline.tasks_train import Train  # noqa: E402

__all__ = ["BuildAll", "BuildDataset", "Evaluate", "PrepareModel", "RawData",
           "RegisterDataset", "RenderDataset", "Report", "SynthesizeDataset", "Train",
           "VerifyShards"]
