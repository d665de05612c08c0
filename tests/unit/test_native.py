"""C library functions through ctypes: found and typed once, absent (None) rather than an error where the platform
lacks them (the allocator controls are then skipped, not fatal)."""

from __future__ import annotations

import ctypes

from salesbridge.native import c_function


def test_a_c_library_function_is_found_typed_and_callable() -> None:
    length = c_function("c", "strlen", ctypes.c_size_t, ctypes.c_char_p)
    assert length is not None
    assert length(b"salesbridge") == 11
    assert c_function("c", "strlen", ctypes.c_size_t, ctypes.c_char_p) is length  # looked up once


def test_a_missing_function_or_library_is_none() -> None:
    assert c_function("c", "no_such_function_in_any_libc", ctypes.c_int) is None
    assert c_function("no-such-library-salesbridge", "anything", ctypes.c_int) is None


def test_sqlite_reports_its_own_memory() -> None:
    memory_used = c_function("sqlite3", "sqlite3_memory_used", ctypes.c_int64)
    assert memory_used is not None
    assert memory_used() >= 0
