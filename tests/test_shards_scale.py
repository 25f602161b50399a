"""Shards at scale: groups that stay put, the direct-chunk writer and its background thread."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from shards import ShardInfo, ShardReader, write_shard
from shards.chunks import ChunkMaker, fletcher32
from shards.codecs import codec_options
from shards.plan import MAX_SHARD_FACTOR, plan_groups
from shards.writer import file_sha256

H, W = 12, 16


def _sample(scan: str, view: int) -> dict:
    """A small sample whose content depends only on (scan, view)."""
    rng = np.random.default_rng([sum(scan.encode()), len(scan), view])
    normal = rng.normal(size=(H, W, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return {"rgb": rng.integers(0, 256, (H, W, 3), dtype=np.uint8), "normal": normal,
            "uv": rng.uniform(0, 1, (H, W, 2)), "mask": np.full((H, W), 3, np.uint8),
            "depth": rng.uniform(0.5, 1.0, (H, W)), "K": np.eye(3), "w2c": np.eye(4),
            "shape": np.zeros(4), "expr": np.zeros(2), "pose": np.zeros(15),
            "transl": np.zeros(3), "scale": 1.0, "dataset": "nphm", "subject": scan[:4],
            "expression": "e", "scan": scan, "view": view}


def _write_set(folder, scans: list[tuple[str, int]]) -> dict[str, str]:
    """Write the shards of ``scans`` planned at 6 samples a shard; {name: sha256}."""
    folder.mkdir()
    out = {}
    for group in plan_groups("nphm", scans, samples_per_shard=6, samples_per_scan=3):
        samples = [_sample(s, v) for s, first, stop in group.ranges for v in range(first, stop)]
        path = folder / group.name
        write_shard(path, samples, len(samples), ShardInfo("cfg"))
        out[group.name] = file_sha256(path)
    return out


def test_inserting_a_scan_in_the_middle_changes_at_most_two_shards(tmp_path):
    scans = [(f"s{i:03d}", 3) for i in range(0, 80, 2)]
    before = _write_set(tmp_path / "before", scans)
    assert len(before) >= 8  # the data set spans many shards
    changed_counts = []
    for inserted in ("s041", "s043", "s045", "s047"):  # odd ids sort between existing scans
        after = _write_set(tmp_path / inserted, [*scans, (inserted, 3)])
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        holding = {g.name for g in plan_groups("nphm", [*scans, (inserted, 3)], 6, 3)
                   if any(s == inserted for s, _, _ in g.ranges)}
        assert holding <= changed and len(changed) <= 2, (inserted, changed)
        changed_counts.append(len(changed))
    assert 1 in changed_counts  # usually only the shard that takes the scan


def test_groups_cover_every_sample_once_and_are_bounded():
    scans = [(f"scan{i:04d}", 125 if i % 5 else 100) for i in range(500)]
    groups = plan_groups("facescape", scans, samples_per_shard=256, samples_per_scan=125)
    seen = [(s, v) for g in groups for s, first, stop in g.ranges for v in range(first, stop)]
    assert sorted(seen) == sorted((s, v) for s, n in scans for v in range(n))
    sizes = np.array([g.n_samples for g in groups])
    assert sizes.max() <= MAX_SHARD_FACTOR * 256
    assert 180 <= sizes.mean() <= 330  # about samples_per_shard on average
    assert plan_groups("facescape", scans[::-1], 256, 125) == groups  # order of input
    with pytest.raises(ValueError, match="duplicate"):
        plan_groups("facescape", [("a", 3), ("a", 3)], 256, 125)


@pytest.mark.parametrize("size", [0, 1, 2, 7, 4096, 70001, (1 << 23) + 3])  # last: 2 blocks
def test_fletcher32_matches_hdf5(tmp_path, size):
    data = np.random.default_rng(size).integers(0, 256, max(size, 1), dtype=np.uint8)[:size]
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("x", data=data.reshape(1, -1) if size else np.zeros((1, 1), np.uint8),
                         chunks=(1, max(size, 1)), fletcher32=True)
        stored = f["x"].id.read_direct_chunk((0, 0))[1]
    assert stored[-4:] == fletcher32(stored[:-4]).to_bytes(4, "little")
    assert fletcher32(np.full(2, 255, np.uint8).tobytes()) == (0xFFFF << 16) | 0xFFFF


@pytest.mark.parametrize("codec", ["zstd", "none"])
def test_direct_chunks_decode_through_the_declared_filters(tmp_path, codec):
    array = np.random.default_rng(1).integers(0, 40, (3, 9, 11)).astype(np.int16)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        dataset = f.create_dataset("x", shape=(2, 3, 9, 11), dtype=np.int16, chunks=(1, 3, 9, 11),
                                   fletcher32=True, **codec_options(codec))
        dataset.id.write_direct_chunk((1, 0, 0, 0), ChunkMaker(codec).chunk(array))
        chunk = bytearray(ChunkMaker(codec).chunk(array))
        chunk[len(chunk) // 2] ^= 1
        dataset.id.write_direct_chunk((0, 0, 0, 0), bytes(chunk))
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert np.array_equal(f["x"][1], array)
        with pytest.raises(OSError):
            f["x"][0]  # the flipped bit fails the checksum


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_background_writer_gives_the_inline_bytes(tmp_path, codec):
    samples = [_sample("s001", v) for v in range(5)]
    a = write_shard(tmp_path / "a.h5", iter(samples), 5, ShardInfo("c", codec))
    b = write_shard(tmp_path / "b.h5", samples, 5, ShardInfo("c", codec), background=False)
    assert a["sha256"] == b["sha256"]
    with ShardReader(tmp_path / "a.h5") as reader:
        assert np.array_equal(reader.read_sample(3)["rgb"], samples[3]["rgb"])
        assert reader.sample_id(4) == "nphm/s001/0004"


def test_a_failing_sample_source_leaves_no_file(tmp_path):
    def samples():
        yield _sample("s001", 0)
        yield _sample("s001", 1)
        raise RuntimeError("renderer lost")

    with pytest.raises(RuntimeError, match="renderer lost"):
        write_shard(tmp_path / "x.h5", samples(), 4, ShardInfo("c"))
    assert list(tmp_path.iterdir()) == []


def test_dataset_keeps_at_most_max_open_shards_open(tmp_path):
    from shards import ShardDataset

    paths = []
    for k in range(6):
        path = tmp_path / f"shard-s{k:03d}.h5"
        write_shard(path, [_sample(f"s{k:03d}", v) for v in range(2)], 2, ShardInfo("c"))
        paths.append(path)
    dataset = ShardDataset(paths, max_open=2)
    order = np.random.default_rng(0).permutation(len(dataset))
    opened = []
    for index in order:
        item = dataset[int(index)]
        assert item["sample_id"] == f"nphm/s{index // 2:03d}/{index % 2:04d}"
        assert len(dataset._readers) <= 2
        opened += [r for r in dataset._readers.values() if r not in opened]
    closed = [r for r in opened if r not in dataset._readers.values()]
    assert len(closed) >= 4 and not any(r._file.id.valid for r in closed)
