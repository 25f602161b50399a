"""The one error type every adapter raises on bad input."""

from __future__ import annotations

from pathlib import Path


class ScanError(Exception):
    """A scan's file is missing, unreadable or wrong.

    Parameters
    ----------
    path : the file (or folder, or ``zip::member``) at fault
    problem : what is wrong with it, in words
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))
