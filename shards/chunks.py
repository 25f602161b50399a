"""Compressed HDF5 chunks made outside HDF5, for ``h5py``'s direct chunk write.

A chunk is what HDF5's filter pipeline would store for a dataset created with
``compression=<codec>, fletcher32=True``: the codec's output, then HDF5's Fletcher-32
checksum of it (h5py puts ``fletcher32`` after the compression filter, see
``h5py/_hl/filters.py: fill_dcpl``). Made here, the compression runs without HDF5's global
lock (zstandard releases the GIL), so it overlaps rendering in another thread, and HDF5 only
copies the finished bytes. Readers decode these chunks with the declared filters as usual.

Codecs made here: ``zstd`` (a Zstd frame with its content size, what hdf5plugin's Zstd filter
writes and reads) and ``none`` (checksum only). Others go through HDF5's filters.
"""

from __future__ import annotations

import numpy as np
import zstandard

DIRECT_CODECS = ("zstd", "none")
ZSTD_LEVEL = 1
"""Zstd level of the ``zstd`` codec (``shards.codecs.codec_options``)."""


_CHECKSUM_BLOCK_WORDS = 1 << 22
"""16-bit words summed at once by :func:`fletcher32`: a running sum stays below 2**38 and the
sum of 2**22 of them below 2**60, so each block is exact in uint64."""


def fletcher32(data: bytes | memoryview) -> int:
    """HDF5's Fletcher-32 of a byte string (``H5_checksum_fletcher32`` in H5checksum.c).

    Sums of big-endian 16-bit words (an odd last byte is the high byte of a word), each kept
    modulo 65535 with end-around carry: a sum is 0 only when every word is 0, and 65535 where
    a plain modulo would give 0. ``sum1`` is the sum of the words, ``sum2`` the sum of their
    running sums, both reduced modulo 65535 per block of :data:`_CHECKSUM_BLOCK_WORDS` words
    (one cumulative sum a block). Returns ``(sum2 << 16) | sum1``.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % 2:
        raw = np.concatenate([raw, np.zeros(1, dtype=np.uint8)])
    words = raw.view(">u2")
    sum1 = sum2 = 0
    nonzero = False
    for start in range(0, words.size, _CHECKSUM_BLOCK_WORDS):
        running = np.cumsum(words[start:start + _CHECKSUM_BLOCK_WORDS], dtype=np.uint64)
        nonzero = nonzero or bool(running[-1])
        sum2 = (sum2 + sum1 * running.size + int(running.sum(dtype=np.uint64))) % 65535
        sum1 = (sum1 + int(running[-1])) % 65535
    if not nonzero:
        return 0
    return ((sum2 or 65535) << 16) | (sum1 or 65535)


def with_checksum(payload: bytes) -> bytes:
    """``payload`` followed by its Fletcher-32, little-endian (HDF5's ``UINT32ENCODE``)."""
    return payload + fletcher32(payload).to_bytes(4, "little")


class ChunkMaker:
    """Makes the stored chunk of one array for a codec of :data:`DIRECT_CODECS`.

    One per thread (a ``zstandard.ZstdCompressor`` is not thread-safe).
    """

    def __init__(self, codec: str) -> None:
        if codec not in DIRECT_CODECS:
            raise ValueError(f"codec {codec!r} has no direct chunk path; use {DIRECT_CODECS}")
        self.codec = codec
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)

    def chunk(self, array: np.ndarray) -> bytes:
        """The stored bytes of a C-contiguous array (one whole chunk)."""
        raw = memoryview(np.ascontiguousarray(array)).cast("B")
        payload = self._zstd.compress(raw) if self.codec == "zstd" else bytes(raw)
        return with_checksum(payload)
