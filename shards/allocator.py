"""Keep freed heap memory in a process instead of returning it to the OS (glibc only).

A decoded 512x512 sample is a handful of 0.25-3 MB arrays. glibc serves blocks that large
with fresh ``mmap`` pages and unmaps them on free, so every sample pays for ~2,000 page faults
(zero-filled pages): measured, that tripled the CPU time of a random shard read
(bench/render_shards.py). Raising the mmap and trim thresholds lets freed blocks be reused.
Call it in processes that do nothing but load samples (DataLoader workers), not in a
caller's main process nor in render workers (see ``rendering.worker``).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
"""glibc's largest allowed mmap threshold (HEAP_MAX / 2 on 64-bit is 32 MiB)."""
TRIM_THRESHOLD_BYTES = 256 << 20


def _glibc_function(name: str):
    """The C library's function ``name``, or None where there is no such (non-glibc) one."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where not glibc."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the OS (glibc ``malloc_trim(0)``); False where not
    glibc. For long-lived workers after a task that held a large transient (a dense scan
    read and decimated): freed blocks below glibc's mmap threshold otherwise stay resident."""
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim(0)
    return True
