"""Matching of CRM records to the workspace's people and companies (issue 13, section 2).

Pure code only: normalisers (``text``, ``identifiers``, ``names``, ``companies``), features, blocking, scoring and
explanations (``features``, ``compare``, ``model``, ``engine``). No store, no network, no clock: every function is
deterministic on its arguments, and the import-linter contracts forbid this package any I/O library and any
salesbridge package but ``domain`` and ``message_ids``. The public API (/work/notes/matching_api.md) is re-exported
here.
"""

from salesbridge.matching.engine import Matcher, MatchIndex
from salesbridge.matching.model import MatchModel
from salesbridge.matching.records import Band, CompanyRecord, Decision, FieldReason, LinkResult, PersonRecord

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
]
