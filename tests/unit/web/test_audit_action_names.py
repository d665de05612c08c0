"""Every action the code audits has a name on the audit log page (web/ui/admin.py's ACTION_NAMES): a new
``uow.audit.record(action="…")`` without one shows administrators its code in both languages."""

from __future__ import annotations

import ast
from pathlib import Path

import salesbridge
from salesbridge.web.ui.admin import ACTION_NAMES


def _audited_actions() -> set[str]:
    actions: set[str] = set()
    for path in Path(salesbridge.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record":
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        actions.add(str(keyword.value.value))
    return actions


def test_every_audited_action_has_a_name() -> None:
    actions = _audited_actions()
    assert "writeback.retried" in actions  # the scan finds the calls
    assert sorted(actions - set(ACTION_NAMES)) == []
