"""HDF5 shards of rendered samples: writer, random-access reader, torch Dataset, manifest.

Public API: :func:`write_shard`, :class:`ShardInfo`, :class:`ShardReader`,
:class:`ShardDataset`, :func:`write_manifest`, :func:`read_manifest`, :func:`list_shards`,
:func:`verify_folder`, :func:`sample_rng`, :class:`ShardError`. Does not import ``rendering``.
"""

from shards.manifest import list_shards, read_manifest, verify_folder, write_manifest
from shards.reader import ShardReader
from shards.schema import SCHEMA_VERSION, ShardError, sample_id
from shards.seeding import sample_rng, sample_seed
from shards.writer import ShardInfo, write_shard

__all__ = [
    "SCHEMA_VERSION", "ShardDataset", "ShardError", "ShardInfo", "ShardReader", "list_shards",
    "read_manifest", "sample_id", "sample_rng", "sample_seed", "verify_folder", "write_manifest",
    "write_shard",
]


def __getattr__(name: str):
    """``ShardDataset`` is imported on first use, so the CLI does not pay for importing torch."""
    if name == "ShardDataset":
        from shards.dataset import ShardDataset

        return ShardDataset
    raise AttributeError(f"module 'shards' has no attribute {name!r}")
