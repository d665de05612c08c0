"""The CRM packages' public surface and their place in the layering."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import salesbridge.crm
import salesbridge.crm.dynamics

CRM = Path(salesbridge.crm.__file__).parent


@pytest.mark.parametrize("package", [salesbridge.crm, salesbridge.crm.dynamics], ids=lambda p: p.__name__)
def test_every_exported_name_exists_and_is_listed_once(package: object) -> None:
    exported = package.__all__  # type: ignore[attr-defined]

    assert sorted(exported) == exported
    assert len(set(exported)) == len(exported)
    assert [name for name in exported if not hasattr(package, name)] == []


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(CRM.rglob("*.py")), ids=lambda p: str(p.relative_to(CRM)))
def test_no_crm_module_imports_the_sandbox(path: Path) -> None:
    assert not any(module.startswith("salesbridge.sandbox") for module in imported_modules(path))


def test_the_ports_know_nothing_of_http_or_dynamics() -> None:
    modules = imported_modules(CRM / "ports.py")

    assert not {m for m in modules if m.split(".")[0] in {"aiohttp", "msal", "requests", "orjson", "yarl"}}
    assert not {m for m in modules if m.startswith("salesbridge.crm.dynamics")}
    assert "@odata" not in (CRM / "ports.py").read_text(encoding="utf-8")
