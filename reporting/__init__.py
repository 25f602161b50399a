"""The build report: one self-contained HTML page and a machine-readable summary.json."""

from reporting.page import write_report

__all__ = ["write_report"]
