"""Experiment, nothing ships: collective evidence for accounts ↔ companies ("shared people").

    .venv/bin/python -m bench.matching_collective

An account whose contacts the engine linked (automatic band) to workspace people employed by workspace company X is
evidence that the account is X. One comparison on a pair (account, company): "2+" (at least two such people employed
by the company), "1", "contradicted" (linked people with a known employer, none of them the company), or missing
(no linked person with a known employer). Its m and u are counted as ``bench/fit_matching_model.py`` counts the
companies model's: the demo workspace generator on the training CRM (``scale:20000``, workspace seed 7; m over its
true pairs, u over 200,000 random pairs, Laplace 0.5, bounded to [-4, +16] bits); the people links are the engine's
own (``Matcher.people().link``, never the truth). Evaluated on the benchmark's demo sets (CRM ``demo`` and
``scale:10000``, seed 13) by adding the comparison's weight to each account's best candidate (the engine's link
with the review band opened), automatic band unchanged.

A person's employer two ways:

* ``name``: what the generated workspace holds today (people carry a company NAME only, no company id): the one
  workspace company of the person's country whose normalised name is the person's company's; none when several.
* ``id``: a HYPOTHETICAL employer id, as a workspace whose people carry their current company as an entity (the
  ``company_id`` the API's ``company_external_id`` sets) would hold it: the company the generator made the person's
  employer from (its CRM account's), or, after a job change, the company of the new name. The generator does not
  write it; this column is built here from the generator's account ↔ company pairs.

Measured 2026-12-06 (/work/notes/matching_bench.md, helper M2). Since then the "id" way ships: the generator
writes each person's employer id (``company_external_id``, about 60 % of them, ``EMPLOYER_ID_SHARE``), the engine
compares it ("people", ``salesbridge.matching.compare.people_level``) and ``bench/matching.py`` feeds it; this
script keeps the experiment as it was run (its own employer ids, every person).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from bench import matching_data as md
from salesbridge.matching import Band, Matcher
from salesbridge.matching.features import company_key, fold_word

TRAINING = ("scale:20000", 7)
SETS = (("demo", "demo_companies"), ("scale:10000", "demo10k_companies"))
MODES = ("name", "id")
LOW, HIGH = -4.0, 16.0


@dataclass
class Set:
    truth: dict[str, str]  # account id -> workspace company id
    linked: dict[str, list[str]]  # account id -> workspace people the engine linked its contacts and leads to
    employer: dict[str, dict[str, str | None]]  # mode -> person id -> employer company id
    left: list[Any]
    right: list[Any]


def _lookup(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    return str(value).lower() if value else None


def build(crm_seed: str, workspace_seed: int) -> Set:
    from salesbridge.sandbox.assembly import build_sandbox
    from salesbridge.sandbox.seeds.demo_workspace import crm_rows_of_sandbox, generate_workspace
    from salesbridge.sandbox.seeds.seeding import parse_seed

    crm = crm_rows_of_sandbox(build_sandbox(seed=parse_seed(crm_seed)).services.state)
    workspace = generate_workspace(crm, seed=workspace_seed)
    accounts = {str(row["accountid"]).lower(): row for row in crm.accounts}
    crm_people = [md.crm_person_row("contact", row, accounts) for row in crm.contacts]
    crm_people += [md.crm_person_row("lead", row, accounts) for row in crm.leads]
    parent = {str(row["contactid"]).lower(): _lookup(row, "parentcustomerid") for row in crm.contacts}
    parent.update({str(row["leadid"]).lower(): _lookup(row, "parentaccountid") for row in crm.leads})
    people = [md.workspace_person_row(row) for row in workspace.people]
    truth = dict(workspace.pairs("company"))
    links = Matcher.people().link(md.records("people", crm_people), md.records("people", people))
    linked: dict[str, list[str]] = defaultdict(list)
    for decision in links.decisions:
        account = parent.get(decision.left_id)
        if decision.band is Band.MATCH and account:
            linked[account].append(decision.right_id)
    companies = workspace.companies
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_name: dict[str, list[str]] = defaultdict(list)
    for company in companies:
        by_key[company_key(company["name"]), fold_word(company["country"] or "")].append(company["id"])
        by_name[company["name"]].append(company["id"])
    name_of = {company["id"]: company["name"] for company in companies}
    records_of: dict[str, list[str]] = defaultdict(list)
    for crm_id, person_id in workspace.pairs("person"):
        records_of[person_id].append(crm_id)
    by_name_mode: dict[str, str | None] = {}
    by_id_mode: dict[str, str | None] = {}
    for person in workspace.people:
        name = person["company_name"]
        held = by_key.get((company_key(name), fold_word(person["country"] or "")), []) if name else []
        by_name_mode[person["id"]] = held[0] if len(held) == 1 else None
        made_from = next(
            (truth[account] for crm_id in records_of[person["id"]] if (account := parent.get(crm_id)) in truth), None
        )
        employer = None
        if made_from and name and company_key(name) == company_key(name_of[made_from]):
            employer = made_from
        elif made_from and name and len(by_name.get(name, [])) == 1:  # a job change to a company of the workspace
            employer = by_name[name][0]
        by_id_mode[person["id"]] = employer
    return Set(
        truth,
        linked,
        {"name": by_name_mode, "id": by_id_mode},
        md.records("companies", [md.crm_company_row(row) for row in crm.accounts]),
        md.records("companies", [md.workspace_company_row(row) for row in companies]),
    )


def level(data: Set, mode: str, account: str, company: str) -> int:
    """0 = two or more linked people employed by ``company``, 1 = one, 2 = contradicted, -1 = missing."""
    employers = [e for person in data.linked.get(account, []) if (e := data.employer[mode].get(person))]
    shared = sum(employer == company for employer in employers)
    return 0 if shared >= 2 else 1 if shared == 1 else 2 if employers else -1


def fit(data: Set, mode: str) -> list[float]:
    rnd = random.Random(7)
    m, u = [0.5] * 3, [0.5] * 3
    for account, company in data.truth.items():
        if (lv := level(data, mode, account, company)) >= 0:
            m[lv] += 1
    accounts, companies = [r.id for r in data.left], [r.id for r in data.right]
    drawn = 0
    while drawn < 200_000:
        account, company = rnd.choice(accounts), rnd.choice(companies)
        if data.truth.get(account) == company:
            continue
        drawn += 1
        if (lv := level(data, mode, account, company)) >= 0:
            u[lv] += 1
    m_total, u_total = len(data.truth) + 1.5, drawn + 1.5
    weights = [min(max(math.log2((m[k] / m_total) / (u[k] / u_total)), LOW), HIGH) for k in range(3)]
    print(f"  {mode}: m {[round(x / m_total, 4) for x in m]} u {[f'{x / u_total:.2e}' for x in u]}", end="")
    print(f" weights {[round(w, 2) for w in weights]}")
    return weights


def evaluate(data: Set, mode: str, weights: list[float]) -> dict[str, tuple[float, float, float]]:
    matcher = Matcher.companies()
    band = matcher.model.match_probability
    opened = matcher.with_model(matcher.model.with_bands(match_probability=band, review_probability=1e-9))
    decisions = opened.link(data.left, data.right).decisions
    threshold = math.log2(band / (1 - band))
    out = {}
    for label, collective in (("before", False), ("after", True)):
        good = bad = 0
        for decision in decisions:
            weight = decision.weight
            if collective and (lv := level(data, mode, decision.left_id, decision.right_id)) >= 0:
                weight += weights[lv]
            if weight >= threshold:
                good += data.truth.get(decision.left_id) == decision.right_id
                bad += data.truth.get(decision.left_id) != decision.right_id
        precision, recall = good / max(good + bad, 1), good / len(data.truth)
        out[label] = (round(precision, 4), round(recall, 4), round(2 * precision * recall / (precision + recall), 4))
    levels = Counter(level(data, mode, d.left_id, d.right_id) for d in decisions)
    print(f"  {mode}: best pairs by level {dict(sorted(levels.items()))}; MATCH (P, R, F1) {out}")
    return out


def main() -> None:
    print(f"training: CRM {TRAINING[0]}, workspace seed {TRAINING[1]}")
    training = build(*TRAINING)
    weights = {mode: fit(training, mode) for mode in MODES}
    for crm_seed, name in SETS:
        print(name)
        data = build(crm_seed, 13)
        for mode in MODES:
            evaluate(data, mode, weights[mode])


if __name__ == "__main__":
    main()
