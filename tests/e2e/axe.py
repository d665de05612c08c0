"""axe-core in the browser tests: the accessibility rules (WCAG 2.x A and AA, and axe's best practices) run inside
the page, on what the browser rendered.

axe-core comes from the npm registry, pinned in package-lock.json and installed by ``make browser`` (``npm ci``) in
``node_modules/``. It is loaded as an init script of the browser context (``with_axe``) rather than a ``<script>``
tag: the console's Content-Security-Policy (``script-src 'self'``) refuses inline scripts, and bypassing the CSP
would check pages that differ from what users get (styles the CSP blocks would apply).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.sync_api import BrowserContext, Page

ROOT: Final = Path(__file__).resolve().parents[2]
AXE_SCRIPT: Final = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_RESULTS: Final = ROOT / "test-artifacts" / "axe"
BLOCKING_IMPACTS: Final = frozenset({"serious", "critical"})
"""The impacts that fail a test; "minor" and "moderate" ones are recorded in the results only."""

_RUN_AXE: Final = """async () => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    resultTypes: ["violations", "incomplete"],
  });
  return {url: results.url, testEngine: results.testEngine, violations: results.violations,
          incomplete: results.incomplete, passes: results.passes.length};
}"""


def with_axe(context: BrowserContext) -> BrowserContext:
    """``context`` with axe-core loaded in each of its pages (before their own scripts run). Fails, pointing at
    ``make browser``, when axe-core is not installed."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE_SCRIPT}): install it with `make browser` (npm ci); never skipped.",
            pytrace=False,
        )
    context.add_init_script(path=AXE_SCRIPT)
    return context


def run_axe(page: Page, name: str) -> dict[str, Any]:
    """Run axe-core on ``page`` as it is now, write its results to ``test-artifacts/axe/<name>.json`` and return
    them (``violations`` and ``incomplete``: axe's own objects)."""
    results: dict[str, Any] = page.evaluate(_RUN_AXE)
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    (AXE_RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return results


def blocking_violations(results: dict[str, Any]) -> list[str]:
    """The serious and critical violations in ``results``, one readable paragraph each: the rule, its impact and
    help, and each offending element's selector with axe's summary of what to fix."""
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        nodes = "\n".join(
            f"    - {' '.join(map(str, node['target']))}: {node['failureSummary'].replace(chr(10), ' ')}"
            for node in violation["nodes"]
        )
        found.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})\n{nodes}"
        )
    return found


def assert_accessible(page: Page, name: str) -> dict[str, Any]:
    """Run axe-core on ``page`` (results kept as ``test-artifacts/axe/<name>.json``) and fail on any serious or
    critical violation, listing them all."""
    results = run_axe(page, name)
    found = blocking_violations(results)
    assert not found, f"axe-core: serious or critical violations on {page.url} ({name}):\n" + "\n".join(found)
    return results
