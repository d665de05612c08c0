"""The sandbox compares secrets (client secrets, the admin token) only in constant time.

A timing difference cannot be asserted without a timed test, so this pins the rule in the source: no ``==``,
``!=``, ``in`` or ``not in`` with an operand named like a secret or token value anywhere in the sandbox
package; such comparisons go through ``hmac.compare_digest``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import salesbridge.sandbox

_SECRET_NAMES = ("secret", "admin_token", "password")
_EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name_of(node.func)
    return ""


def _secret_comparisons(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Compare) or not any(isinstance(op, _EQUALITY) for op in node.ops):
            continue
        for operand in (node.left, *node.comparators):
            name = _name_of(operand).lower()
            is_constant = isinstance(operand, ast.Constant)
            if not is_constant and any(word in name for word in _SECRET_NAMES):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_rule_catches_a_plain_comparison_of_the_admin_token() -> None:
    source = 'ok = request.headers.get("X-Sandbox-Admin-Token") != services.admin_token\n'
    assert _secret_comparisons(source, "example.py")


def test_no_secret_is_compared_with_equality_in_the_sandbox() -> None:
    package = Path(salesbridge.sandbox.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        found.extend(_secret_comparisons(path.read_text(encoding="utf-8"), str(path.relative_to(package))))
    assert found == []
