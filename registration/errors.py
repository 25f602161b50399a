"""The one exception the registration stage raises for a scan it cannot register."""

from __future__ import annotations


class RegistrationError(ValueError):
    """A scan could not be registered; ``reason`` says why in words a quarantine list can show.

    Parameters
    ----------
    reason : str
        What is wrong (e.g. "NaN coordinates in 12 of 30000 points").
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
