"""``salesbridge people import`` / ``companies import`` end to end: the real CLI on SQLite and PostgreSQL with hostile
files — each bad line reported with its number and reason while the good ones load, a file that cannot be read
refused whole with nothing written, and loading the same file twice changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesbridge.bootstrap import open_workspace
from salesbridge.cli import app
from salesbridge.domain.people import Company, Person
from salesbridge.settings import Settings

TEN_MB = 10 * 1024 * 1024


def _cli(database_url: str, key_file: Path) -> CliRunner:
    return CliRunner(
        env={
            "SALESBRIDGE_DATABASE_URL": database_url,
            "SALESBRIDGE_CREDENTIAL_KEY": None,
            "SALESBRIDGE_CREDENTIAL_KEY_FILE": str(key_file),
            "COLUMNS": "400",
        }
    )


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> CliRunner:
    runner = _cli(database_url, tmp_path / "credential.key")
    created = runner.invoke(app, ["org", "create", "acme"])
    assert created.exit_code == 0, created.output
    return runner


def _stored(database_url: str, key_file: Path) -> tuple[list[Person], list[Company]]:
    workspace = open_workspace(Settings(database_url=database_url, credential_key_file=key_file))
    try:
        organization_id = workspace.store.organization_id("acme")
        assert organization_id is not None
        with workspace.store(organization_id, read_only=True) as uow:
            return uow.people.search(limit=100), uow.companies.search(limit=100)
    finally:
        workspace.close()


def _hostile_people(path: Path) -> Path:
    lines = [
        b"id,First Name,Last Name,Title,Email,Shoe size",
        "p1,Ana,García,CTO,ana@contoso.example,38".encode(),
        b'p2,Bob,"Sm"ith,CEO,,',  # broken quoting
        b"p3,Carla," + b"x" * TEN_MB + b",,,",  # a 10 MB cell
        b"p4,,,Nobody,,",  # no name
        b'p5,Dan,"=HYPERLINK(""http://evil.example"",""x"")",,,',  # a formula cell
        b'p6,Eve,Ruiz,"Head of ""Sales""",eve@example.org;eve@home.example,',
        b"p1,Ana,Again,,,",  # the id of line 2 again
    ]
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    return path


def test_a_hostile_people_file_loads_its_good_lines_reports_the_others_and_loads_again_unchanged(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    csv = _hostile_people(tmp_path / "people.csv")

    first = cli.invoke(app, ["people", "import", "--org", "acme", str(csv), "--json"])

    assert first.exit_code == 0, first.output[:2000]
    report = json.loads(first.output)
    assert (report["inserted"], report["updated"], report["unchanged"], report["refused"]) == (3, 0, 0, 4)
    assert report["formula_rows"] == 1
    assert [problem["line"] for problem in report["problems"]] == [3, 4, 5, 8]
    messages = [problem["message"] for problem in report["problems"]]
    assert messages[0].startswith("Line 3: The quoting of the line is broken")
    assert messages[1] == "Line 4: The line is longer than 1000000 bytes."
    assert messages[2] == "Line 5: The line has no name: give a full name, a first name or a last name."
    assert messages[3].startswith("Line 8: The id p1 is already on line 2")
    assert report["warnings"] == [{"line": 1, "message": "Line 1: Columns ignored (not recognised): Shoe size."}]
    people, _ = _stored(database_url, tmp_path / "credential.key")
    by_id = {person.external_id: person for person in people}
    assert sorted(by_id) == ["p1", "p5", "p6"]
    assert (by_id["p1"].full_name, by_id["p1"].headline, by_id["p1"].emails) == (
        "Ana García",
        "CTO",
        ("ana@contoso.example",),
    )
    assert by_id["p5"].last_name == '=HYPERLINK("http://evil.example","x")'  # kept as text
    assert by_id["p6"].headline == 'Head of "Sales"'
    assert by_id["p6"].emails == ("eve@example.org", "eve@home.example")

    again = cli.invoke(app, ["people", "import", "--org", "acme", str(csv), "--json"])

    assert again.exit_code == 0, again.output[:2000]
    second = json.loads(again.output)
    assert (second["inserted"], second["updated"], second["unchanged"], second["refused"]) == (0, 0, 3, 4)
    people_again, _ = _stored(database_url, tmp_path / "credential.key")
    assert {(p.external_id, p.updated_at) for p in people_again} == {(p.external_id, p.updated_at) for p in people}


@pytest.mark.parametrize("header", ["name", "Full Name", "contact_name", "Person", "full_name"])
def test_a_file_with_one_name_column_loads_that_name(
    cli: CliRunner, database_url: str, tmp_path: Path, header: str
) -> None:
    """QA item 4: most exports carry one name column; it loaded nothing ("Columns ignored: name", "no name")."""
    csv = tmp_path / "people.csv"
    csv.write_text(f"id,{header},email\nb1,Ana López Ruiz,ana@example.org\nb2,,\nb3,{'x' * 301},\n", encoding="utf-8")

    loaded = cli.invoke(app, ["people", "import", "--org", "acme", str(csv), "--json"])

    assert loaded.exit_code == 0, loaded.output[:2000]
    report = json.loads(loaded.output)
    assert (report["inserted"], report["refused"], report["warnings"]) == (1, 2, [])
    assert [problem["message"] for problem in report["problems"]] == [
        "Line 3: The line has no name: give a full name, a first name or a last name.",
        f"Line 4: The {header} value is longer than 300 characters.",
    ]
    people, _ = _stored(database_url, tmp_path / "credential.key")
    assert [(person.external_id, person.full_name, person.first_name) for person in people] == [
        ("b1", "Ana López Ruiz", None)
    ]


def test_the_progress_bar_summary_table_and_problems_in_spanish(cli: CliRunner, tmp_path: Path) -> None:
    csv = tmp_path / "gente.csv"
    csv.write_bytes("id,nombre,First Name\np1,x,José\np2,y,\n".encode("latin-1"))

    shown = cli.invoke(app, ["people", "import", "--org", "acme", str(csv), "--lang", "es"])

    assert shown.exit_code == 0, shown.output
    assert "Línea 3: La línea no tiene nombre: indica el nombre completo, el nombre o los apellidos." in shown.output
    assert "Personas cargadas" in shown.output
    assert "Líneas rechazadas" in shown.output
    size = csv.stat().st_size
    assert "gente.csv" in shown.output
    assert f"{size}/{size} bytes" in shown.output  # the progress bar, finished


def test_a_latin1_file_is_read_as_latin1(cli: CliRunner, database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "latin1.csv"
    csv.write_bytes("id,first_name,last_name,city\np1,José,Muñoz,Cádiz\n".encode("latin-1"))

    result = cli.invoke(app, ["people", "import", "--org", "acme", str(csv), "--json"])

    assert result.exit_code == 0, result.output
    (person,), _ = _stored(database_url, tmp_path / "credential.key")
    assert (person.full_name, person.city) == ("José Muñoz", "Cádiz")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"first_name,last_name\nAna,Garcia\n", "The file has no id column."),
        ("id,first_name\np1,Ana\n".encode("utf-16"), "The file is not text in UTF-8 or Latin-1"),
        (b"", "The file is empty: it has no header line."),
    ],
    ids=["no id column", "utf-16", "empty"],
)
def test_a_file_that_cannot_be_read_is_refused_whole_and_nothing_is_written(
    cli: CliRunner, database_url: str, tmp_path: Path, content: bytes, expected: str
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_bytes(content)

    result = cli.invoke(app, ["people", "import", "--org", "acme", str(csv)])

    assert result.exit_code == 1, result.output
    assert expected in " ".join(result.output.split())
    assert "upload" not in result.output  # a local file is loaded, not uploaded (QA item 9)
    assert _stored(database_url, tmp_path / "credential.key") == ([], [])


def test_nothing_loaded_exits_1_with_every_line_listed(cli: CliRunner, tmp_path: Path) -> None:
    csv = tmp_path / "companies.csv"
    csv.write_bytes(b"id,name,employees\nc1,,10\nc2,Globex,lots\n")

    result = cli.invoke(app, ["companies", "import", "--org", "acme", str(csv)])

    assert result.exit_code == 1, result.output
    assert "Line 2: The line has no company name." in result.output
    assert "Line 3: The employees value is not a whole number of 0 or more." in result.output
    assert "Nothing was loaded." in result.output


def test_companies_load_with_their_domain_and_a_second_load_changes_nothing(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    csv = tmp_path / "companies.csv"
    csv.write_bytes(
        b"\xef\xbb\xbfID,Account Name,Website,Employees,Industry\n"  # Excel's CSV UTF-8, with its mark
        b'c1,Contoso Ltd.,https://www.contoso.co.uk/,"1,200",Retail\n'
        b"c2,Globex,globex.example,80,\n"
    )

    first = cli.invoke(app, ["companies", "import", "--org", "acme", str(csv), "--json"])
    second = cli.invoke(app, ["companies", "import", "--org", "acme", str(csv), "--json"])

    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["inserted"] == 2
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["unchanged"] == 2
    _, companies = _stored(database_url, tmp_path / "credential.key")
    contoso = next(company for company in companies if company.external_id == "c1")
    assert (contoso.name, contoso.domain, contoso.employee_count) == ("Contoso Ltd.", "contoso.co.uk", 1200)


def test_an_unknown_organization_is_refused_by_name(cli: CliRunner, tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_bytes(b"id,first_name\np1,Ana\n")

    result = cli.invoke(app, ["people", "import", "--org", "initech", str(csv)])

    assert result.exit_code == 1
    assert "No organization is called 'initech'" in result.output


def test_a_person_and_a_company_are_deleted_by_external_id(cli: CliRunner, database_url: str, tmp_path: Path) -> None:
    """QA item 8: no way to delete a wrong load or honour an erasure request from the command line."""
    (tmp_path / "companies.csv").write_text("id,name\nk1,Contoso\n", encoding="utf-8")
    (tmp_path / "people.csv").write_text("id,name\np1,Ana López\np2,Bob Smith\n", encoding="utf-8")
    assert cli.invoke(app, ["companies", "import", "--org", "acme", str(tmp_path / "companies.csv")]).exit_code == 0
    assert cli.invoke(app, ["people", "import", "--org", "acme", str(tmp_path / "people.csv")]).exit_code == 0

    person = cli.invoke(app, ["people", "delete", "--org", "acme", "--id", "p1"])
    company = cli.invoke(app, ["companies", "delete", "--org", "acme", "--id", "k1", "--json"])
    again = cli.invoke(app, ["people", "delete", "--org", "acme", "--id", "p1", "--lang", "es"])

    assert person.exit_code == 0, person.output
    assert "Person p1 deleted" in person.output
    assert json.loads(company.output) == {"kind": "companies", "external_id": "k1", "deleted": True}
    assert again.exit_code == 1
    assert "Ninguna persona tiene el id p1 en acme." in again.output
    people, companies = _stored(database_url, tmp_path / "credential.key")
    assert ([p.external_id for p in people], companies) == (["p2"], [])
    workspace = open_workspace(Settings(database_url=database_url, credential_key_file=tmp_path / "credential.key"))
    try:
        organization_id = workspace.store.organization_id("acme")
        assert organization_id is not None
        with workspace.store(organization_id, read_only=True) as uow:
            actions = [entry.action for entry in uow.audit.recent(actor="cli") if entry.action.endswith(".deleted")]
    finally:
        workspace.close()
    assert sorted(actions) == ["company.deleted", "person.deleted"]


def test_a_file_changes_the_columns_it_has_and_keeps_the_others(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    """QA item 13: a file of id,first_name emptied every person's emails, company and city."""
    full, names, emails = tmp_path / "full.csv", tmp_path / "names.csv", tmp_path / "emails.csv"
    full.write_text("id,first_name,last_name,email,company,city\np1,Ana,López,ana@contoso.es,Contoso,Sevilla\n")
    names.write_text("id,first_name\np1,Anita\n")
    emails.write_text("id,first_name,email\np1,Anita,ana@fabrikam.es\n")  # a line still needs a name

    for file in (full, names, emails):
        assert cli.invoke(app, ["people", "import", "--org", "acme", str(file)]).exit_code == 0

    (person,), _ = _stored(database_url, tmp_path / "credential.key")
    assert (person.first_name, person.last_name, person.full_name) == ("Anita", "López", "Anita López")
    assert (person.emails, person.company_name, person.city) == (("ana@fabrikam.es",), "Contoso", "Sevilla")
