"""The allocator's arena limit for long-running processes (``serve``, ``worker``): glibc's own count of arenas,
read through ``malloc_info`` in a fresh interpreter whose threads allocate at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from salesbridge import bootstrap

_THREADS_ALLOCATING = """
import ctypes, ctypes.util, sys, threading
from salesbridge import bootstrap

if sys.argv[1] == "limit":
    print(bootstrap.fewer_malloc_arenas(), flush=True)
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
together = threading.Barrier(8)
kept = []

def allocate():
    kept.append(libc.malloc(4096))  # the thread's first allocation picks (or makes) its arena
    together.wait()  # all eight alive at once: none can hand its arena on

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
report = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, report)
libc.fclose(report)
"""


def _arenas(tmp_path: Path, mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    report = tmp_path / f"{mode}.xml"
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_ALLOCATING, mode, str(report)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    return done.stdout.strip(), report.read_text().count("<heap nr=")


def test_a_long_running_process_keeps_to_two_arenas_where_threads_would_otherwise_make_their_own(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    limited, arenas = _arenas(tmp_path, "limit", env)
    _, unlimited = _arenas(tmp_path, "default", env)
    assert limited == "True"
    assert arenas <= bootstrap.MALLOC_ARENAS
    assert unlimited > bootstrap.MALLOC_ARENAS  # what the limit prevents: an arena per allocating thread


def test_an_operators_malloc_arena_max_is_left_as_it_is(tmp_path: Path) -> None:
    env = {**os.environ, "MALLOC_ARENA_MAX": "4"}
    limited, arenas = _arenas(tmp_path, "limit", env)
    assert limited == "False"
    assert arenas == 4  # glibc's own reading of the variable, untouched by ours


_FREED_BUT_HELD = """
from salesbridge import bootstrap

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

blocks = [bytearray(1000) for _ in range(200_000)]  # above pymalloc's limit: glibc's heap, about 200 MiB
kept = blocks[::50]  # one block in fifty stays alive: the heap cannot shrink from its top
del blocks
held = resident_mib()
released = bootstrap.release_free_memory()
print(released, held, resident_mib(), flush=True)
"""


def test_memory_freed_but_held_by_the_allocator_goes_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FREED_BUT_HELD], capture_output=True, text=True, check=True, timeout=60
    )
    released, held, after = done.stdout.split()
    assert released == "True"
    # 98 % of the blocks were freed but their pages stayed resident; released, the process keeps little more than
    # the pages the live blocks sit on.
    assert float(after) < float(held) / 2


def test_the_release_runs_on_its_own_thread_only_while_asked_to() -> None:
    def releasing() -> bool:
        return any(thread.name == "free-memory-release" for thread in threading.enumerate())

    with bootstrap.free_memory_released(0):
        assert not releasing()
    with bootstrap.free_memory_released(0.01):
        assert releasing()
    assert not releasing()
