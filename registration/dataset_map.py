"""The data set's shared-topology map, kept beside its registrations.

``<out>/topology_map.npz`` (the :class:`~registration.topology_map.TopologyMap`) and
``topology_map.json`` (its key, the scans it was built from, coverage and spread) are
written from the scans' first-pass registrations (``unmapped_verts.npy``: registered from
their geometry and landmarks, without the map). The largest group of registered scans sharing
one topology builds it, when it holds at least ``settings.map_min_scans`` scans; its key
hashes those scans' ids and keys, so the map is rebuilt only when one of them changes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np

from atomicfile import write_json
from registration.register import PreparedModel
from registration.settings import RegistrationSettings
from registration.topology_map import TopologyMap, build_topology_map
from scans import ScanRecord
from scans.datasets import load_scan

MAP_FILE = "topology_map.npz"
MAP_INFO = "topology_map.json"
UNMAPPED_VERTS = "unmapped_verts.npy"
"""Per scan: the registration without the map (V, 3) float64, scan frame."""


def read_map_info(folder: Path) -> dict:
    """The data set's ``topology_map.json`` ({} when there is none)."""
    try:
        return json.loads((folder / MAP_INFO).read_text())
    except (OSError, ValueError):
        return {}


def map_group(statuses: dict[str, dict], settings: RegistrationSettings) -> list[str]:
    """Scan ids of the largest group of registered scans with one topology ([] when it is
    smaller than ``settings.map_min_scans``)."""
    topologies = Counter(s["topology"] for s in statuses.values()
                         if s.get("status") == "registered" and s.get("topology"))
    if not topologies:
        return []
    signature, count = topologies.most_common(1)[0]
    if count < settings.map_min_scans:
        return []
    return sorted(i for i, s in statuses.items()
                  if s.get("status") == "registered" and s.get("topology") == signature)


def update_topology_map(folder: Path, records: dict[str, ScanRecord],
                        statuses: dict[str, dict], prepared: PreparedModel,
                        settings: RegistrationSettings) -> tuple[Path, str] | None:
    """Build (or keep) the data set's map; returns (its path, its key), or None when no
    group of scans shares a topology (the map files are then removed).

    Parameters
    ----------
    folder : the data set's registration folder
    records : scan_id -> record of every scan listed
    statuses : scan_id -> that scan's ``status.json`` after the first pass
    """
    folder = Path(folder)
    group = map_group(statuses, settings)
    if not group:
        for name in (MAP_FILE, MAP_INFO):
            (folder / name).unlink(missing_ok=True)
        return None
    key = hashlib.sha256(json.dumps([(i, statuses[i].get("base_key")) for i in group])
                         .encode()).hexdigest()[:16]
    path = folder / MAP_FILE
    if read_map_info(folder).get("key") == key and path.is_file():
        return path, key
    pairs, faces = [], None
    for scan_id in group:
        scan = load_scan(records[scan_id], appearance=False)
        faces = scan.faces
        pairs.append((scan.verts_m, np.load(folder / scan_id / UNMAPPED_VERTS)))
    topology_map = build_topology_map(pairs, faces, np.flatnonzero(prepared.free),
                                      settings.map_max_distance_m, settings.map_max_spread_m)
    topology_map.save(path)
    face = np.isin(prepared.face_ids, topology_map.vertex_ids)
    write_json(folder / MAP_INFO, {
        "key": key, "signature": topology_map.signature, "scans": group,
        "mapped_vertices": int(len(topology_map.vertex_ids)),
        "face_vertices_mapped": float(face.mean()),
        "spread_mm": {"mean": float(topology_map.spread_m.mean() * 1000),
                      "p95": float(np.percentile(topology_map.spread_m, 95) * 1000)}})
    return path, key


def load_map(path: str | None) -> TopologyMap | None:
    """The map at ``path`` (None for None)."""
    return None if path is None else TopologyMap.load(Path(path))
