"""The auto-save rules for one record (account_reason, person_reason, which let lists follow an import's changes)
give every record the reason the whole computation (auto_saved_items) gives it, or none when it leaves it out:
random records, owners, rules and thresholds."""

from __future__ import annotations

import random
from typing import Any

import pytest

from salesbridge.domain.pipeline import (
    AutoSaveChoices,
    PipelineRule,
    RecordFacts,
    account_reason,
    auto_saved_items,
    lookup,
    person_reason,
)

OWNERS = ("u1", "u2", "u3")


def ref(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


def record(table: str, crm_id: str, data: dict[str, Any], parent: str | None) -> RecordFacts:
    owner = data.get("ownerid", {}).get("id")
    return RecordFacts(table, crm_id, owner, parent, data)


def random_records(rng: random.Random) -> list[RecordFacts]:
    def state() -> int:
        return 0 if rng.random() < 0.8 else 1

    records = []
    for n in range(8):
        records.append(
            record("account", f"a{n}", {"statecode": state(), "ownerid": ref("systemuser", rng.choice(OWNERS))}, None)
        )
    for table, parent_column in (("contact", "parentcustomerid"), ("lead", "parentaccountid")):
        for n in range(10):
            parent = f"a{rng.randrange(10)}"
            records.append(
                record(table, f"{table[0]}{n}", {"statecode": state(), parent_column: ref("account", parent)}, parent)
            )
    for n in range(12):
        account = f"a{rng.randrange(10)}"
        data: dict[str, Any] = {
            "statecode": state(),
            "ownerid": ref("systemuser", rng.choice(OWNERS)),
            "salesstage": rng.randrange(4),
        }
        if rng.random() < 0.7:
            data["parentaccountid"] = ref("account", account)
        else:
            data["customerid"] = (
                ref("account", account) if rng.random() < 0.5 else ref("contact", f"c{rng.randrange(12)}")
            )
        if rng.random() < 0.5:
            data["parentcontactid"] = ref("contact", f"c{rng.randrange(12)}")
        if rng.random() < 0.4:
            data["originatingleadid"] = ref("lead", f"l{rng.randrange(12)}")
        parent = lookup(data, "parentaccountid")[0] or lookup(data, "customerid")[0]
        records.append(record("opportunity", f"o{n}", data, parent))
    for n in range(8):
        opportunity = f"o{rng.randrange(14)}"
        data = {
            "statecode": state(),
            "record1id": ref("opportunity", opportunity),
            "record2id": ref("contact", f"c{rng.randrange(12)}"),
        }
        records.append(record("connection", f"n{n}", data, opportunity))
    return records


@pytest.mark.parametrize("seed", range(40))
def test_one_records_reason_is_the_whole_computations(seed: int) -> None:
    rng = random.Random(seed)
    records = random_records(rng)
    owner = rng.choice(OWNERS)
    choices = AutoSaveChoices(*(rng.random() < 0.6 for _ in range(4)))
    rule = PipelineRule("salesstage", rng.choice((None, "1", "2")))
    selection = auto_saved_items(owner, choices, rule, records)
    expected = {(item.table, item.crm_id): item.reason for item in selection.accounts | selection.leads_and_contacts}
    by_key = {(r.table, r.crm_id): r for r in records}
    opportunities = [r for r in records if r.table == "opportunity"]
    connections = [r for r in records if r.table == "connection"]

    found = {}
    for n in range(10):
        crm_id = f"a{n}"
        naming = [o for o in opportunities if o.parent_id == crm_id]
        found[("account", crm_id)] = account_reason(by_key.get(("account", crm_id)), owner, choices, rule, naming)
    for table in ("contact", "lead"):
        for n in range(12):
            crm_id = f"{table[0]}{n}"
            person = by_key.get((table, crm_id))
            linked = [
                (c, by_key.get(("opportunity", c.parent_id or "")))
                for c in connections
                if lookup(c.data, "record2id")[0] == crm_id
            ]
            found[(table, crm_id)] = person_reason(
                person,
                owner,
                choices,
                rule,
                naming=opportunities,
                connections=linked,
                parent=by_key.get(("account", person.parent_id or "")) if person else None,
            )

    assert {key: reason for key, reason in found.items() if reason is not None} == expected
