"""Matching of CRM records to the workspace's people and companies (issue 13, section 2).

Pure code only: normalisers (``text``, ``identifiers``, ``names``, ``companies``), features, blocking, scoring and
explanations (``features``, ``compare``, ``model``, ``engine``). No store, no network, no clock: every function is
deterministic on its arguments, and the import-linter contracts forbid this package any I/O library and any
salesbridge package but ``domain`` and ``message_ids``. The public API (/work/notes/matching_api.md) is re-exported
here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salesbridge.matching.caches import clear_caches, kept_for_run
from salesbridge.matching.model import MatchModel
from salesbridge.matching.records import Band, CompanyRecord, Decision, FieldReason, LinkResult, PersonRecord

# The engine brings numpy, rapidfuzz, jellyfish, nameparser, fingerprints, tldextract and phonenumbers (a quarter of a
# second): it is imported on first use of Matcher or MatchIndex (PEP 562), so that the values above, which every CLI
# command, worker and the sandbox import through salesbridge.services.matching, stay light
# (tests/unit/cli/test_start.py).
if TYPE_CHECKING:
    from salesbridge.matching.engine import Matcher, MatchIndex

_ENGINE_NAMES = frozenset({"Matcher", "MatchIndex"})


def __getattr__(name: str) -> Any:
    """``Matcher`` and ``MatchIndex``, from :mod:`salesbridge.matching.engine` imported now.

    Raises:
        AttributeError: ``name`` is not one of them.
    """
    if name not in _ENGINE_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from salesbridge.matching import engine

    value = getattr(engine, name)
    globals()[name] = value
    return value


__all__ = [
    "Band",
    "CompanyRecord",
    "Decision",
    "FieldReason",
    "LinkResult",
    "MatchIndex",
    "MatchModel",
    "Matcher",
    "PersonRecord",
    "clear_caches",
    "kept_for_run",
]
