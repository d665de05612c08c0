"""The exception tree: every product exception is defined in ``salesbridge.errors`` under ``SalesbridgeError``,
and the tree drawn in its docstring is the tree of its classes."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import salesbridge
from salesbridge import errors

PACKAGE = Path(salesbridge.__file__).parent


def _exception_classes_outside_errors() -> list[str]:
    """Classes named ``…Error``/``…Exception`` or deriving from one, defined anywhere in the product but
    ``errors.py`` (the sandbox, a separate program, has its own)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "sandbox" or relative == Path("errors.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(base) for base in node.bases]
            if re.search(r"(Error|Exception)$", node.name) or any(re.search(r"(Error|Exception)$", b) for b in bases):
                found.append(f"{relative}:{node.lineno} {node.name}")
    return found


def test_no_exception_is_defined_outside_the_tree() -> None:
    assert _exception_classes_outside_errors() == []


def test_the_docstring_draws_the_tree_of_the_classes() -> None:
    classes = {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == errors.__name__
    }
    drawn: dict[str, str | None] = {}
    parents: list[str] = []  # the class drawn at each depth
    root_column = None
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^[ │├└─]*([A-Z]\w+Error)\b", line)
        if not found:
            continue
        column = found.start(1)
        root_column = column if root_column is None else root_column
        depth = (column - root_column) // 4  # each level of the drawing is four characters wide
        del parents[depth:]
        drawn[found.group(1)] = parents[-1] if parents else None
        parents.append(found.group(1))
    assert drawn.keys() == classes.keys()
    for name, parent in drawn.items():
        (base,) = classes[name].__bases__
        assert base.__name__ == (parent or "Exception"), name
