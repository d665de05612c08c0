"""Reading CSVs of people and companies: aliases, encodings, hostile files (per-line problems while good lines load),
streaming in batches, formula cells and a generated round trip."""

from __future__ import annotations

import csv
import io
import random
import string

import pytest

from salesbridge.domain.csv_rows import (
    MAX_CELL_CHARS,
    MAX_RECORD_BYTES,
    MAX_RECORD_LINES,
    SAMPLE_BYTES,
    CompanyRow,
    CsvReading,
    LineProblem,
    PersonRow,
    looks_like_formula,
    neutralise_for_spreadsheet,
    read_company_csv,
    read_people_csv,
)
from salesbridge.errors import InvalidRequestError


def _read(reading: CsvReading[PersonRow]) -> tuple[list[PersonRow], list[LineProblem]]:
    rows: list[PersonRow] = []
    problems: list[LineProblem] = []
    for batch in reading.batches():
        rows.extend(batch.rows)
        problems.extend(batch.problems)
    return rows, problems


def _people(text: str) -> tuple[list[PersonRow], list[LineProblem]]:
    return _read(read_people_csv(text.encode("utf-8")))


def _reasons(problems: list[LineProblem]) -> list[tuple[int, str]]:
    return [(problem.line, problem.english()) for problem in problems]


def test_column_aliases_are_matched_ignoring_case_and_unknown_columns_warned_once() -> None:
    reading = read_people_csv(
        b"External_ID,First Name,SURNAME,E-mail,Telephone,Mobile,Headline,Organization,Profile URL,Address,Town,"
        b"ZIP,State,Country,Favourite colour\n"
        b"p1,Ana,Ruiz,ana@contoso.com; ana.ruiz@contoso.com,+34 600 000 001,+34 600 000 002,CFO,Contoso,"
        b"https://linkedin.com/in/ana,Gran Via 1,Madrid,28013,Madrid,Spain,blue\n"
    )
    rows, problems = _read(reading)

    assert problems == []
    assert rows == [
        PersonRow(
            line=2,
            external_id="p1",
            first_name="Ana",
            last_name="Ruiz",
            emails=("ana@contoso.com", "ana.ruiz@contoso.com"),
            phones=("+34 600 000 001", "+34 600 000 002"),
            job_title="CFO",
            company_name="Contoso",
            linkedin_url="https://linkedin.com/in/ana",
            street="Gran Via 1",
            city="Madrid",
            postcode="28013",
            region="Madrid",
            country="Spain",
        )
    ]
    assert [warning.english() for warning in reading.warnings] == [
        "Columns ignored (not recognised): Favourite colour."
    ]
    assert reading.columns["SURNAME"] == "last_name"


def test_company_columns() -> None:
    reading = read_company_csv(
        b"id,Company Name,Domain,Phone,Industry,Employees,Street,City,Postal Code,Province,Country,LinkedIn,Name\n"
        b"c1,Contoso Ltd.,contoso.com,+1 425 555 0100,Software,250,1 Main St,Redmond,98052,WA,USA,"
        b"https://linkedin.com/company/contoso,Second name\n"
    )
    rows = [row for batch in reading.batches() for row in batch.rows]

    assert rows == [
        CompanyRow(
            line=2,
            external_id="c1",
            name="Contoso Ltd.",
            website="contoso.com",
            phones=("+1 425 555 0100",),
            industry="Software",
            employee_count="250",
            street="1 Main St",
            city="Redmond",
            postcode="98052",
            region="WA",
            country="USA",
            linkedin_url="https://linkedin.com/company/contoso",
        )
    ]
    assert [warning.english() for warning in reading.warnings] == [
        "Columns ignored (an earlier column gives the same field): Name."
    ]


def test_a_missing_id_column_is_one_file_level_error() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        read_people_csv(b"first_name,email\nAna,ana@contoso.com\n")
    assert "no id column" in str(raised.value)
    assert raised.value.localized("es") != ""


@pytest.mark.parametrize(
    "content",
    [
        "id,first_name\np1,Ana\n".encode("utf-16-le"),  # UTF-16 without a byte order mark
        "id,first_name\np1,Ana\n".encode("utf-16"),  # with one
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + bytes(range(256)) * 4,  # a spreadsheet's zip, binary
    ],
)
def test_a_file_that_is_not_utf8_or_latin1_text_is_refused(content: bytes) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        read_people_csv(content)
    assert "not text in UTF-8 or Latin-1" in str(raised.value)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        read_people_csv(b"\n\n")


def test_utf8_with_a_byte_order_mark() -> None:
    reading = read_people_csv("\ufeffid,first_name,last_name\np1,José,Muñoz\n".encode())
    rows, problems = _read(reading)

    assert reading.encoding == "utf-8"
    assert (rows[0].external_id, rows[0].first_name, rows[0].last_name) == ("p1", "José", "Muñoz")
    assert problems == []


def test_latin1_accents() -> None:
    reading = read_people_csv("id,first_name,last_name\r\np1,José,Muñoz\r\n".encode("latin-1"))
    rows, problems = _read(reading)

    assert reading.encoding == "latin-1"
    assert (rows[0].first_name, rows[0].last_name) == ("José", "Muñoz")
    assert problems == []


def test_a_later_line_that_is_not_utf8_is_refused_alone() -> None:
    # The first SAMPLE_BYTES decide the encoding: the Latin-1 line comes after them.
    padding = "".join(f"a{number},Ana María\n" for number in range(SAMPLE_BYTES // 10))
    content = f"id,first_name\np1,José\n{padding}".encode() + b"p2,Jos\xe9\n" + b"p3,Ana\n"
    reading = read_people_csv(content)
    rows, problems = _read(reading)

    assert reading.encoding == "utf-8"
    assert [row.external_id for row in rows][-2:] == ["a6552", "p3"]
    bad_line = 3 + SAMPLE_BYTES // 10
    assert _reasons(problems) == [(bad_line, "The line is not valid UTF-8, unlike the rest of the file.")]
    assert rows[-1].line == bad_line + 1


def test_multi_line_quoted_cells_keep_physical_line_numbers() -> None:
    rows, problems = _people(
        'id,first_name,street\np1,Ana,"Gran Via 1\nPiso 3\nPuerta B"\np2,"Bob ""Bobby""",x\n\np3,Eve,y\n'
    )

    assert [(row.line, row.external_id) for row in rows] == [(2, "p1"), (5, "p2"), (7, "p3")]
    assert rows[0].street == "Gran Via 1\nPiso 3\nPuerta B"
    assert rows[1].first_name == 'Bob "Bobby"'
    assert problems == []


def test_hostile_csv_reports_each_bad_line_and_loads_the_good_ones() -> None:
    huge = "x" * (MAX_CELL_CHARS + 1)
    content = (
        "id,first_name,last_name\n"  # 1
        "p1,Ana,Ruiz\n"  # 2
        f"p2,{huge},Big\n"  # 3: a cell past the limit
        "p3,Bob,Smith,extra\n"  # 4: too many cells
        ",Nobody,Here\n"  # 5: no id
        "p1,Ana,Again\n"  # 6: duplicate id, the first wins
        "\n"  # 7: blank, skipped
        ",,\n"  # 8: empty cells, skipped
        'p4,"Eve"x,Y\n'  # 9: broken quoting
        "p5,Zoe,\x00\n"  # 10: binary
        "p6,Ian,Lee\n"  # 11
    )
    rows, problems = _people(content)

    assert [(row.line, row.external_id) for row in rows] == [(2, "p1"), (11, "p6")]
    assert _reasons(problems) == [
        (3, f"The first_name cell is longer than {MAX_CELL_CHARS} characters."),
        (4, "The line has 4 cells but the header has 3 columns."),
        (5, "The line has no id."),
        (6, "The id p1 is already on line 2; only that line is loaded."),
        (9, "The quoting of the line is broken (a quote inside a cell must be doubled)."),
        (10, "The line contains a NUL character (binary data)."),
    ]


def test_an_unterminated_quote_refuses_its_line_and_reading_goes_on() -> None:
    good = "".join(f"p{number},Name {number}\n" for number in range(3, 3 + MAX_RECORD_LINES + 5))
    rows, problems = _people('id,first_name\np1,"Ana\n' + good)

    assert _reasons(problems) == [
        (
            2,
            f"A quote opened on this line is not closed within {MAX_RECORD_LINES} lines; the line was left out "
            "and reading went on with the next line.",
        )
    ]
    assert [row.line for row in rows] == list(range(3, 3 + MAX_RECORD_LINES + 5))


def test_an_unterminated_quote_at_the_end_of_the_file_is_reported() -> None:
    rows, problems = _people('id,first_name\np1,Ana\np2,"Bob\np3,Eve\n')

    assert [row.external_id for row in rows] == ["p1", "p3"]
    assert [problem.line for problem in problems] == [3]


def test_a_10_mb_cell_is_refused_without_being_held_and_reading_continues() -> None:
    content = b"id,first_name\np1,Ana\np2," + b"x" * 10_000_000 + b"\np3,Eve\n"
    progress: list[int] = []
    reading = read_people_csv(io.BytesIO(content), on_progress=progress.append)
    rows, problems = _read(reading)

    assert [row.external_id for row in rows] == ["p1", "p3"]
    assert _reasons(problems) == [(3, f"The line is longer than {MAX_RECORD_BYTES} bytes.")]
    assert progress[-1] == reading.bytes_read == len(content)
    assert progress == sorted(progress)


def test_formula_cells_are_kept_as_text_and_flagged() -> None:
    rows, problems = _people(
        "id,first_name,last_name,phone,email\n"
        "p1,=HYPERLINK(\"http://x\"),@SUM(A1),+34 600 000 000,-2+3+cmd|' /C calc'!A0\n"
    )

    assert problems == []
    assert rows[0].first_name == '=HYPERLINK("http://x")'
    assert rows[0].phones == ("+34 600 000 000",)
    assert rows[0].formula_fields == ("first_name", "last_name", "emails")


@pytest.mark.parametrize(
    ("value", "neutralised"),
    [
        ("=1+1", "'=1+1"),
        ("+34 600", "'+34 600"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        ("", ""),
    ],
)
def test_neutralise_for_spreadsheet(value: str, neutralised: str) -> None:
    assert neutralise_for_spreadsheet(value) == neutralised


def test_looks_like_formula() -> None:
    assert looks_like_formula("=1")
    assert looks_like_formula("-2+3+cmd")
    assert not looks_like_formula("+34 (600) 000-000")
    assert not looks_like_formula("-12.5")
    assert not looks_like_formula("Ana")


def test_batches_stream_with_bounded_rows() -> None:
    content = "id,first_name\n" + "".join(f"p{number},N{number}\n" for number in range(2_500))
    reading = read_people_csv(content.encode(), batch_size=1_000)
    sizes = [len(batch.rows) for batch in reading.batches()]

    assert sizes == [1_000, 1_000, 500]
    assert (reading.rows_read, reading.lines_read, reading.lines_refused) == (2_500, 2_501, 0)
    with pytest.raises(RuntimeError):
        next(reading.batches())


def test_generated_well_formed_csvs_round_trip() -> None:
    generator = random.Random(13)
    alphabet = string.ascii_letters + string.digits + " ,\"'\n;.éñüß-_@"
    columns = ["id", "first_name", "last_name", "job_title", "company_name", "city", "country"]
    for _ in range(30):
        expected = []
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=generator.choice(["\n", "\r\n"]))
        writer.writerow(columns)
        for number in range(generator.randint(0, 40)):
            values = [
                "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12))).strip(" ;")
                for _ in columns[1:]
            ]
            values = [value.replace("\n", " ").strip() if not generator.random() < 0.2 else value for value in values]
            writer.writerow([f"id-{number}", *values])
            expected.append((f"id-{number}", *(value.strip() or None for value in values)))
        encoding = generator.choice(["utf-8", "utf-8-sig", "latin-1"])
        rows, problems = _read(read_people_csv(buffer.getvalue().encode(encoding)))

        assert problems == []
        assert [
            (row.external_id, row.first_name, row.last_name, row.job_title, row.company_name, row.city, row.country)
            for row in rows
        ] == expected


def test_stray_quotes_cost_their_own_lines_only() -> None:
    rows, problems = _people('id,first_name,last_name\np1,Tall 5\'11",Ruiz\np2,Ana,Lopez\np3,Say "hi,Bob\np4,Eve,Ng\n')

    assert [(row.line, row.external_id) for row in rows] == [(3, "p2"), (5, "p4")]
    assert [problem.line for problem in problems] == [2, 4]
    assert problems[0].english().startswith("The quoting of the line is broken")
    assert problems[1].english().startswith("A quote opened on this line is not closed")
