"""The matching benchmark runs end to end on small slices, salesbridge and splink side by side (numbers are not
timed, only checked to be sane). ``make test`` builds ``.venv-splink`` and downloads the data wheels first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SPLINK_PYTHON = ROOT / ".venv-splink" / "bin" / "python"


def rate(value: Any) -> bool:
    return isinstance(value, float | int) and 0.0 <= value <= 1.0


def test_matching_benchmark_runs_both_tools_on_every_set(tmp_path: Path) -> None:
    assert SPLINK_PYTHON.exists(), "run `make .venv-splink` (make test does) before this test"
    out = tmp_path / "matching.json"
    command = [sys.executable, "-m", "bench.matching", "--size", "1000", "--rounds", "1", "--out", str(out)]
    command += ["--sets", "febrl4,rldata10000,patstat,demo_people,demo_companies"]
    # splink's EM needs more matches than a 1,000-contact scale set has (the full run links the scale set with it).
    command += ["--scale-contacts", "1000", "--scale-people", "10000", "--scale-changes", "40", "--no-scale-splink"]
    subprocess.run(command, check=True, capture_output=True, timeout=900, cwd=ROOT)
    result = json.loads(out.read_text())

    assert result["benchmark"] == "matching"
    assert result["size"] == 1000
    assert len(result["engine_digest"]) == 12, "the run's workers import one snapshot of the engine"
    assert set(result["sets"]) == {"febrl4", "rldata10000", "patstat", "demo_people", "demo_companies"}
    for name in result["sets"]:
        part = result["sets"][name]
        assert part["failures"] == {}, name
        assert part["true_pairs"] > 0
        for tool in ("splink", "salesbridge_default", "salesbridge_estimated"):
            run = part[tool]
            assert len(run["seconds_per_round"]) == 1
            assert run["seconds_per_round"][0] > 0
            assert run["compared_pairs"] > 0
            assert run["peak_rss_mb_per_round"][0] > 0
            assert run["accuracy_same_every_round"] is True
        splink, engine = part["splink"]["accuracy"], part["salesbridge_default"]["accuracy"]
        for threshold in ("p050", "p099"):
            figures = splink[threshold] if part["mode"] == "link" else splink[threshold]["pairwise"]
            assert all(rate(figures[key]) for key in ("precision", "recall", "f1"))
        assert rate(engine["match_band_precision"])
        assert engine["match_count"] + engine["review_count"] > 0
        assert part["salesbridge_default"]["goals"]["splink_f1"] == (
            splink["p050"]["f1"] if part["mode"] == "link" else splink["p050"]["pairwise"]["f1"]
        )
        if part["mode"] == "dedupe":
            for judged in (splink["p050"], engine["match"]):
                assert rate(judged["bcubed"]["f1"])
                assert judged["pairwise"]["actual"] == part["true_pairs"]

    febrl = result["sets"]["febrl4"]
    assert febrl["mode"] == "link"
    assert febrl["records"]["left"] == 1000
    assert febrl["true_pairs"] == 1000
    # Person linkage on FEBRL is easy enough that both tools must find most links: a broken exchange of ids
    # (swapped sides, wrong id column) would show here as F1 near zero.
    assert febrl["splink"]["accuracy"]["p050"]["f1"] > 0.9
    assert febrl["splink"]["accuracy"]["p050_all_pairs"]["f1"] > 0.9
    assert febrl["salesbridge_default"]["accuracy"]["match_or_review"]["f1"] > 0.9

    # The demo generator's truth: a person may be several CRM records (contact, lead, duplicate), so it has fewer
    # people than true pairs would need one to one; the demo CRM is small enough to be taken whole.
    people = result["sets"]["demo_people"]
    assert people["records"]["left"] == 250
    assert 0 < people["true_pairs"] <= people["records"]["left"]
    assert people["salesbridge_default"]["accuracy"]["match"]["recall"] > 0.5
    assert result["sets"]["demo_companies"]["true_pairs"] > 0

    scale = result["scale"]
    assert scale["contacts"] == 1000
    assert scale["people"] == 10000
    best = scale["best"]
    assert best["contacts"] == 1000
    assert best["people"] == 10000
    assert best["true_links"] == 700
    assert best["compared_pairs"] > 0
    assert best["accuracy"]["match_or_review"]["recall"] > 0.5
    assert best["incremental"]["contacts"] == 40
    assert best["index_add"]["people"] == 40
    assert set(scale["goals"]) == {"seconds_ok", "peak_rss_ok", "incremental_ok"}
    assert best["people_generated_while_indexing"] is True
    assert "splink" not in scale
