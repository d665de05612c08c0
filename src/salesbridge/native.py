"""C library functions called through ctypes where a long-running process needs them (glibc's allocator controls,
SQLite's own memory figure), each found once and typed, or absent where the platform lacks it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def c_function(library: str, name: str, restype: Any, *argtypes: Any) -> ctypes._NamedFuncPointer | None:
    """The function ``name`` of the C library ``library`` (as :func:`ctypes.util.find_library` names it: ``"c"``,
    ``"sqlite3"``), typed with ``restype`` and ``argtypes``; None where the library is not found or lacks it
    (musl, macOS, an older glibc). Found once per process."""
    path = ctypes.util.find_library(library)
    if path is None:
        return None
    try:
        function: ctypes._NamedFuncPointer = getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError):
        return None
    function.restype = restype
    function.argtypes = list(argtypes)
    return function
