"""A CSV line's problem, a message id with fields from the pure reader, is worded at the edge in the reader's
language with its line number."""

from __future__ import annotations

from salesbridge.domain.csv_rows import read_people_csv
from salesbridge.web.localized import line_problem_text


def test_a_line_problem_is_worded_in_the_readers_language() -> None:
    reading = read_people_csv(b"id,first_name,colour\np1,Ana,blue\np2,Bob,red,extra\n")
    problems = [problem for batch in reading.batches() for problem in batch.problems]

    assert [line_problem_text(problem, "es") for problem in problems] == [
        "Línea 3: La línea tiene 4 celdas, pero el encabezado tiene 3 columnas."
    ]
    assert line_problem_text(problems[0], "en") == "Line 3: The line has 4 cells but the header has 3 columns."
    assert [line_problem_text(warning, "es") for warning in reading.warnings] == [
        "Línea 1: Columnas ignoradas (no reconocidas): colour."
    ]
