"""The import's garbage-collector threshold, set by the entry point (bootstrap): raised while any import runs,
restored after the last one."""

from __future__ import annotations

import gc

import pytest

from salesbridge.bootstrap import IMPORT_GC_THRESHOLD, fewer_collections


def test_the_threshold_is_raised_during_imports_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == (IMPORT_GC_THRESHOLD, *before[1:])
        with fewer_collections():  # a second import in the same process
            assert gc.get_threshold()[0] == IMPORT_GC_THRESHOLD
        assert gc.get_threshold()[0] == IMPORT_GC_THRESHOLD, "the first import still runs"
    assert gc.get_threshold() == before


def test_the_threshold_is_restored_when_an_import_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the CRM went away")
    assert gc.get_threshold() == before
