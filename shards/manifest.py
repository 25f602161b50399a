"""``manifest.json`` of a data set's shard folder: every shard, its size, checksum and origin.

Layout::

    {"schema_version": 1, "shards": [{"name": "shard-00000.h5", "samples": 256,
      "bytes": ..., "sha256": ..., "schema_version": 1, "config_hash": ..., "codec": ...,
      "sample_ids": [...]}, ...]}

Shards are listed by name. The manifest is written once the shards are complete (atomically),
so a folder's manifest never lists a half-written shard.
"""

from __future__ import annotations

import json
from pathlib import Path

from atomicfile import write_text
from shards.reader import ShardReader
from shards.schema import SCHEMA_VERSION, ShardError
from shards.writer import file_sha256

MANIFEST_NAME = "manifest.json"
SHARD_GLOB = "*.h5"


def write_manifest(folder: str | Path, records: list[dict], config_hash: str | None = None) -> Path:
    """Write ``folder/manifest.json`` listing ``records`` (from ``write_shard``), by name.

    ``config_hash`` names the key of the whole set (the build's render key), when given.
    """
    folder = Path(folder)
    names = [r["name"] for r in records]
    if len(set(names)) != len(names):
        raise ValueError(f"{folder}: duplicate shard names in manifest records")
    manifest = {"schema_version": SCHEMA_VERSION,
                "shards": sorted(records, key=lambda r: r["name"])}
    if config_hash is not None:
        manifest["config_hash"] = config_hash
    return write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def read_manifest(folder: str | Path) -> dict:
    """The manifest of ``folder``; :class:`ShardError` when missing, unreadable or of another
    schema version."""
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise ShardError(f"{path}: no manifest") from err
    except (OSError, json.JSONDecodeError) as err:
        raise ShardError(f"{path}: unreadable manifest: {err}") from err
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ShardError(f"{path}: schema version {manifest.get('schema_version')}, "
                         f"expected {SCHEMA_VERSION}")
    return manifest


def list_shards(folder: str | Path) -> list[Path]:
    """Paths of the shards the manifest of ``folder`` lists (by name); each must exist."""
    folder = Path(folder)
    paths = [folder / r["name"] for r in read_manifest(folder)["shards"]]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ShardError(f"{folder}: shards listed in {MANIFEST_NAME} are missing: {missing}")
    return paths


def verify_folder(folder: str | Path) -> list[str]:
    """Check every shard of ``folder`` against its manifest; return the problems found.

    Checks: each listed shard exists, has the listed byte count and sha256, opens with the
    expected schema and sample count; every ``*.h5`` in the folder is listed.
    """
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except ShardError as err:
        return [str(err)]
    problems = []
    listed = set()
    for record in manifest["shards"]:
        name = record["name"]
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
            continue
        if record.get("schema_version") != SCHEMA_VERSION:
            problems.append(f"{name}: manifest schema version {record.get('schema_version')}, "
                            f"expected {SCHEMA_VERSION}")
        size = path.stat().st_size
        if size != record["bytes"]:
            problems.append(f"{name}: {size} bytes, manifest says {record['bytes']}")
        if file_sha256(path) != record["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (file changed or "
                            "corrupt)")
            continue
        try:
            with ShardReader(path) as reader:
                if len(reader) != record["samples"]:
                    problems.append(f"{name}: {len(reader)} samples, manifest says "
                                    f"{record['samples']}")
        except ShardError as err:
            problems.append(str(err))
    for path in sorted(folder.glob(SHARD_GLOB)):
        if path.name not in listed:
            problems.append(f"{path.name}: in {folder} but not listed in {MANIFEST_NAME}")
    return problems
