"""Resident memory of CPU runs: give the memory glibc keeps after ``free`` back to the OS.

glibc raises its mmap threshold as large blocks are freed (up to 32 MB), so later activation and log-prob
buffers come from its heap, and their freed space stays resident: one default CPU update grew resident memory
by 2.4–2.7 GB while holding ~0.45 GB live. Measured with ``benchmarks/bench_train_speed.py default`` (8 x 483
tokens, one thread, 2026-12-02), peak growth / CPU time of the update:

    glibc default 2,680 MB / 117 s;  trim() per micro-batch 2,141 MB / 123 s;
    + an 8 MB mmap threshold (the default here) 1,627 MB / 123 s;  4 MB 650 MB / 157 s;  1 MB 445 MB / 178 s

(small thresholds map and zero fresh pages for every buffer: less memory, slower). With two torch threads
each thread's malloc arena kept its own freed buffers: 2,008 MB growth at the 8 MB threshold, 1,630 MB with
one arena (``MALLOC_ARENA_MAX=1``, the default here for CPU runs; 218 vs 200 CPU-s beside another job).
Set the environment variables ``MALLOC_MMAP_THRESHOLD_`` (bytes) or ``MALLOC_ARENA_MAX`` to choose another
point; no-ops where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 8 << 20
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim, _libc.mallopt  # noqa: B018 - both exist only in glibc
        except (OSError, AttributeError):
            _libc = False
    return _libc


def limit_heap() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` (unless ``MALLOC_MMAP_THRESHOLD_`` is set): buffers
    of 8 MB and more are then mapped and unmapped, not kept; and one malloc arena for all threads (unless
    ``MALLOC_ARENA_MAX`` is set; takes effect when called before other threads allocate). Returns whether a
    setting took."""
    libc = _glibc()
    if not libc:
        return False
    took = False
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        took = bool(libc.mallopt(-3, MMAP_THRESHOLD))  # -3: M_MMAP_THRESHOLD
    if "MALLOC_ARENA_MAX" not in os.environ:
        took = bool(libc.mallopt(-8, 1)) or took  # -8: M_ARENA_MAX
    return took


def trim() -> None:
    """``malloc_trim(0)``: release the free memory of glibc's heaps (cheap next to a micro-batch)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)
