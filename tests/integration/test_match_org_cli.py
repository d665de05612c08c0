"""``salesbridge match run|report|evaluate|export-unmatched --org ORG`` through the real command line on SQLite and
PostgreSQL: a run over an imported CRM and loaded people, the report's counts, the evaluation, and the unmatched
export holding every unmatched record with formula cells neutralised; exit codes for a bad table, an unknown
organization and an unwritable file."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from tests.integration.matching_seed import COMPANIES_CSV, FORMULA, GHOSTS, PEOPLE_CSV, seed_crm
from typer.testing import CliRunner

from salesbridge.bootstrap import open_workspace
from salesbridge.cli import app
from salesbridge.domain.match_links import LinkOrigin
from salesbridge.settings import Settings


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    """The CLI on a store holding organization ``acme``: its imported CRM, people and companies loaded."""
    key_file = tmp_path / "credential.key"
    runner = CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": None,
            "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(key_file),
            "COLUMNS": "200",
        }
    )
    assert runner.invoke(app, ["org", "create", "acme"]).exit_code == 0
    workspace = open_workspace(Settings(database_url=database_url, credential_key_file=key_file))
    try:
        organization_id = workspace.store.organization_id("acme")
        assert organization_id is not None
        seed_crm(workspace.store, organization_id)
    finally:
        workspace.close()
    (tmp_path / "companies.csv").write_bytes(COMPANIES_CSV)
    (tmp_path / "people.csv").write_bytes(PEOPLE_CSV)
    assert runner.invoke(app, ["companies", "import", "--org", "acme", str(tmp_path / "companies.csv")]).exit_code == 0
    assert runner.invoke(app, ["people", "import", "--org", "acme", str(tmp_path / "people.csv")]).exit_code == 0
    return runner


def test_a_run_then_the_report_and_every_unmatched_record_exported(cli: CliRunner, tmp_path: Path) -> None:
    run = cli.invoke(app, ["match", "run", "--org", "acme", "--json"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output)
    assert summary["people"]["crm_changed"] == GHOSTS + 3  # every contact and the lead, first run
    assert summary["compared_pairs"] >= 2

    report = cli.invoke(app, ["match", "report", "--org", "acme", "--json"])
    assert report.exit_code == 0, report.output
    tables = {row["table"]: row for row in json.loads(report.output)["tables"]}
    contacts = tables["contact"]
    assert contacts["total"] == GHOSTS + 2
    assert contacts["matched"] >= 2  # Bob (email) and Ana (email)
    assert contacts["matched"] + contacts["review"] + contacts["unmatched"] == contacts["total"]

    out = tmp_path / "unmatched contacts.csv"
    export = cli.invoke(app, ["match", "export-unmatched", "--org", "acme", "--table", "contact", "--out", str(out)])
    assert export.exit_code == 0, export.output
    content = out.read_bytes()
    assert content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == contacts["unmatched"] + contacts["review"]  # every record not tied, in review included
    assert {row["crm_id"] for row in rows} >= {f"c-ghost-{n:02d}" for n in range(GHOSTS - 1)} | {"c-formula"}
    assert "c-bob" not in {row["crm_id"] for row in rows}
    assert next(row for row in rows if row["crm_id"] == "c-formula")["name"] == "'" + FORMULA + " Hacker"
    assert f"{len(rows)} unmatched contact records written to" in export.output
    assert not out.with_name(out.name + ".part").exists()


def test_the_report_and_the_evaluation_in_rich_tables_and_in_spanish(cli: CliRunner) -> None:
    cli.invoke(app, ["match", "run", "--org", "acme"])

    english = cli.invoke(app, ["match", "report", "--org", "acme"])
    spanish = cli.invoke(app, ["match", "report", "--org", "acme", "--lang", "es"])
    evaluation = cli.invoke(app, ["match", "evaluate", "--org", "acme", "--json"])
    table = cli.invoke(app, ["match", "evaluate", "--org", "acme"])

    assert english.exit_code == 0, english.output
    assert "Match report" in english.output
    assert "Contacts" in english.output
    assert "Last run:" in english.output
    assert "Informe de coincidencias" in spanish.output
    assert "Contactos" in spanish.output
    assert evaluation.exit_code == 0
    assert json.loads(evaluation.output)["labelled"] == 0  # nothing corrected yet
    assert "No labelled pairs yet" in table.output
    assert "Precision" in table.output


def _row(output: str, label: str) -> list[str]:
    """The cells of the Rich table row starting with ``label``."""
    line = next(line for line in output.splitlines() if f" {label} " in line)
    return [cell.strip() for cell in line.strip("│┃ ").split("│")]


def test_an_evaluation_with_nothing_labelled_shows_no_score_and_spanish_writes_decimal_commas(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    """QA item 6: nothing labelled printed precision, recall and F1 = 1.000 (JSON too), and Spanish wrote 0.000."""
    cli.invoke(app, ["match", "run", "--org", "acme"])

    nothing = json.loads(cli.invoke(app, ["match", "evaluate", "--org", "acme", "--json"]).output)
    table = cli.invoke(app, ["match", "evaluate", "--org", "acme"]).output

    assert (nothing["labelled"], nothing["precision"], nothing["recall"], nothing["f1"]) == (0, None, None, None)
    assert _row(table, "Precision") == ["Precision", "—"]
    assert _row(table, "F1") == ["F1", "—"]
    assert "1.000" not in table
    workspace = open_workspace(Settings(database_url=database_url, credential_key_file=tmp_path / "credential.key"))
    try:
        organization_id = workspace.store.organization_id("acme")
        assert organization_id is not None
        with workspace.store(organization_id) as uow:  # a seat holder confirmed Bob's tie (a label)
            bob = uow.matches.get("contact", "c-bob")
            assert bob is not None
            assert bob.target_id is not None
            uow.matches.put([replace(bob, origin=LinkOrigin.CORRECTION)])
            uow.commit()
    finally:
        workspace.close()
    spanish = cli.invoke(app, ["match", "evaluate", "--org", "acme", "--lang", "es"]).output
    report = cli.invoke(app, ["match", "report", "--org", "acme", "--lang", "es"]).output

    assert _row(spanish, "Precisión") == ["Precisión", "1,000"]
    assert _row(spanish, "Exhaustividad")[1] == "1,000"
    assert re.search(r"\(\d+,\d %\)", report)
    assert not re.search(r"\(\d+\.\d %\)", report)


def test_exit_codes(cli: CliRunner, tmp_path: Path) -> None:
    bad_table = cli.invoke(
        app, ["match", "export-unmatched", "--org", "acme", "--table", "opportunity", "--out", str(tmp_path / "x.csv")]
    )
    unknown = cli.invoke(app, ["match", "report", "--org", "nobody"])
    unwritable = cli.invoke(
        app,
        ["match", "export-unmatched", "--org", "acme", "--table", "lead", "--out", str(tmp_path / "no" / "x.csv")],
    )
    lead = cli.invoke(
        app, ["match", "export-unmatched", "--org", "acme", "--table", "LEAD", "--out", str(tmp_path / "leads.csv")]
    )

    assert bad_table.exit_code == 2
    assert "Choose --table contact, lead or account." in bad_table.output
    assert not (tmp_path / "x.csv").exists()
    assert unknown.exit_code == 1
    assert "nobody" in unknown.output
    assert unwritable.exit_code == 1
    assert "The file cannot be written" in unwritable.output
    assert lead.exit_code == 0, lead.output
    assert (tmp_path / "leads.csv").read_text(encoding="utf-8-sig").splitlines()[1].startswith("l-1,")
