"""The process's SQLite memory for benchmarks that compare memory limits (``--sqlite-memory-mib 64,0``) and
memory-mapped reads (``--sqlite-mmap-mib 256,0``): the limit in force and what SQLite's heap holds, read from the
SQLite library Python's ``sqlite3`` is linked against (the same loaded instance, so its counters), and the options'
parser.

The limit is the process's, not a connection's (``PRAGMA soft_heap_limit``, which every connection of a store's
engine sets as it opens: ``create_engine_for(url, sqlite_memory_mib=N)``).
"""

from __future__ import annotations

import argparse
import ctypes
from typing import TypeVar

from salesbridge.native import c_function

MEBIBYTE = 2**20

_Value = TypeVar("_Value")


def sqlite_heap(*, reset_highwater: bool = False) -> dict[str, float]:
    """SQLite's heap in this process, MiB: the soft limit in force (0: none), what it holds now and the most it has
    held (since the process started, or since the last call with ``reset_highwater``, which starts it afresh).

    Raises:
        RuntimeError: the SQLite library is not found.
    """
    soft_heap_limit = c_function("sqlite3", "sqlite3_soft_heap_limit64", ctypes.c_int64, ctypes.c_int64)
    memory_used = c_function("sqlite3", "sqlite3_memory_used", ctypes.c_int64)
    highwater = c_function("sqlite3", "sqlite3_memory_highwater", ctypes.c_int64, ctypes.c_int)
    if soft_heap_limit is None or memory_used is None or highwater is None:
        raise RuntimeError("the SQLite library Python's sqlite3 runs on was not found")
    return {
        "sqlite_soft_heap_limit_mib": round(soft_heap_limit(-1) / MEBIBYTE, 1),  # -1: only read
        "sqlite_heap_used_mib": round(memory_used() / MEBIBYTE, 1),
        "sqlite_heap_highwater_mib": round(highwater(int(reset_highwater)) / MEBIBYTE, 1),
    }


def memory_limits(text: str) -> list[int]:
    """``--sqlite-memory-mib``'s (and ``--sqlite-mmap-mib``'s) values: distinct whole MiB, 0 (none) or more,
    comma-separated."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not whole numbers of MiB: {text!r}") from None
    if any(value < 0 for value in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"0 or more MiB each, each once: {text!r}")
    return values


def alternated(values: list[_Value], round_number: int) -> list[_Value]:
    """``values`` in the order round ``round_number`` (from 1) runs them: reversed every other round, so that none
    always runs first."""
    return values if round_number % 2 else values[::-1]


def configurations(memory_mib: list[int], mmap_mib: list[int]) -> list[tuple[int, int]]:
    """Every (memory limit, memory-mapped size) pair a round measures, the first values' pair first (the product's
    by default: the one reported as the benchmark's own figure)."""
    return [(memory, mapped) for mapped in mmap_mib for memory in memory_mib]
