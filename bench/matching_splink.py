"""splink's side of the matching benchmark: one labelled set, trained and predicted, in ``.venv-splink``.

Runs in ``.venv-splink`` (``make .venv-splink``; ``bench/splink-requirements.txt``), never in the project venv, and
imports nothing of salesbridge: ``bench/matching.py`` writes the records as CSV (the source's own columns, trimmed,
empty for null) and reads back every scored pair at or above ``--keep`` (default 0.5) with its probability.

Each set is configured the way the reference measured it (``shared/reference/matching.md`` §3.2), unsupervised:
no label is ever shown to splink.

* **febrl4** — the FEBRL4 demo's "detailed" model without ``soc_sec_id``: NameComparison on given name and
  surname (term frequencies), DateOfBirthComparison, ExactMatch street number (TF), Damerau-Levenshtein postcode
  (TF); the demo's blocking rules less the SSN one; the prior from (given name, surname, birth date) at recall 0.8
  (the demo's rule less the SSN); u by random sampling; m by EM blocked on birth date, then on postcode.
* **rldata10000** — first and last name NameComparison with TF and DateOfBirthComparison; the prior from three
  deterministic rules at recall 0.9; EM blocked on birth date, then on last name.
* **patstat** — one comparison of the company name cleaned of legal form, punctuation and case (``cleanco``, as the
  reference's best simple baseline): exact, exact with sorted words, Jaro-Winkler ≥ 0.95 (also on sorted words),
  ≥ 0.9, Levenshtein ≤ 2, Jaro-Winkler ≥ 0.8; every pair compared (2,379 names); the prior from the exact cleaned
  name at recall 0.3; EM over all pairs.
* **crm** (the demo generator's pairs and the scale set) — first/last name (NameComparison, TF), e-mail
  (EmailComparison), company (Jaro-Winkler on the name cleaned of its legal form, TF), job title (Jaro-Winkler);
  the prior from the same e-mail or the same name and company at recall 0.7; EM blocked on e-mail, then on name
  and city.
* **crm_companies** (the demo generator's accounts ↔ companies) — cleaned name (Jaro-Winkler, TF), website host,
  phone's last nine digits, city; the prior from the same host or cleaned name at recall 0.7; EM blocked on the
  name's first four letters, then on the host.

Run: ``.venv-splink/bin/python bench/matching_splink.py --set febrl4 --input in.json --out out.json [--keep 0.5]``
where ``in.json`` is ``{"link_type": "link_only" | "dedupe_only", "tables": ["left.csv", "right.csv"]}`` (one
table to dedupe); the CSV files have a header, every value is read as a string and an empty cell as null.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-not-found]  # .venv-splink only
import pyarrow.csv as pacsv  # type: ignore[import-not-found]
import splink.comparison_level_library as cll  # type: ignore[import-not-found]
import splink.comparison_library as cl  # type: ignore[import-not-found]
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # type: ignore[import-not-found]

Settings = Callable[[Linker], None]


def febrl4_settings() -> tuple[dict[str, Any], Settings]:
    blocking = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison(
            "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
        ),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ]

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        em = linker.training.estimate_parameters_using_expectation_maximisation
        em(block_on("date_of_birth"), estimate_without_term_frequencies=True)
        em(block_on("postcode"), estimate_without_term_frequencies=True)

    return {"unique_id_column_name": "rec_id", "blocking": blocking, "comparisons": comparisons}, train


def rldata_settings() -> tuple[dict[str, Any], Settings]:
    blocking = [
        block_on("first_name", "last_name"),
        block_on("dob"),
        block_on("first_name", "substr(dob, 1, 4)"),
        block_on("last_name", "substr(dob, 1, 4)"),
        block_on("substr(first_name, 1, 2)", "substr(last_name, 1, 2)", "substr(dob, 1, 7)"),
    ]
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d", invalid_dates_as_null=True),
    ]

    def train(linker: Linker) -> None:
        deterministic = [
            block_on("first_name", "last_name", "dob"),
            block_on("first_name", "last_name", "substr(dob, 1, 7)"),
            block_on("first_name", "dob"),
        ]
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.9)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        em = linker.training.estimate_parameters_using_expectation_maximisation
        em(block_on("dob"), estimate_without_term_frequencies=True)
        em(block_on("last_name"), estimate_without_term_frequencies=True)

    return {"unique_id_column_name": "record_id", "blocking": blocking, "comparisons": comparisons}, train


def patstat_settings() -> tuple[dict[str, Any], Settings]:
    # One comparison of the cleaned name with graded levels. Tried here as well (2026-12-05, splink 5.0.0): three
    # views as separate comparisons (name JW, shared words, first word) gave pairwise F1 0.78 / B-cubed 0.89, and
    # word-containment levels inside this comparison 0.34 / 0.55: this one is splink's best of those.
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_clean"),
            cll.ExactMatchLevel("name_clean"),
            cll.ExactMatchLevel("name_sorted"),
            cll.JaroWinklerLevel("name_clean", 0.95),
            cll.JaroWinklerLevel("name_sorted", 0.95),
            cll.JaroWinklerLevel("name_clean", 0.9),
            cll.LevenshteinLevel("name_clean", 2),
            cll.JaroWinklerLevel("name_clean", 0.8),
            cll.ElseLevel(),
        ],
    )

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match([block_on("name_clean")], recall=0.3)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation("1=1")

    return {"unique_id_column_name": "record_id", "blocking": ["1=1"], "comparisons": [name]}, train


def crm_settings() -> tuple[dict[str, Any], Settings]:
    # Names alone are too common to block on at 1,000,000 people (Zipf-distributed, as real names are): every rule
    # but the e-mail one pairs a name with the company or the city.
    blocking = [
        block_on("email"),
        block_on("last_name", "company_clean"),
        block_on("first_name", "company_clean"),
        block_on("first_name", "last_name", "city"),
    ]
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.EmailComparison("email"),
        cl.JaroWinklerAtThresholds("company_clean", [0.95, 0.88]).configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("job_title", [0.95, 0.88]),
        cl.ExactMatch("city"),
    ]

    def train(linker: Linker) -> None:
        deterministic = [block_on("email"), block_on("first_name", "last_name", "company_clean")]
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        em = linker.training.estimate_parameters_using_expectation_maximisation
        # EM on blocks that stay small however many people share a common surname or a big employer.
        em(block_on("email"), estimate_without_term_frequencies=True)
        em(block_on("first_name", "last_name", "city"), estimate_without_term_frequencies=True)

    return {"unique_id_column_name": "id", "blocking": blocking, "comparisons": comparisons}, train


def crm_companies_settings() -> tuple[dict[str, Any], Settings]:
    blocking = [
        block_on("domain"),
        block_on("phone"),
        block_on("substr(name_clean, 1, 4)"),
        block_on("city", "substr(name_clean, 1, 2)"),
    ]
    comparisons = [
        cl.JaroWinklerAtThresholds("name_clean", [0.95, 0.88, 0.8]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("domain"),
        cl.ExactMatch("phone"),
        cl.ExactMatch("city"),
    ]

    def train(linker: Linker) -> None:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("domain"), block_on("name_clean")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        em = linker.training.estimate_parameters_using_expectation_maximisation
        em(block_on("substr(name_clean, 1, 4)"), estimate_without_term_frequencies=True)
        em(block_on("domain"), estimate_without_term_frequencies=True)

    return {"unique_id_column_name": "id", "blocking": blocking, "comparisons": comparisons}, train


SETS: dict[str, Callable[[], tuple[dict[str, Any], Settings]]] = {
    "febrl4": febrl4_settings,
    "rldata10000": rldata_settings,
    "patstat": patstat_settings,
    "crm": crm_settings,
    "crm_companies": crm_companies_settings,
}


def read_table(path: Path) -> pa.Table:
    """A CSV file the benchmark wrote: every column a string, empty cells null."""
    with path.open(encoding="utf-8") as file:
        header = file.readline().rstrip("\n").split(",")
    options = pacsv.ConvertOptions(
        column_types={column: pa.string() for column in header}, null_values=[""], strings_can_be_null=True
    )
    return pacsv.read_csv(path, convert_options=options)


def run(set_name: str, task: dict[str, Any], keep: float) -> dict[str, Any]:
    logging.getLogger("splink").setLevel(logging.WARNING)
    config, train = SETS[set_name]()
    tables = [read_table(Path(path)) for path in task["tables"]]
    started = time.perf_counter()
    db_api = DuckDBAPI()
    frames = [db_api.register(table, table_name=f"input_{index}") for index, table in enumerate(tables)]
    settings = SettingsCreator(
        link_type=task["link_type"],
        unique_id_column_name=config["unique_id_column_name"],
        blocking_rules_to_generate_predictions=config["blocking"],
        comparisons=config["comparisons"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(frames if len(frames) > 1 else frames[0], settings, log_level=logging.WARNING)
    train(linker)
    trained = time.perf_counter()
    predictions = linker.inference.predict()
    uid = config["unique_id_column_name"]
    scored = predictions.as_duckdbpyrelation()
    compared = scored.count("*").fetchall()[0][0]
    linking = task["link_type"] == "link_only"
    sources = "source_dataset_l, source_dataset_r" if linking else "'', ''"
    kept = scored.filter(f"match_probability >= {keep}").project(f"{sources}, {uid}_l, {uid}_r, match_probability")
    rows = kept.fetchall()
    ended = time.perf_counter()
    pairs = []
    for source_l, source_r, id_l, id_r, probability in rows:
        # In a link, put the left table's record first whatever side splink chose.
        if linking and source_l == "input_1" and source_r == "input_0":
            id_l, id_r = id_r, id_l
        pairs.append([id_l, id_r, round(float(probability), 6)])
    return {
        "set": set_name,
        "pairs": pairs,
        "compared_pairs": int(compared),
        "prior": linker._settings_obj._probability_two_random_records_match,
        "train_seconds": round(trained - started, 3),
        "predict_seconds": round(ended - trained, 3),
        "seconds": round(ended - started, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": {package: version(package) for package in ("splink", "duckdb", "pyarrow", "sqlglot")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", required=True, choices=sorted(SETS))
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--keep", type=float, default=0.5, help="Write back pairs at or above this probability.")
    args = parser.parse_args()
    task = json.loads(args.input.read_text())
    args.out.write_text(json.dumps(run(args.set, task, args.keep)))


if __name__ == "__main__":
    main()
