"""Which scans share a shard: groups that stay put when a data set changes.

Scans are taken in ``scan_id`` order and a new group starts at every *anchor* scan: one whose
stable hash (sha256 of data set and scan id) falls below ``anchor_rate``. Whether a scan is an
anchor depends on that scan alone (content-defined chunking, as rsync and restic cut files),
so adding, removing or changing one scan changes at most two groups: its own, and the one
before it when the scan is an anchor (that group loses or regains the scans after it). Cutting
the samples in fixed-size runs instead shifts every later shard.

A group is one shard, named after its first scan; with ``anchor_rate = samples a scan gives /
samples_per_shard`` shards hold ``samples_per_shard`` samples on average (group lengths are
geometric, so sizes vary). A group of more than :data:`MAX_SHARD_FACTOR` x
``samples_per_shard`` samples is cut into that many nearly equal parts (``-p0``, ``-p1``...).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_SHARD_FACTOR = 4
"""A shard holds at most this many times ``samples_per_shard`` samples."""


@dataclass(frozen=True)
class ShardGroup:
    """One planned shard: its file name and the (scan_id, first, stop) sample ranges it holds,
    indices into each scan's own list of samples."""

    name: str
    ranges: tuple[tuple[str, int, int], ...]

    @property
    def n_samples(self) -> int:
        return sum(stop - first for _, first, stop in self.ranges)


def anchor_rate(samples_per_scan: int, samples_per_shard: int) -> float:
    """Share of scans that start a group, from the settings alone (never from the data set's
    content, which would move every boundary when one scan changes)."""
    if samples_per_shard <= 0:
        raise ValueError(f"samples_per_shard must be positive, got {samples_per_shard}")
    return min(1.0, max(samples_per_scan, 1) / samples_per_shard)


def is_anchor(dataset: str, scan_id: str, rate: float) -> bool:
    """Whether ``scan_id`` starts a group: its sha256 as a fraction in [0, 1) is below ``rate``."""
    digest = hashlib.sha256(f"{dataset}|{scan_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < rate


def plan_groups(dataset: str, scans: Sequence[tuple[str, int]], samples_per_shard: int,
                samples_per_scan: int) -> list[ShardGroup]:
    """Shards of a data set.

    Parameters
    ----------
    dataset : data-set name (part of the anchor hash)
    scans : (scan_id, number of samples) of every scan, any order; ids unique
    samples_per_shard : the mean shard size aimed at
    samples_per_scan : samples a scan gives per the settings (views + photo views)

    Returns
    -------
    the groups in ``scan_id`` order; every sample of every scan is in exactly one.
    """
    ordered = sorted(scans)
    ids = [scan_id for scan_id, _ in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{dataset}: duplicate scan ids")
    rate = anchor_rate(samples_per_scan, samples_per_shard)
    runs: list[list[tuple[str, int]]] = []
    for scan_id, count in ordered:
        if count <= 0:
            continue
        if not runs or is_anchor(dataset, scan_id, rate):
            runs.append([])
        runs[-1].append((scan_id, count))
    groups = []
    for run in runs:
        groups += _cut(run, MAX_SHARD_FACTOR * samples_per_shard)
    return groups


def _cut(run: list[tuple[str, int]], max_samples: int) -> list[ShardGroup]:
    """A run of scans as one shard, or as nearly equal parts of at most ``max_samples``."""
    total = sum(count for _, count in run)
    parts = math.ceil(total / max_samples)
    name = f"shard-{run[0][0]}"
    if parts == 1:
        return [ShardGroup(f"{name}.h5", tuple((s, 0, c) for s, c in run))]
    bounds = [round(total * k / parts) for k in range(parts + 1)]
    groups = []
    for k in range(parts):
        ranges, offset = [], 0
        for scan_id, count in run:
            first, stop = max(bounds[k] - offset, 0), min(bounds[k + 1] - offset, count)
            if first < stop:
                ranges.append((scan_id, first, stop))
            offset += count
        groups.append(ShardGroup(f"{name}-p{k}.h5", tuple(ranges)))
    return groups
