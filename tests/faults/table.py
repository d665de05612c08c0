"""The fault matrix's table: every cell of :func:`tests.faults.matrix.all_cells`, as run (or why not), into
bench/results/faults.json and docs/reliability.md § Fault matrix (replacing the section, up to the next ``## ``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from tests.faults.matrix import (
    ACTIVITIES,
    CONTACTS,
    FAULTS_BY_NUMBER,
    FIRST_RETRY_SECONDS,
    LEASE_SECONDS,
    NOT_BUILT,
    CellResult,
    all_cells,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
HEADING = "## Fault matrix"


def _complete(cells: dict[str, CellResult]) -> list[CellResult]:
    table = []
    for blank in all_cells():
        fault = FAULTS_BY_NUMBER[blank.fault]
        why = fault.applies(blank.operation, blank.database)
        if blank.key in cells:
            table.append(cells[blank.key])
        elif why is not None:
            blank.state, blank.note = "n/a", why
            table.append(blank)
        elif fault.number in NOT_BUILT:
            blank.note = NOT_BUILT[fault.number]
            table.append(blank)
        else:
            blank.state, blank.note = (
                "not run",
                "the cell's test did not record a result (it crashed, or was deselected)",
            )
            table.append(blank)
    return table


def _cell_text(cell: CellResult) -> str:
    if cell.state in ("n/a", "not built yet", "not run"):
        return f"{cell.state}{': ' + cell.note if cell.note else ''}"
    counts = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in cell.counts.items())
    mark = "**pass**" if cell.state == "pass" else "**FAIL**"
    return f"{mark} — sees: {cell.admin_sees} — recovered: {cell.recovered} — {counts} ({cell.seconds:.0f} s)"


def markdown(table: list[CellResult], *, seconds: float, when: str) -> str:
    passed = sum(1 for c in table if c.state == "pass")
    failed = sum(1 for c in table if c.state == "fail")
    other = Counter_text(table)
    lines = [
        HEADING,
        "",
        f"`make faults` ({when}, {platform.node() or 'this machine'}, {seconds / 60:.1f} min): {passed} cells pass, "
        f"{failed} fail; {other}. Each cell runs its operation as real `salesbridge` processes against a sandbox "
        f"process over TLS kept in a file ({CONTACTS:,} contacts; writeback: {ACTIVITIES} activities — InMail, "
        "messages, notes, calls — to contacts tied to people), puts the fault on mid-run, captures what the "
        "administrator sees (`salesbridge sync status` / `salesbridge writeback status`, which say what the console "
        "shows), then lets the scheduler's next runs (here at once, no administrator action) finish, and compares "
        "the store with the sandbox's own records by id. Time is compressed as each fault says, and for every cell: "
        f"the import's and the drain's leases {LEASE_SECONDS} s (120 s and 5 min by default), writeback's first "
        f"retry after a transient failure {FIRST_RETRY_SECONDS} s (30 s), doubling as in production. Each database's "
        "cells run in `FAULT_SHARDS` (2) sessions side by side. Harness: "
        "`tests/faults/matrix.py`; results: `bench/results/faults.json`.",
        "",
        f"The machine's load average when the table was written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other sessions' tests and benchmarks share it; the goal is 20 minutes on a quiet machine). What the matrix "
        "does not show: writeback's people are tied to contacts by stored links (corrections), not by a matching "
        "run; \"sees\" is the status command's text once the fault has been on for its hold (the console's pages and "
        "`GET /api/v1/orgs/{org}/crm/sync` say the same); an import into a SQLite file whose disk fills after its "
        "first pages may finish in the space its write-ahead log already holds (then the fault did not bite).",
        "",
    ]
    for number, fault in FAULTS_BY_NUMBER.items():
        lines.append(f"### {number}. {fault.name}")
        if fault.compression:
            lines.append("")
            lines.append(f"Compressed: {fault.compression}.")
        lines.append("")
        lines.append("| operation | database | result |")
        lines.append("|---|---|---|")
        for cell in table:
            if cell.fault == number:
                text = _cell_text(cell).replace("|", "\\|")
                lines.append(f"| {cell.operation} | {cell.database} | {text} |")
        lines.append("")
    return "\n".join(lines)


def Counter_text(table: list[CellResult]) -> str:  # noqa: N802
    from collections import Counter

    counts = Counter(c.state for c in table if c.state not in ("pass", "fail"))
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "every cell built"


def write_results(cells: dict[str, CellResult], json_path: Path, *, seconds: float) -> None:
    """Write the table: ``json_path``, and docs/reliability.md § Fault matrix."""
    table = _complete(cells)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"generated_at": when, "seconds": round(seconds), "cells": [cell.to_dict() for cell in table]}
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    section = markdown(table, seconds=seconds, when=when)
    text = DOC.read_text(encoding="utf-8")
    if HEADING in text:
        before, _, rest = text.partition(HEADING)
        after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def write_cells(cells: Iterable[CellResult], path: Path) -> None:
    """The cells one session ran, for :func:`main` to merge."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([cell.to_dict() for cell in cells], ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    """``python -m tests.faults.table --seconds N --out bench/results/faults.json CELLS.json…``: merge the cells of
    the sessions and write the table (a session that wrote no file leaves its cells "not run")."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("cells", nargs="+", type=Path)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "faults.json")
    arguments = parser.parse_args()
    merged: dict[str, CellResult] = {}
    for path in arguments.cells:
        if path.exists():
            for values in json.loads(path.read_text(encoding="utf-8")):
                cell = CellResult(**values)
                merged[cell.key] = cell
    write_results(merged, arguments.out, seconds=arguments.seconds)


if __name__ == "__main__":
    main()
