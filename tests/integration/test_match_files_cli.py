"""``salesbridge match people|companies``: the file-to-file linker end to end, through the real CLI on files (no
database): hostile lines reported with their number while the good ones are matched, one-to-one pairs with score
and band, cells a spreadsheet would run neutralised, a file refused whole, and the exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from salesbridge.cli import app

TEN_MB = 10 * 1024 * 1024


def _runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "400"})


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _people_files(tmp_path: Path) -> tuple[Path, Path]:
    left = tmp_path / "crm.csv"
    left.write_bytes(
        b"\n".join(
            [
                b"ID,First Name,Last Name,Email,Phone,Company,Job Title,City,Shoe size",
                b"c1,Bob,Smith,bob.smith@contoso.example,,Contoso Ltd.,CTO,Madrid,44",
                b'c2,Ana,"Ga"rcia,,,,,,',  # broken quoting
                b"c3,Carla," + b"x" * TEN_MB + b",,,,,,",  # a 10 MB cell
                "c4,Paco,Fernández,,+34 910 000 000,ACME S.A.,Buyer,Sevilla,".encode(),
                b"c5,John,Smith,,,Fabrikam,,,",  # a second John Smith elsewhere
                b"c6,Lucia,Martin,,,Northwind,,,",  # nobody on the right
                b"=c7,Zoe,Diaz,zoe@wingtip.example,,Wingtip,,,",  # an id a spreadsheet would run
            ]
        )
        + b"\n"
    )
    right = tmp_path / "workspace.csv"
    # Latin-1, other column names and order, a formula cell, an unknown column.
    right.write_bytes(
        "\n".join(
            [
                "id,company,first_name,last_name,email,phone,title,city,notes",
                "p1,CONTOSO,Robert,Smith,,,Chief Technology Officer,madrid,",
                "p2,Acme,Francisco,Fernández,,+34 910 000 000,Purchasing,Sevilla,",
                "p3,Contoso,John,Smith,,,,,",
                "=p4,Wingtip Toys,Zoe,Díaz,zoe@wingtip.example,,,,=SUM(A1)",
                "p5,Contoso,Robert,Smith Jr,,,Intern,Bilbao,",
            ]
        ).encode("latin-1")
        + b"\n"
    )
    return left, right


def test_match_people_links_files_one_to_one_and_reports_bad_lines(tmp_path: Path) -> None:
    left, right = _people_files(tmp_path)
    out = tmp_path / "pairs.csv"
    result = _runner().invoke(
        app,
        ["match", "people", "--left", str(left), "--right", str(right), "--out", str(out), "--default-region", "es"],
    )
    assert result.exit_code == 0, result.output
    assert "Line 3:" in result.output  # broken quoting
    assert "Line 4:" in result.output  # the 10 MB cell
    assert "Shoe size" in result.output  # the unknown column, named once
    rows = _rows(out)
    assert list(rows[0]) == ["left_id", "right_id", "score", "band"]
    pairs = {(row["left_id"], row["right_id"]) for row in rows}
    assert ("c1", "p1") in pairs
    assert ("c4", "p2") in pairs
    assert ("'=c7", "'=p4") in pairs  # neutralised, still the pair
    assert all(row["band"] in {"match", "review"} for row in rows)
    assert all(0.0 <= float(row["score"]) <= 1.0 for row in rows)
    # One-to-one on both sides: the two John/Robert Smiths at Contoso do not both take p1.
    assert len({row["left_id"] for row in rows}) == len(rows)
    assert len({row["right_id"] for row in rows}) == len(rows)
    assert not any(row["left_id"] == "c6" for row in rows)
    assert not any(row["left_id"] in {"c2", "c3"} for row in rows)


def test_match_people_json_output(tmp_path: Path) -> None:
    left, right = _people_files(tmp_path)
    out = tmp_path / "pairs.csv"
    result = _runner().invoke(
        app, ["match", "people", "--left", str(left), "--right", str(right), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["left_records"] == 5
    assert summary["right_records"] == 5
    assert summary["compared_pairs"] >= summary["matches"] + summary["reviews"] > 0
    assert [problem["line"] for problem in summary["left_problems"]] == [3, 4]
    assert summary["matches"] + summary["reviews"] == len(_rows(out))


def test_match_companies_links_names_domains_and_legal_forms(tmp_path: Path) -> None:
    left = tmp_path / "accounts.csv"
    left.write_text(
        "id,name,website,city,country\n"
        "a1,Contoso Ltd.,https://www.contoso.com,London,UK\n"
        "a2,Fabrikam S.L.,,Madrid,Spain\n"
        "a3,Northwind Traders,northwind.example,,\n",
        encoding="utf-8-sig",
    )
    right = tmp_path / "companies.csv"
    right.write_text(
        "id,name,website,phone,employee_count,city,country\n"
        "k1,CONTOSO,contoso.com,,1200,London,GB\n"
        "k2,Fabrikam,,,40,Madrid,ES\n"
        "k3,Tailspin Toys,tailspin.example,,,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "pairs.csv"
    result = _runner().invoke(
        app, ["match", "companies", "--left", str(left), "--right", str(right), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = {(row["left_id"], row["right_id"]): row["band"] for row in _rows(out)}
    assert rows[("a1", "k1")] == "match"
    assert ("a2", "k2") in rows
    assert not any(left_id == "a3" for left_id, _ in rows)


def test_a_file_without_an_id_column_is_refused_with_exit_1(tmp_path: Path) -> None:
    left = tmp_path / "crm.csv"
    left.write_text("name,email\nAna,ana@contoso.example\n", encoding="utf-8")
    right = tmp_path / "workspace.csv"
    right.write_text("id,first_name\np1,Ana\n", encoding="utf-8")
    out = tmp_path / "pairs.csv"
    result = _runner().invoke(app, ["match", "people", "--left", str(left), "--right", str(right), "--out", str(out)])
    assert result.exit_code == 1
    assert "id column" in result.output
    assert not out.exists()


def test_a_missing_input_file_is_bad_usage(tmp_path: Path) -> None:
    result = _runner().invoke(
        app,
        ["match", "people", "--left", str(tmp_path / "nope.csv"), "--right", str(tmp_path / "nope.csv"), "--out", "x"],
    )
    assert result.exit_code == 2


def test_a_birth_date_column_is_read_and_tells_namesakes_apart(tmp_path: Path) -> None:
    left = tmp_path / "crm.csv"
    left.write_text("id,first_name,last_name,date_of_birth,shoe\n1,Ana,Ruiz,1980-02-03,x\n", encoding="utf-8")
    right = tmp_path / "workspace.csv"
    right.write_text(
        "id,first_name,last_name,DOB\n10,Ana,Ruiz,1990-01-01\n11,Ana,Ruiz,1980-02-03\n12,Ana,Ruiz,1970-07-07\n",
        encoding="utf-8",
    )
    out = tmp_path / "pairs.csv"
    result = _runner().invoke(app, ["match", "people", "--left", str(left), "--right", str(right), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [(row["left_id"], row["right_id"]) for row in _rows(out)] == [("1", "11")]
    assert "shoe" in result.output
    assert "date_of_birth" not in result.output  # read, so not reported as ignored
    assert "DOB" not in result.output


def test_files_with_one_name_column_are_matched_by_that_name(tmp_path: Path) -> None:
    left = tmp_path / "crm.csv"
    left.write_text("id,name,company\nc1,Robert Smith,Contoso Ltd.\nc2,Lucia Martin,Northwind\n", encoding="utf-8")
    right = tmp_path / "workspace.csv"
    right.write_text("id,full name,company\np1,Bob Smith,CONTOSO\np2,Ana Diaz,Wingtip\n", encoding="utf-8")
    out = tmp_path / "pairs.csv"

    result = _runner().invoke(app, ["match", "people", "--left", str(left), "--right", str(right), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "not recognised" not in result.output, "the name columns are read"
    assert [(row["left_id"], row["right_id"]) for row in _rows(out)] == [("c1", "p1")]
