"""Matching of CRM records to the workspace's people and companies (issue 13, section 2).

Pure code only: normalisers (``text``, ``identifiers``, ``names``, ``companies``), later blocking, scoring and
explanations. No store, no network, no clock: every function is deterministic on its arguments, and the import-linter
contracts forbid this package any I/O library and any salesbridge package but ``domain`` and ``message_ids``.
"""
