"""Alignment for the reconstruction benchmark: the 7 landmarks and Umeyama's similarity
(shared with the registration stage, which owns it)."""

from __future__ import annotations

from registration.rigid import Similarity, umeyama

ALIGNMENT_LANDMARKS = (36, 39, 42, 45, 30, 48, 54)
"""Multi-PIE indices of the 7 benchmark landmarks: eye corners, nose tip, mouth corners."""

__all__ = ["ALIGNMENT_LANDMARKS", "Similarity", "umeyama"]
