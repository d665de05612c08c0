"""Matching CRM records with the workspace's people and companies (issue 13, section 2): the runs, the corrections,
the review queue, the badges and the reports. The engine is :mod:`salesbridge.matching`; what is kept is
:mod:`salesbridge.domain.match_links` through ``uow.matches``.

Contract of a run (:func:`run_matching`):

- Accounts ↔ companies first, then contacts and leads ↔ people: a contact's account, once tied to a company, is
  the contact's ``company_ref`` (a person's is its ``company_id``), so the company agrees for sure.
- "Shared people": an account carries the employers (a person's ``company_id``, else the company its
  ``company_external_id`` names) of the people its contacts and leads are tied to (``CompanyRecord.people_refs``).
  After the people pass, the accounts whose contacts' ties changed are decided again with them (their fingerprint
  holds the refs), then the contacts and leads of the accounts whose tie that changed: one round per run. A
  workspace whose people carry no employer id gives every account empty refs: nothing changes. A contact tied with
  the help of its account's tie counts too: the evidence keeps a tie, it cannot make one on its own (the account's
  first tie needs its own fields and the people tied before it).
- Incremental by default. Each record's blocking keys and a fingerprint of its matched values are kept
  (``match_keys``; an unchanged fingerprint costs no featurisation, so a new engine's keys come with a full
  run); a run reads the CRM records imported and the people/companies changed since its watermarks and
  re-decides only those whose fingerprint changed, with the CRM records that were tied to, or share a key with, a
  changed person/company, and (people) the contacts and leads whose account's tie changed. Candidates come from the
  stored keys (the engine's block cap applies), each pair is scored with :meth:`Matcher.score` (no term
  frequencies; the prior of the right side's size at the last full run, which the stored model's
  ``reference_size`` holds, so a pair is decided as that run decided it). A full run (``full=True``, or the
  first) links everything with :meth:`Matcher.link` (term frequencies, the prior of the whole right side),
  re-estimates the weights from the data when both sides hold at least :data:`MIN_ESTIMATION_RECORDS` records
  (else the stored or default model) and stores the model.
- A CRM record deleted from the CRM loses its link, its rejections and keys (corrections included); a person or
  company no longer in the workspace likewise.
- Corrections (link, unlink, confirm; :func:`correct_match`) and accepted reviews win over the scorer: their CRM
  record is not re-decided, only their explanation and "Out of date" are refreshed. A pair rejected in review is
  never proposed again (the next best candidate may be).
- A CRM record ties to at most one person or company (one link per record, ``one_to_one="left"``); a person or
  company may hold several (a contact and a lead, or CRM duplicates, flagged ``duplicate``).
- One transaction, holding the organization's matching state locked: two runs of one organization never
  interleave (the job engine's per-organization lock keeps them apart too).

Use cases see the store through :mod:`salesbridge.services.ports` only.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from salesbridge.domain.jobs import MATCH_ORGANIZATION, match_queueing_lock, organization_lock
from salesbridge.domain.match_links import (
    COMPANY_TABLES,
    PEOPLE_TABLES,
    STALE_COMPANY,
    STALE_TITLE,
    TARGET_KINDS,
    KeySide,
    LinkBand,
    LinkOrigin,
    MatchLink,
    MatchRejection,
    MatchState,
    TargetKind,
)
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import ImportedRecord
from salesbridge.errors import (
    AdministratorRequiredError,
    InvalidRequestError,
    MatchChangedError,
    MatchNotFoundError,
    SeatRequiredError,
    UnsupportedJobError,
)
from salesbridge.matching import Band, CompanyRecord, Decision, FieldReason, MatchModel, PersonRecord, kept_for_run
from salesbridge.message_ids import N_
from salesbridge.services.account_rules import Principal
from salesbridge.services.ports import Clock, StoreAccess, UnitOfWork
from salesbridge.services.reports import record_match_rates
from salesbridge.services.writeback_outbox import requeue_after_matching

# The engine (numpy, rapidfuzz, jellyfish, …) is imported by the functions that score (_companies_matcher,
# _people_matcher): every CLI command and worker imports this module, most never match
# (tests/unit/cli/test_start.py).
if TYPE_CHECKING:
    from salesbridge.matching import Matcher

__all__ = [
    "UNMATCHED_COLUMNS",
    "Badges",
    "ComparedField",
    "CorrectionAction",
    "CrmRecordView",
    "Evaluation",
    "KindSummary",
    "MatchLinkView",
    "MatchReport",
    "MatchRunSummary",
    "ReviewItem",
    "TableReport",
    "badges_of_companies",
    "badges_of_people",
    "correct_match",
    "count_review",
    "decide_review",
    "evaluate",
    "forget_target",
    "link_of_crm_record",
    "links_of_company",
    "links_of_person",
    "match_report",
    "matched_targets",
    "request_matching",
    "review_queue",
    "run_matching",
    "run_requested_matching",
    "unmatched_rows",
]

MIN_ESTIMATION_RECORDS: Final = 50
"""Records each side needs before a full run estimates the weights from the data (the engine's guard rails then
keep the default m-probabilities when too few pairs block together)."""
WATERMARK_OVERLAP: Final = timedelta(minutes=5)
"""How far before the newest record seen the next run starts reading: a record written by a transaction that
committed after this run read can carry an older stamp. Records re-read unchanged cost a fingerprint only."""
MAX_KEY_LENGTH: Final = 500
FINGERPRINT_PREFIX: Final = "#"
IMPORT_REASON: Final = "import"
"""Why a run was requested: an import changed accounts, contacts or leads (loads give their audit action's name)."""
CORRECTED_REASON: Final = "match corrected"
REVIEW_REJECTED_REASON: Final = "review rejected"

_UNKNOWN_TABLE = N_("Matching knows CRM accounts, contacts and leads only, not {table}.")
_UNKNOWN_ACTION = N_("An edit of a match links, unlinks or confirms, not {action}.")
_TARGET_REQUIRED = N_("Choose the person or company to link this CRM record to.")
_NOTHING_TO_CONFIRM = N_("This CRM record is not linked to anyone: there is nothing to confirm.")
_CHANGED_BY = N_("This match was changed by {name} meanwhile: check it again.")
_CHANGED_BY_RUN = N_("This match was changed by a matching run meanwhile: check it again.")


class Unchecked(enum.Enum):
    """``correct_match``'s ``expected_target_id`` when the caller does not say what it saw."""

    UNCHECKED = "unchecked"


UNCHECKED: Final = Unchecked.UNCHECKED

R = TypeVar("R", PersonRecord, CompanyRecord)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------------- values


class CorrectionAction(enum.StrEnum):
    """An "Edit match": tie to another target, tie to none, or confirm the current tie."""

    LINK = "link"
    UNLINK = "unlink"
    CONFIRM = "confirm"


@dataclass(frozen=True, kw_only=True)
class CrmRecordView:
    """A CRM record's key fields, as shown beside a person or company; ``url`` opens it in Dynamics."""

    table: str
    crm_id: str
    name: str | None
    email: str | None
    job_title: str | None
    company_name: str | None
    phone: str | None
    city: str | None
    country: str | None
    website: str | None
    owner_name: str | None
    url: str | None


@dataclass(frozen=True, kw_only=True)
class ComparedField:
    """One field of a decision, side by side (CRM on the left): ``differs`` highlights it."""

    field: str
    level: str
    detail: str | None
    weight: float
    left: str | None
    right: str | None
    differs: bool


@dataclass(frozen=True, kw_only=True)
class MatchLinkView:
    """A link as the console shows it: the CRM record, why, who decided, and whether it is out of date."""

    table: str
    crm_id: str
    record: CrmRecordView | None
    target_kind: TargetKind
    target_id: uuid.UUID | None
    band: LinkBand
    origin: LinkOrigin
    probability: float | None
    reasons: tuple[ComparedField, ...]
    decided_by: str | None
    decided_at: datetime
    stale_fields: tuple[str, ...]
    duplicate: bool

    @property
    def is_tie(self) -> bool:
        """Tied (band match with a target)."""
        return self.band is LinkBand.MATCH and self.target_id is not None


@dataclass(frozen=True, kw_only=True)
class Badges:
    """A person's or company's badges: In CRM (else Not in CRM), Out of date, View in CRM links, in review."""

    in_crm: bool
    out_of_date: bool
    crm_urls: tuple[str, ...]
    in_review: bool


@dataclass(frozen=True, kw_only=True)
class ReviewItem:
    """A candidate pair waiting for an administrator, side by side."""

    table: str
    crm_id: str
    record: CrmRecordView
    target_kind: TargetKind
    target: Person | Company
    probability: float | None
    fields: tuple[ComparedField, ...]


@dataclass(frozen=True, kw_only=True)
class TableReport:
    """One CRM table's records by where matching left them, with shares (0..1; 0 when the table is empty)."""

    table: str
    total: int
    matched: int
    review: int
    unmatched: int
    matched_share: float
    review_share: float
    unmatched_share: float


@dataclass(frozen=True, kw_only=True)
class MatchReport:
    """The match report: accounts, contacts and leads, and the last run."""

    tables: tuple[TableReport, ...]
    last_run_at: datetime | None
    last_summary: Mapping[str, Any] | None


@dataclass(frozen=True, kw_only=True)
class KindSummary:
    """What a run did for companies or people (see :class:`MatchRunSummary`)."""

    kind: str
    crm_changed: int = 0
    workspace_changed: int = 0
    compared_pairs: int = 0
    matched: int = 0
    review: int = 0
    no_match: int = 0
    unlinked: int = 0
    corrections_kept: int = 0
    model_estimated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class MatchRunSummary:
    """What a run did: ``crm_changed`` CRM records (re)decided, ``compared_pairs`` candidate pairs scored, what they
    ended as, links removed, corrections left alone, and whether the weights were estimated."""

    full: bool
    companies: KindSummary
    people: KindSummary

    @property
    def compared_pairs(self) -> int:
        """Candidate pairs scored in all."""
        return self.companies.compared_pairs + self.people.compared_pairs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "full": self.full,
            "compared_pairs": self.compared_pairs,
            "companies": self.companies.to_dict(),
            "people": self.people.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The scorer against the organization's labelled pairs (corrections, accepted reviews and rejections).

    A CRM record the scorer ties automatically (band match) to the labelled target is a true positive, to another
    target (or against a "no match" or a rejection) a false positive; a labelled tie the scorer does not make is a
    false negative. ``precision`` is 1.0 when the scorer tied nothing, ``recall`` 1.0 when nothing is labelled tied;
    all three are None when nothing is labelled at all (nothing to measure the scorer against: not a perfect score).
    """

    labelled: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None
    recall: float | None
    f1: float | None


# ----------------------------------------------------------------------------------- CRM records as records


def _text(data: Mapping[str, Any], column: str | None) -> str | None:
    if not column:
        return None
    value = data.get(column)
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _texts(data: Mapping[str, Any], *columns: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text for column in columns if (text := _text(data, column)) is not None))


def _lookup(data: Mapping[str, Any], column: str, table: str | None = None) -> str | None:
    value = data.get(column)
    if isinstance(value, dict) and value.get("id") and (table is None or value.get("table") in (None, table)):
        return str(value["id"]).lower()
    return None


def _account_of(table: str, record: ImportedRecord) -> str | None:
    """The id of the account a contact or lead belongs to (a contact's parent may be another contact)."""
    column = "parentcustomerid" if table == "contact" else "parentaccountid"
    return _lookup(record.data, column, "account")


def _email_domain(email: str | None) -> tuple[str, ...]:
    if email and "@" in email:
        return (email.rsplit("@", 1)[1].strip().lower(),)
    return ()


def _company_record(
    record: ImportedRecord, profile_column: str | None, people_refs: tuple[str, ...] = ()
) -> CompanyRecord:
    data = record.data
    employees = data.get("numberofemployees")
    return CompanyRecord(
        id=record.crm_id,
        name=_text(data, "name") or record.name,
        website=_text(data, "websiteurl"),
        phone=_text(data, "telephone1"),
        industry=None,  # an option set's number, not a name: comparing it with the workspace's text says nothing
        employee_count=employees if isinstance(employees, int) and not isinstance(employees, bool) else None,
        street=_text(data, "address1_line1"),
        city=_text(data, "address1_city"),
        postcode=_text(data, "address1_postalcode"),
        region=_text(data, "address1_stateorprovince"),
        country=_text(data, "address1_country"),
        profile_url=_text(data, profile_column),
        email_domains=_email_domain(_text(data, "emailaddress1")),
        people_refs=people_refs,
    )


def _people_refs(uow: UnitOfWork, account_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Per account (lower-case CRM id), the employers of the people its contacts and leads are tied to: one entry
    per person whose employer the workspace knows (``company_id``, else the organization's company with its
    ``company_external_id``), as company ids, by person id. Accounts without any are absent."""
    accounts = {account.lower() for account in account_ids}
    if not accounts:
        return {}
    person_of: dict[str, dict[uuid.UUID, None]] = {}
    for table in PEOPLE_TABLES:
        children = uow.matches.crm_records_by_parents(table, accounts)
        parent = {record.crm_id: _account_of(table, record) for record in children}
        for crm_id, link in uow.matches.links(table, list(parent)).items():
            account = parent.get(crm_id)
            if account and link.is_tie and link.target_id is not None:
                person_of.setdefault(account, {})[link.target_id] = None
    people = {
        person.id: person for person in uow.matches.people_by_ids({p for held in person_of.values() for p in held})
    }
    named = {person.company_external_id for person in people.values() if person.company_external_id}
    by_external_id = uow.companies.ids_by_external_ids(named) if named else {}
    refs: dict[str, tuple[str, ...]] = {}
    for account, held in person_of.items():
        employers = []
        for person_id in sorted(held, key=str):
            person = people.get(person_id)
            if person is None:
                continue
            employer = person.company_id or by_external_id.get(person.company_external_id or "")
            if employer is not None:
                employers.append(str(employer))
        if employers:
            refs[account] = tuple(employers)
    return refs


def _account_lefts(
    uow: UnitOfWork, profile_column: str | None, records: Iterable[ImportedRecord]
) -> list[_Left[CompanyRecord]]:
    """Accounts as the engine's records, with their shared people (:func:`_people_refs`)."""
    records = list(records)
    refs = _people_refs(uow, (record.crm_id for record in records))
    return [
        _Left("account", record, _company_record(record, profile_column, refs.get(record.crm_id.lower(), ())))
        for record in records
    ]


def _person_record(
    table: str,
    record: ImportedRecord,
    account: ImportedRecord | None,
    account_target: uuid.UUID | None,
    profile_column: str | None,
) -> PersonRecord:
    data = record.data
    company_name = _text(data, "companyname") if table == "lead" else None
    website = _text(data, "websiteurl") if table == "lead" else None
    if account is not None:
        company_name = company_name or _text(account.data, "name") or account.name
        website = website or _text(account.data, "websiteurl")
    return PersonRecord(
        id=record.crm_id,
        first_name=_text(data, "firstname"),
        last_name=_text(data, "lastname"),
        full_name=_text(data, "fullname") or record.name,
        emails=_texts(data, "emailaddress1", "emailaddress2"),
        phones=_texts(data, "telephone1", "mobilephone"),
        job_title=_text(data, "jobtitle"),
        company_name=company_name,
        company_website=website,
        company_ref=str(account_target) if account_target is not None else None,
        profile_url=_text(data, profile_column),
        street=_text(data, "address1_line1"),
        city=_text(data, "address1_city"),
        postcode=_text(data, "address1_postalcode"),
        region=_text(data, "address1_stateorprovince"),
        country=_text(data, "address1_country"),
    )


def _workspace_person(person: Person) -> PersonRecord:
    return PersonRecord(
        id=str(person.id),
        first_name=person.first_name,
        last_name=person.last_name,
        full_name=person.full_name,
        emails=person.emails,
        phones=person.phones,
        job_title=person.headline,
        company_name=person.company_name,
        company_ref=str(person.company_id) if person.company_id is not None else None,
        past_companies=person.past_companies,
        profile_url=person.profile_url,
        city=person.city,
        region=person.region,
        country=person.country,
    )


def _workspace_company(company: Company) -> CompanyRecord:
    return CompanyRecord(
        id=str(company.id),
        name=company.name,
        website=company.website,
        phone=company.phone,
        industry=company.industry,
        employee_count=company.employee_count,
        city=company.city,
        region=company.region,
        country=company.country,
        profile_url=company.profile_url,
    )


def _profile_columns(uow: UnitOfWork) -> dict[str, str | None]:
    """The admin-mapped profile-URL column of each matched table (CRM Settings), if any."""
    mapped = uow.crm_settings.get().profile_url_columns
    return {table: mapped.get(table) for table in TARGET_KINDS}


_FIELDS_NEWER_THAN_FINGERPRINTS: Final[Mapping[type, tuple[str, ...]]] = {CompanyRecord: ("people_refs",)}
"""Fields the engine's records gained while stores already kept fingerprints of them: ``CompanyRecord.people_refs``
came with migration 0033 ("shared people"). A fingerprint stored before is the record's repr without them."""


def _fingerprint(record: PersonRecord | CompanyRecord) -> str:
    return FINGERPRINT_PREFIX + hashlib.sha256(repr(record).encode()).hexdigest()[:32]


def _earlier_fingerprint(record: PersonRecord | CompanyRecord) -> str | None:
    """The fingerprint a release before :data:`_FIELDS_NEWER_THAN_FINGERPRINTS`' fields stored for ``record`` (its
    dataclass repr without them). None when its type gained no field, or when one of them holds a value: the record
    then carries evidence that release never weighed, so it is decided again."""
    newer = _FIELDS_NEWER_THAN_FINGERPRINTS.get(type(record), ())
    if not newer:
        return None
    shown: list[str] = []
    for spec in fields(record):
        value = getattr(record, spec.name)
        if spec.name in newer:
            if value != spec.default:
                return None
        elif spec.repr:
            shown.append(f"{spec.name}={value!r}")
    text = f"{type(record).__qualname__}({', '.join(shown)})"
    return FINGERPRINT_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


def _unchanged(stored: str | None, record: PersonRecord | CompanyRecord) -> bool:
    """Whether ``record`` holds the values its ``stored`` fingerprint was made from, by this release or by one
    before a field was added that the record leaves empty. Without the second, every account and company re-read
    after an upgrade past migration 0033 looked changed once: a full re-read by the import (a resync or the periodic
    full scan) made the next run re-decide them all. Those fingerprints are not rewritten: a record that stays
    unchanged costs a second hash when re-read, one that changes is stored anew."""
    if stored is None:
        return False
    return stored == _fingerprint(record) or stored == _earlier_fingerprint(record)


def _stored_keys(matcher: Matcher[R], record: R) -> set[str]:
    keys = {key for key in matcher.keys(record) if len(key) <= MAX_KEY_LENGTH}
    keys.add(_fingerprint(record))
    return keys


def _blocking(keys: Iterable[str]) -> list[str]:
    return [key for key in keys if not key.startswith(FINGERPRINT_PREFIX)]


def _stale_fields(kind: TargetKind, decision: Decision | None) -> tuple[str, ...]:
    """What the CRM and the workspace disagree on in a tied pair (a job change): the current company, the title."""
    if kind is not TargetKind.PERSON or decision is None:
        return ()
    stale: list[str] = []
    for reason in decision.reasons:
        if reason.field == "company" and (reason.level == "different" or reason.detail == "past_company"):
            stale.append(STALE_COMPANY)
        elif reason.field == "title" and reason.level == "different":
            stale.append(STALE_TITLE)
    return tuple(dict.fromkeys(stale))


# ---------------------------------------------------------------------------------------------------- runs


@dataclass
class _Counter:
    crm_changed: int = 0
    workspace_changed: int = 0
    compared_pairs: int = 0
    matched: int = 0
    review: int = 0
    no_match: int = 0
    unlinked: int = 0
    corrections_kept: int = 0
    model_estimated: bool = False
    # A CRM record decided twice in one run (shared people's second pass) counts once, as it ended.
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)

    def summary(self, kind: str) -> KindSummary:
        ended = list(self.outcomes.values())
        counts = {name: ended.count(name) for name in ("matched", "review", "no_match", "corrections_kept")}
        fields = {name: value for name, value in vars(self).items() if name != "outcomes"}
        return KindSummary(kind=kind, **(fields | counts | {"crm_changed": len(self.outcomes)}))


@dataclass
class _Left(Generic[R]):
    table: str
    record: ImportedRecord
    value: R


@dataclass
class _KindRun(Generic[R]):
    """One kind's part of a run (companies, then people)."""

    uow: UnitOfWork
    name: str
    tables: tuple[str, ...]
    target_kind: TargetKind
    target_side: KeySide
    matcher: Matcher[R]
    full: bool
    now: datetime
    to_record: Callable[[Any], R]
    load_targets: Callable[[Iterable[uuid.UUID]], list[Any]]
    counter: _Counter = field(default_factory=_Counter)
    changed_ties: set[str] = field(default_factory=set)  # CRM ids whose tie (target) changed in this run
    _target_values: dict[str, R] = field(default_factory=dict)  # candidate targets loaded, by ref

    # ----------------------------------------------------------------------------------------- the steps

    def forget_vanished(self) -> None:
        matches = self.uow.matches
        for table in self.tables:
            gone = matches.vanished_crm_ids(table)
            if gone:
                self.changed_ties.update(gone)
                self.counter.unlinked += matches.forget_crm_records(table, gone)
        targets = matches.vanished_targets(self.target_kind)
        if targets:
            self.changed_ties.update(link.crm_id for link in matches.links_to(targets))
            self.counter.unlinked += matches.forget_targets(self.target_kind, targets)

    def changed_targets(self, values: Iterable[Any]) -> dict[str, R]:
        """The targets among ``values`` whose fingerprint changed; their keys are stored anew."""
        records = {str(value.id): self.to_record(value) for value in values}
        stored = (
            {} if self.full else self.uow.matches.fingerprints(self.target_side, records, prefix=FINGERPRINT_PREFIX)
        )
        changed: dict[str, R] = {}
        keys: dict[str, set[str]] = {}
        for ref, record in records.items():
            if self.full or not _unchanged(stored.get(ref), record):
                changed[ref] = record
                keys[ref] = _stored_keys(self.matcher, record)
        self.uow.matches.replace_keys(self.target_side, keys)
        self.counter.workspace_changed += len(changed)
        return changed

    def changed_lefts(self, lefts: Iterable[_Left[R]]) -> list[_Left[R]]:
        """The CRM records among ``lefts`` whose fingerprint changed; their keys are stored anew."""
        by_table: dict[str, dict[str, _Left[R]]] = {}
        for left in lefts:
            by_table.setdefault(left.table, {})[left.record.crm_id] = left
        changed: list[_Left[R]] = []
        for table, found in by_table.items():
            side = KeySide(table)
            stored = {} if self.full else self.uow.matches.fingerprints(side, found, prefix=FINGERPRINT_PREFIX)
            keys: dict[str, set[str]] = {}
            for crm_id, left in found.items():
                if self.full or not _unchanged(stored.get(crm_id), left.value):
                    changed.append(left)
                    keys[crm_id] = _stored_keys(self.matcher, left.value)
            self.uow.matches.replace_keys(side, keys)
        return changed

    def crm_refs_near(self, targets: Mapping[str, R]) -> dict[str, set[str]]:
        """CRM ids (by table) tied to, or sharing a blocking key with, these targets: they are decided again."""
        near: dict[str, set[str]] = {}
        ids = [uuid.UUID(ref) for ref in targets]
        for link in self.uow.matches.links_to(ids):
            near.setdefault(link.crm_table, set()).add(link.crm_id)
        keys = {key for record in targets.values() for key in _blocking(self.matcher.keys(record))}
        sides = [KeySide(table) for table in self.tables]
        for held in self.uow.matches.refs_by_key(sides, keys).values():
            if len(held) <= self.matcher.block_cap:
                for side, ref in held:
                    near.setdefault(side.value, set()).add(ref)
        return near

    def decide(self, lefts: Sequence[_Left[R]], all_targets: Mapping[str, R] | None) -> None:
        """Decide ``lefts`` again (see the module's contract) and store what they end as."""
        matches = self.uow.matches
        outcomes = self.counter.outcomes
        links: dict[tuple[str, str], MatchLink] = {}
        rejected: dict[tuple[str, str], set[str]] = {}
        for table in self.tables:
            ids = [left.record.crm_id for left in lefts if left.table == table]
            links.update(((table, crm_id), link) for crm_id, link in matches.links(table, ids).items())
            rejected.update(
                ((table, crm_id), {str(target) for target in targets})
                for crm_id, targets in matches.rejections(table, ids).items()
            )
        corrected = [left for left in lefts if self._is_correction(links.get((left.table, left.record.crm_id)))]
        scored = [left for left in lefts if not self._is_correction(links.get((left.table, left.record.crm_id)))]
        outcomes.update(((left.table, left.record.crm_id), "corrections_kept") for left in corrected)
        decisions = self._decisions(scored, all_targets, rejected)
        written: list[MatchLink] = []
        gone: dict[str, list[str]] = {}
        for left in scored:
            key = (left.table, left.record.crm_id)
            before = links.get(key)
            decision = decisions.get(key)
            if decision is None:
                outcomes[key] = "no_match"
                if before is not None:
                    gone.setdefault(left.table, []).append(left.record.crm_id)
                    if before.is_tie:
                        self.counter.unlinked += 1
                        self.changed_ties.add(left.record.crm_id)
                continue
            band = LinkBand.MATCH if decision.band is Band.MATCH else LinkBand.REVIEW
            outcomes[key] = "matched" if band is LinkBand.MATCH else "review"
            target = uuid.UUID(decision.right_id)
            was_tie = before is not None and before.is_tie
            same_tie = was_tie and before is not None and before.target_id == target and band is LinkBand.MATCH
            if not same_tie and (was_tie or band is LinkBand.MATCH):
                self.changed_ties.add(left.record.crm_id)
            written.append(self._link(left, target, band, decision, LinkOrigin.SCORER, None, self.now))
        written.extend(self._refreshed(corrected, links))
        for table, ids in gone.items():
            matches.delete(table, ids)
        matches.put(written)

    # ------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _is_correction(link: MatchLink | None) -> bool:
        return link is not None and link.origin is LinkOrigin.CORRECTION

    def _link(
        self,
        left: _Left[R],
        target: uuid.UUID | None,
        band: LinkBand,
        decision: Decision | None,
        origin: LinkOrigin,
        decided_by: uuid.UUID | None,
        decided_at: datetime,
    ) -> MatchLink:
        return MatchLink(
            crm_table=left.table,
            crm_id=left.record.crm_id,
            target_kind=self.target_kind,
            target_id=target,
            band=band,
            probability=decision.probability if decision is not None else None,
            decision=decision.to_dict() if decision is not None else None,
            origin=origin,
            decided_by=decided_by,
            decided_at=decided_at,
            stale_fields=_stale_fields(self.target_kind, decision) if band is LinkBand.MATCH else (),
        )

    def _refreshed(self, corrected: Sequence[_Left[R]], links: Mapping[tuple[str, str], MatchLink]) -> list[MatchLink]:
        """Corrections keep their decision; their explanation and "Out of date" follow the records' values."""
        targets = {
            link.target_id
            for left in corrected
            if (link := links[(left.table, left.record.crm_id)]).target_id is not None
        }
        values = {str(value.id): self.to_record(value) for value in self.load_targets(targets)}
        refreshed: list[MatchLink] = []
        for left in corrected:
            link = links[(left.table, left.record.crm_id)]
            right = values.get(str(link.target_id))
            if right is None:
                continue
            decision = self.matcher.score(left.value, right)
            refreshed.append(
                replace(
                    link,
                    probability=decision.probability,
                    decision=decision.to_dict(),
                    stale_fields=_stale_fields(self.target_kind, decision) if link.band is LinkBand.MATCH else (),
                )
            )
        return refreshed

    def _decisions(
        self,
        lefts: Sequence[_Left[R]],
        all_targets: Mapping[str, R] | None,
        rejected: Mapping[tuple[str, str], set[str]],
    ) -> dict[tuple[str, str], Decision]:
        """Each left's best decision (match or review) among its candidates, rejected pairs left out."""
        if not lefts:
            return {}
        tables = {left.record.crm_id: left.table for left in lefts}
        found: dict[tuple[str, str], Decision] = {}
        retry: list[_Left[R]] = []
        if all_targets is not None:
            # A full run: the engine links against the whole right side (term frequencies, its size's prior).
            result = self.matcher.link([left.value for left in lefts], list(all_targets.values()))
            self.counter.compared_pairs += result.compared_pairs
            by_id = {(left.table, left.record.crm_id): left for left in lefts}
            for decision in result.decisions:
                key = (tables[decision.left_id], decision.left_id)
                if decision.right_id in rejected.get(key, set()):
                    retry.append(by_id[key])
                else:
                    found[key] = decision
            if not retry:
                return found
            lefts = retry
        candidates = self._candidates(lefts, all_targets)
        if all_targets is None:
            lefts = self._linked_among_candidates(lefts, candidates, tables, rejected, found)
        for left in lefts:
            key = (left.table, left.record.crm_id)
            best: Decision | None = None
            for ref in sorted(candidates.get(key, set()) - rejected.get(key, set())):
                right = self._target_values.get(ref)
                if right is None:
                    continue
                self.counter.compared_pairs += 1
                decision = self.matcher.score(left.value, right)
                if decision.band is Band.NO_MATCH:
                    continue
                if best is None or decision.probability > best.probability:
                    best = decision
            if best is not None:
                found[key] = best
        return found

    def _linked_among_candidates(
        self,
        lefts: Sequence[_Left[R]],
        candidates: Mapping[tuple[str, str], set[str]],
        tables: Mapping[str, str],
        rejected: Mapping[tuple[str, str], set[str]],
        found: dict[tuple[str, str], Decision],
    ) -> list[_Left[R]]:
        """An incremental run's lefts linked by the engine against their candidates at once (each record featurised
        once), each best pair scored again with the run's prior (:meth:`Matcher.score`: the candidates alone would
        make a larger prior). Fills ``found``; returns the lefts to decide pair by pair: those whose best pair was
        rejected, and, when the candidates outnumber the prior's reference (then the engine's prior is the
        smaller, and it may have dropped a pair the run's prior keeps), those it found nothing for."""
        refs = sorted({ref for held in candidates.values() for ref in held if ref in self._target_values})
        if not refs:
            return []
        result = self.matcher.link([left.value for left in lefts], [self._target_values[ref] for ref in refs])
        self.counter.compared_pairs += result.compared_pairs
        by_key = {(left.table, left.record.crm_id): left for left in lefts}
        again: list[_Left[R]] = []
        decided: set[tuple[str, str]] = set()
        for decision in result.decisions:
            key = (tables[decision.left_id], decision.left_id)
            decided.add(key)
            if decision.right_id in rejected.get(key, set()):
                again.append(by_key[key])
                continue
            scored = self.matcher.score(by_key[key].value, self._target_values[decision.right_id])
            if scored.band is not Band.NO_MATCH:
                found[key] = scored
        if len(refs) > self.matcher.model.reference_size:
            again.extend(left for key, left in by_key.items() if key not in decided)
        return again

    def _candidates(
        self, lefts: Sequence[_Left[R]], all_targets: Mapping[str, R] | None
    ) -> dict[tuple[str, str], set[str]]:
        """Each left's candidate targets: those sharing a blocking key (not one held by more than the engine's block
        cap), from the stored keys; their values are loaded into ``_target_values``."""
        left_keys = {(left.table, left.record.crm_id): _blocking(self.matcher.keys(left.value)) for left in lefts}
        wanted = {key for keys in left_keys.values() for key in keys}
        if all_targets is not None:
            holders: dict[str, set[str]] = {}
            for ref, record in all_targets.items():
                for key in self.matcher.keys(record):
                    if key in wanted:
                        holders.setdefault(key, set()).add(ref)
        else:
            holders = {
                key: {ref for _, ref in held}
                for key, held in self.uow.matches.refs_by_key([self.target_side], wanted).items()
            }
        candidates: dict[tuple[str, str], set[str]] = {}
        for left_key, keys in left_keys.items():
            refs: set[str] = set()
            for key in keys:
                held = holders.get(key, set())
                if len(held) <= self.matcher.block_cap:
                    refs |= held
            candidates[left_key] = refs
        needed = {ref for refs in candidates.values() for ref in refs} - set(self._target_values)
        if all_targets is not None:
            self._target_values.update({ref: all_targets[ref] for ref in needed if ref in all_targets})
        else:
            for value in self.load_targets(uuid.UUID(ref) for ref in needed):
                self._target_values[str(value.id)] = self.to_record(value)
        return candidates


def _sized(matcher: Matcher[R], size: int) -> Matcher[R]:
    """``matcher`` whose model scores single pairs with the prior of a right side of ``size`` records: the
    incremental runs after a full run then decide a pair as that run's :meth:`Matcher.link` did (same prior)."""
    return matcher.with_model(replace(matcher.model, reference_size=max(size, 1)))


def _model(stored: Mapping[str, Any] | None) -> MatchModel | None:
    return MatchModel.from_dict(dict(stored)) if stored else None


def _companies_matcher(stored: Mapping[str, Any] | None) -> Matcher[CompanyRecord]:
    """The companies' scorer with the ``stored`` model (the default one when none is kept yet)."""
    from salesbridge.matching import Matcher

    return Matcher.companies(model=_model(stored))


def _people_matcher(stored: Mapping[str, Any] | None) -> Matcher[PersonRecord]:
    """The people's scorer with the ``stored`` model (the default one when none is kept yet)."""
    from salesbridge.matching import Matcher

    return Matcher.people(model=_model(stored))


def _watermark(previous: datetime | None, seen: Iterable[datetime | None]) -> datetime | None:
    newest = max((moment for moment in seen if moment is not None), default=None)
    if newest is None:
        return previous
    moved = newest - WATERMARK_OVERLAP
    return moved if previous is None or moved > previous else previous


def run_matching(
    store: StoreAccess, organization_id: uuid.UUID, *, full: bool = False, clock: Clock
) -> MatchRunSummary:
    """Match the organization's CRM records with its people and companies (see the module's contract) in one
    transaction, and clear any pending request. ``full`` re-decides everything and re-estimates the weights; the
    first run is always full. The engine's caches of values are emptied when the run ends, returned or raised
    (:func:`salesbridge.matching.kept_for_run`: a long-running console keeps none of them between runs)."""
    with kept_for_run(), store(organization_id) as uow:
        state = uow.matches.lock_state()
        full = full or state.last_run_at is None
        now = clock()
        profiles = _profile_columns(uow)
        companies_matcher = _companies_matcher(state.companies_model)
        people_matcher = _people_matcher(state.people_model)
        if full:
            for table in (*COMPANY_TABLES, *PEOPLE_TABLES):
                uow.matches.delete_scorer_links([table])
            uow.matches.clear_keys(list(KeySide))

        # ---- accounts ↔ companies
        seen_crm: list[datetime] = []
        companies = _KindRun[CompanyRecord](
            uow=uow,
            name="companies",
            tables=COMPANY_TABLES,
            target_kind=TargetKind.COMPANY,
            target_side=KeySide.COMPANY,
            matcher=companies_matcher,
            full=full,
            now=now,
            to_record=_workspace_company,
            load_targets=uow.matches.companies_by_ids,
        )
        companies.forget_vanished()
        company_values = list(uow.matches.companies(since=None if full else state.companies_watermark))
        since_crm = None if full else state.crm_watermark
        accounts = list(uow.matches.crm_records("account", since=since_crm))
        seen_crm.extend(record.imported_at for record in accounts)
        # Built once: estimating and deciding read the same accounts with the same shared people (no tie changes
        # in between), and their contacts, leads, links and people cost queries per account.
        accounts_read = _account_lefts(uow, profiles["account"], accounts)
        all_companies: dict[str, CompanyRecord] | None = None
        if full:
            all_companies = {str(value.id): _workspace_company(value) for value in company_values}
            if len(accounts_read) >= MIN_ESTIMATION_RECORDS and len(all_companies) >= MIN_ESTIMATION_RECORDS:
                companies.matcher = companies_matcher = companies_matcher.with_model(
                    companies_matcher.estimate([left.value for left in accounts_read], list(all_companies.values()))
                )
                companies.counter.model_estimated = True
        changed_companies = companies.changed_targets(company_values)
        account_lefts = companies.changed_lefts(accounts_read)
        if not full:
            near = companies.crm_refs_near(changed_companies).get("account", set())
            near -= {left.record.crm_id for left in account_lefts}
            account_lefts.extend(
                _account_lefts(uow, profiles["account"], uow.matches.crm_records_by_ids("account", near))
            )
        companies.decide(account_lefts, all_companies)
        decided_accounts = {left.record.crm_id.lower(): left.value for left in account_lefts}
        if all_companies is not None:
            companies_matcher = _sized(companies_matcher, len(all_companies))

        # ---- contacts and leads ↔ people
        people = _KindRun[PersonRecord](
            uow=uow,
            name="people",
            tables=PEOPLE_TABLES,
            target_kind=TargetKind.PERSON,
            target_side=KeySide.PERSON,
            matcher=people_matcher,
            full=full,
            now=now,
            to_record=_workspace_person,
            load_targets=uow.matches.people_by_ids,
        )
        people.forget_vanished()
        person_values = list(uow.matches.people(since=None if full else state.people_watermark))
        records: dict[str, list[ImportedRecord]] = {}
        for table in PEOPLE_TABLES:
            records[table] = list(uow.matches.crm_records(table, since=since_crm))
            seen_crm.extend(record.imported_at for record in records[table])
        forced: dict[str, set[str]] = {}
        if not full:
            changed_accounts = companies.changed_ties
            for table in PEOPLE_TABLES:
                forced[table] = {
                    record.crm_id for record in uow.matches.crm_records_by_parents(table, changed_accounts)
                }
        all_people: dict[str, PersonRecord] | None = None
        if full:
            all_people = {str(value.id): _workspace_person(value) for value in person_values}
        to_left = _person_lefts(uow, profiles)
        lefts_read = [left for table in PEOPLE_TABLES for left in to_left(table, records[table])]
        if (
            all_people is not None
            and len(lefts_read) >= MIN_ESTIMATION_RECORDS
            and len(all_people) >= MIN_ESTIMATION_RECORDS
        ):
            people.matcher = people_matcher = people_matcher.with_model(
                people_matcher.estimate([left.value for left in lefts_read], list(all_people.values()))
            )
            people.counter.model_estimated = True
        changed_people = people.changed_targets(person_values)
        person_lefts = people.changed_lefts(lefts_read)
        if not full:
            for table, ids in people.crm_refs_near(changed_people).items():
                forced.setdefault(table, set()).update(ids)
            decided = {(left.table, left.record.crm_id) for left in person_lefts}
            for table in PEOPLE_TABLES:
                missing = {crm_id for crm_id in forced.get(table, set()) if (table, crm_id) not in decided}
                extra = to_left(table, uow.matches.crm_records_by_ids(table, missing))
                person_lefts.extend(extra)
                _store_keys(uow, people_matcher, extra)
        people.decide(person_lefts, all_people)

        # ---- shared people: the accounts whose contacts' ties changed, then those accounts' people
        touched = {parent for left in person_lefts if (parent := _account_of(left.table, left.record)) is not None}
        if not full and person_values:  # a person's employer may have changed (a new company_external_id)
            tied: dict[str, list[str]] = {}
            for link in uow.matches.links_to([value.id for value in person_values if value.id is not None]):
                if link.crm_table in PEOPLE_TABLES:
                    tied.setdefault(link.crm_table, []).append(link.crm_id)
            for table, crm_ids in tied.items():
                touched.update(
                    parent
                    for record in uow.matches.crm_records_by_ids(table, crm_ids)
                    if (parent := _account_of(table, record))
                )
        if touched:
            ties_before = set(companies.changed_ties)
            again = [
                left
                for left in _account_lefts(uow, profiles["account"], uow.matches.crm_records_by_ids("account", touched))
                if decided_accounts.get(left.record.crm_id.lower()) != left.value
            ]
            again = companies.changed_lefts(again)
            if again:
                companies.decide(again, all_companies)
            retied = {crm_id.lower() for crm_id in companies.changed_ties - ties_before}
            if retied:
                to_left = _person_lefts(uow, profiles)
                redo = [
                    left
                    for table in PEOPLE_TABLES
                    for left in to_left(table, uow.matches.crm_records_by_parents(table, retied))
                ]
                _store_keys(uow, people_matcher, redo)
                people.decide(redo, all_people)
        if all_people is not None:
            people_matcher = _sized(people_matcher, len(all_people))

        summary = MatchRunSummary(
            full=full, companies=companies.counter.summary("companies"), people=people.counter.summary("people")
        )
        uow.matches.save_state(
            MatchState(
                people_model=people_matcher.model.to_dict(),
                companies_model=companies_matcher.model.to_dict(),
                crm_watermark=_watermark(state.crm_watermark, seen_crm),
                people_watermark=_watermark(state.people_watermark, (p.updated_at for p in person_values)),
                companies_watermark=_watermark(state.companies_watermark, (c.updated_at for c in company_values)),
                last_run_at=now,
                last_full_run_at=now if full else state.last_full_run_at,
                last_summary=summary.to_dict(),
                requested_at=None,
            )
        )
        requeue_after_matching(uow)  # activities waiting for a match are decided again by the next drain
        record_match_rates(uow, at=now)  # the reports' match rate over time
        uow.commit()
    store.refresh_statistics()  # a first run fills match_links: PostgreSQL plans the lists' reads from it now
    return summary


def _store_keys(uow: UnitOfWork, matcher: Matcher[PersonRecord], lefts: Sequence[_Left[PersonRecord]]) -> None:
    """Keep the keys of CRM records decided again for their neighbours' sake (their values may be new to us)."""
    by_table: dict[str, dict[str, set[str]]] = {}
    for left in lefts:
        by_table.setdefault(left.table, {})[left.record.crm_id] = _stored_keys(matcher, left.value)
    for table, keys in by_table.items():
        uow.matches.replace_keys(KeySide(table), keys)


def _person_lefts(
    uow: UnitOfWork, profiles: Mapping[str, str | None]
) -> Callable[[str, Sequence[ImportedRecord]], list[_Left[PersonRecord]]]:
    """Turns contacts or leads into the engine's records, with their account's name, website and tied company."""
    accounts: dict[str, ImportedRecord] = {}
    ties: dict[str, uuid.UUID | None] = {}

    def convert(table: str, records: Sequence[ImportedRecord]) -> list[_Left[PersonRecord]]:
        parents = {parent for record in records if (parent := _account_of(table, record)) is not None}
        unknown = parents - set(ties)
        if unknown:
            found = {record.crm_id.lower(): record for record in uow.matches.crm_records_by_ids("account", unknown)}
            links = {crm_id.lower(): link for crm_id, link in uow.matches.links("account", unknown).items()}
            for parent in unknown:
                if parent in found:
                    accounts[parent] = found[parent]
                link = links.get(parent)
                ties[parent] = link.target_id if link is not None and link.is_tie else None
        lefts: list[_Left[PersonRecord]] = []
        for record in records:
            parent = _account_of(table, record)
            account = accounts.get(parent) if parent else None
            tie = ties.get(parent) if parent else None
            lefts.append(_Left(table, record, _person_record(table, record, account, tie, profiles.get(table))))
        return lefts

    return convert


def run_requested_matching(store: StoreAccess, organization_id: uuid.UUID, *, clock: Clock) -> MatchRunSummary | None:
    """Run matching if a run was requested (:func:`request_matching`) since the last; None when none was. For job
    engines that cannot defer the ``match`` task (the embedded runner calls this after each import)."""
    with store(organization_id, read_only=True) as uow:
        if uow.matches.state().requested_at is None:
            return None
    return run_matching(store, organization_id, clock=clock)


def request_matching(uow: UnitOfWork, *, reason: str, clock: Clock = _utc_now) -> None:
    """Ask for a matching run of the unit of work's organization, in its transaction (an import's end, a people or
    company load): the ``match_organization`` job is deferred under the organization's lock (never beside its
    import), at most one waiting; the request is also marked on the matching state, which the embedded runner
    (no jobs but imports) reads. Marking waits for a run in progress to commit (the state's row lock), so a run
    never clears a request made while it ran."""
    state = uow.matches.lock_state()
    uow.matches.save_state(replace(state, requested_at=state.requested_at or clock()))
    organization_id = uow.organization_id
    with contextlib.suppress(UnsupportedJobError):  # the embedded runner: the marked state is its queue
        uow.jobs.defer(
            MATCH_ORGANIZATION,
            args={"reason": reason},
            lock=organization_lock(organization_id),
            queueing_lock=match_queueing_lock(organization_id),
        )


# ------------------------------------------------------------------------------------------------- views


def _table_kind(table: str) -> TargetKind:
    kind = TARGET_KINDS.get(table)
    if kind is None:
        raise InvalidRequestError(_UNKNOWN_TABLE, table=table)
    return kind


def crm_url(org_url: str | None, table: str, crm_id: str) -> str | None:
    """The record's page in the organization's Dynamics ("View in CRM")."""
    if not org_url:
        return None
    return f"{org_url.rstrip('/')}/main.aspx?etn={table}&id={crm_id}&pagetype=entityrecord"


class _Viewer:
    """Builds views within one unit of work, caching what several views share."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        connection = uow.crm_connection.find()
        self.org_url = connection.org_url if connection is not None else None
        self._owners: dict[str, str | None] = {}
        self._users: dict[uuid.UUID, str | None] = {}
        self._accounts: dict[str, str | None] = {}

    def account_name(self, account_id: str) -> str | None:
        """An account's name, read once per view builder (an export names the same accounts again and again)."""
        if account_id not in self._accounts:
            key = ("account", account_id)
            self._accounts[account_id] = self._uow.crm_record_queries.names([key]).get(key)
        return self._accounts[account_id]

    def owner(self, owner_id: str | None) -> str | None:
        if owner_id is None:
            return None
        if owner_id not in self._owners:
            user = self._uow.crm_users.find_by_crm_id(owner_id)
            name = user.full_name if user is not None else None
            if name is None:
                name = self._uow.crm_record_queries.names([("team", owner_id)]).get(("team", owner_id))
            self._owners[owner_id] = name
        return self._owners[owner_id]

    def user(self, user_id: uuid.UUID | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._users:
            found = next((user for user in self._uow.users.list_all() if user.id == user_id), None)
            self._users[user_id] = found.display_name if found is not None else None
        return self._users[user_id]

    def record(self, table: str, record: ImportedRecord) -> CrmRecordView:
        data = record.data
        company = _text(data, "companyname") if table == "lead" else None
        if table == "contact":
            parent = _account_of(table, record)
            if parent is not None:
                company = self.account_name(parent)
        return CrmRecordView(
            table=table,
            crm_id=record.crm_id,
            name=record.name or _text(data, "fullname") or _text(data, "name"),
            email=_text(data, "emailaddress1"),
            job_title=_text(data, "jobtitle"),
            company_name=company,
            phone=_text(data, "telephone1") or _text(data, "mobilephone"),
            city=_text(data, "address1_city"),
            country=_text(data, "address1_country"),
            website=_text(data, "websiteurl"),
            owner_name=self.owner(record.owner_id),
            url=crm_url(self.org_url, table, record.crm_id),
        )

    def link(self, link: MatchLink, record: ImportedRecord | None, *, duplicate: bool = False) -> MatchLinkView:
        return MatchLinkView(
            table=link.crm_table,
            crm_id=link.crm_id,
            record=self.record(link.crm_table, record) if record is not None else None,
            target_kind=link.target_kind,
            target_id=link.target_id,
            band=link.band,
            origin=link.origin,
            probability=link.probability,
            reasons=_compared(link.decision),
            decided_by=self.user(link.decided_by),
            decided_at=link.decided_at,
            stale_fields=link.stale_fields,
            duplicate=duplicate,
        )


def _compared(decision: Mapping[str, Any] | None) -> tuple[ComparedField, ...]:
    if not decision:
        return ()
    reasons = [FieldReason.from_dict(dict(item)) for item in decision.get("reasons", ())]
    return tuple(
        ComparedField(
            field=reason.field,
            level=reason.level,
            detail=reason.detail,
            weight=reason.weight,
            left=reason.left,
            right=reason.right,
            differs=reason.level in ("different", "similar"),
        )
        for reason in reasons
    )


def _records_of(uow: UnitOfWork, links: Iterable[MatchLink]) -> dict[tuple[str, str], ImportedRecord]:
    wanted: dict[str, list[str]] = {}
    for link in links:
        wanted.setdefault(link.crm_table, []).append(link.crm_id)
    return {
        (table, record.crm_id): record
        for table, ids in wanted.items()
        for record in uow.matches.crm_records_by_ids(table, ids)
    }


def _links_of_target(uow: UnitOfWork, target_id: uuid.UUID, kind: TargetKind) -> list[MatchLinkView]:
    links = [link for link in uow.matches.links_to([target_id]) if link.target_kind is kind]
    records = _records_of(uow, links)
    viewer = _Viewer(uow)
    ties_per_table: dict[str, int] = {}
    for link in links:
        if link.is_tie:
            ties_per_table[link.crm_table] = ties_per_table.get(link.crm_table, 0) + 1
    return [
        viewer.link(
            link,
            records.get((link.crm_table, link.crm_id)),
            duplicate=link.is_tie and ties_per_table.get(link.crm_table, 0) > 1,
        )
        for link in links
    ]


def links_of_person(uow: UnitOfWork, person_id: uuid.UUID) -> list[MatchLinkView]:
    """The CRM records tied to (or in review for) a person, by table then CRM id; CRM duplicates are flagged."""
    return _links_of_target(uow, person_id, TargetKind.PERSON)


def links_of_company(uow: UnitOfWork, company_id: uuid.UUID) -> list[MatchLinkView]:
    """The CRM accounts tied to (or in review for) a company."""
    return _links_of_target(uow, company_id, TargetKind.COMPANY)


def link_of_crm_record(uow: UnitOfWork, table: str, crm_id: str) -> MatchLinkView | None:
    """The link of one CRM record, or None (not matched, or not a matched table)."""
    if table not in TARGET_KINDS:
        return None
    link = uow.matches.get(table, crm_id)
    if link is None:
        return None
    records = _records_of(uow, [link])
    return _Viewer(uow).link(link, records.get((table, crm_id)))


def matched_targets(uow: UnitOfWork, table: str, crm_ids: Iterable[str]) -> dict[str, uuid.UUID]:
    """The person or company each of these CRM records is tied to (records not tied are absent)."""
    return {
        crm_id: link.target_id
        for crm_id, link in uow.matches.links(table, crm_ids).items()
        if link.is_tie and link.target_id is not None
    }


def _badges(uow: UnitOfWork, target_ids: Iterable[uuid.UUID], kind: TargetKind) -> dict[uuid.UUID, Badges]:
    ids = list(dict.fromkeys(target_ids))
    links = [link for link in uow.matches.links_to(ids) if link.target_kind is kind]
    org_url = _Viewer(uow).org_url
    badges: dict[uuid.UUID, Badges] = {}
    for target in ids:
        own = [link for link in links if link.target_id == target]
        ties = [link for link in own if link.is_tie]
        urls = tuple(url for link in ties if (url := crm_url(org_url, link.crm_table, link.crm_id)) is not None)
        badges[target] = Badges(
            in_crm=bool(ties),
            out_of_date=any(link.stale_fields for link in ties),
            crm_urls=urls,
            in_review=any(link.band is LinkBand.REVIEW for link in own),
        )
    return badges


def badges_of_people(uow: UnitOfWork, person_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Badges]:
    """Each person's badges (every id given gets an entry; unknown ids read "Not in CRM")."""
    return _badges(uow, person_ids, TargetKind.PERSON)


def badges_of_companies(uow: UnitOfWork, company_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Badges]:
    """Each company's badges."""
    return _badges(uow, company_ids, TargetKind.COMPANY)


# --------------------------------------------------------------------------------- corrections and review


def _acting_user(actor: Principal, organization_id: uuid.UUID) -> None:
    if actor.organization_id != organization_id:
        raise MatchNotFoundError("No such CRM record in this organization.")


def _target_exists(uow: UnitOfWork, kind: TargetKind, target_id: uuid.UUID) -> bool:
    if kind is TargetKind.PERSON:
        return uow.people.get(target_id) is not None
    return uow.companies.get(target_id) is not None


def _require_record(uow: UnitOfWork, table: str, crm_id: str) -> ImportedRecord:
    found = uow.matches.crm_records_by_ids(table, [crm_id])
    if not found:
        raise MatchNotFoundError("No such CRM record in this organization.")
    return found[0]


def _scored(uow: UnitOfWork, table: str, record: ImportedRecord, target_id: uuid.UUID) -> Decision | None:
    """The scorer's decision on one pair (for the explanation and "Out of date" of a correction)."""
    kind = _table_kind(table)
    state = uow.matches.state()
    profiles = _profile_columns(uow)
    if kind is TargetKind.COMPANY:
        companies = uow.matches.companies_by_ids([target_id])
        if not companies:
            return None
        matcher = _companies_matcher(state.companies_model)
        return matcher.score(_company_record(record, profiles.get(table)), _workspace_company(companies[0]))
    people = uow.matches.people_by_ids([target_id])
    if not people:
        return None
    left = _person_lefts(uow, profiles)(table, [record])[0]
    return _people_matcher(state.people_model).score(left.value, _workspace_person(people[0]))


def correct_match(
    store: StoreAccess,
    organization_id: uuid.UUID,
    *,
    actor: Principal,
    table: str,
    crm_id: str,
    action: CorrectionAction | str,
    target_id: uuid.UUID | None = None,
    expected_target_id: uuid.UUID | Unchecked | None = UNCHECKED,
    clock: Clock = _utc_now,
) -> MatchLinkView:
    """ "Edit match" on a CRM record: ``link`` it to ``target_id`` (a person for contacts and leads, a company for
    accounts), ``unlink`` it (explicitly no match), or ``confirm`` its current tie. By any seat holder (or
    administrator). No lost update: ``expected_target_id`` is the target the caller saw (None: none), and a
    ``confirm`` with ``target_id`` confirms that target only; when the record's current target differs, nothing
    changes (:class:`MatchChangedError`, naming who changed it). Visible to everyone of the organization; kept
    across imports and runs until the CRM record or the target is deleted. Audited ``match.linked``,
    ``match.unlinked`` or ``match.confirmed`` (details: table, CRM id, target ids).

    Raises:
        MatchNotFoundError: the CRM record or target is not the organization's (``actor`` of another organization
            included).
        SeatRequiredError: the actor holds no seat and is not an administrator.
        MatchChangedError: the current target is not ``expected_target_id`` (or a confirm's ``target_id``).
        InvalidRequestError: an unknown table or action, a link without target, a confirm of no tie.
    """
    _acting_user(actor, organization_id)
    if not (actor.has_seat or actor.is_admin):
        raise SeatRequiredError()
    kind = _table_kind(table)
    try:
        chosen = CorrectionAction(action)
    except ValueError:
        raise InvalidRequestError(_UNKNOWN_ACTION, action=str(action)) from None
    with store(organization_id) as uow:
        record = _require_record(uow, table, crm_id)
        current = uow.matches.get(table, crm_id)
        seen = target_id if chosen is CorrectionAction.CONFIRM and target_id is not None else expected_target_id
        _require_unchanged(uow, current, seen)
        if chosen is CorrectionAction.LINK:
            if target_id is None:
                raise InvalidRequestError(_TARGET_REQUIRED)
            if not _target_exists(uow, kind, target_id):
                raise MatchNotFoundError("No such person or company in this organization.")
            target: uuid.UUID | None = target_id
            band = LinkBand.MATCH
        elif chosen is CorrectionAction.UNLINK:
            target, band = None, LinkBand.NO_MATCH
        else:
            if current is None or current.target_id is None:
                raise InvalidRequestError(_NOTHING_TO_CONFIRM)
            target, band = current.target_id, LinkBand.MATCH
        decision = _scored(uow, table, record, target) if target is not None else None
        link = MatchLink(
            crm_table=table,
            crm_id=crm_id,
            target_kind=kind,
            target_id=target,
            band=band,
            probability=decision.probability if decision is not None else None,
            decision=decision.to_dict() if decision is not None else None,
            origin=LinkOrigin.CORRECTION,
            decided_by=actor.user_id,
            decided_at=clock(),
            stale_fields=_stale_fields(kind, decision),
        )
        uow.matches.put([link])
        if kind is TargetKind.COMPANY:
            _redecide_people_of_account(uow, crm_id, clock=clock)
        if link.is_tie:
            requeue_after_matching(uow)
        uow.audit.record(
            actor=actor.email,
            action=_CORRECTION_ACTIONS[chosen],
            details={
                "table": table,
                "crm_id": crm_id,
                "target_id": str(target) if target is not None else None,
                "previous_target_id": str(current.target_id) if current and current.target_id else None,
            },
        )
        view = _Viewer(uow).link(link, record)
        uow.commit()
    return view


def _require_unchanged(uow: UnitOfWork, current: MatchLink | None, seen: uuid.UUID | Unchecked | None) -> None:
    """Refuse an edit made on a stale view: the record's target is no longer the one the caller saw."""
    if seen is UNCHECKED:
        return
    now = current.target_id if current is not None else None
    if now == seen:
        return
    name = _Viewer(uow).user(current.decided_by) if current is not None else None
    if name is None:
        raise MatchChangedError(_CHANGED_BY_RUN, changed_by=None)
    raise MatchChangedError(_CHANGED_BY, changed_by=name, name=name)


def _redecide_people_of_account(uow: UnitOfWork, account_id: str, *, clock: Clock) -> None:
    """An account's company changed by hand: its contacts and leads are decided again by the next run (their
    company is evidence), which is requested."""
    _forget_keys_of_children(uow, [account_id])
    request_matching(uow, reason=CORRECTED_REASON, clock=clock)


def _forget_keys_of_children(uow: UnitOfWork, account_ids: Sequence[str]) -> None:
    """The contacts and leads of ``account_ids`` look changed to the next run (their keys are dropped)."""
    for table in PEOPLE_TABLES:
        ids = [record.crm_id for record in uow.matches.crm_records_by_parents(table, account_ids)]
        if ids:
            uow.matches.replace_keys(KeySide(table), dict.fromkeys(ids, ()))


def forget_target(
    uow: UnitOfWork, kind: TargetKind, target_id: uuid.UUID, *, reason: str, clock: Clock = _utc_now
) -> int:
    """A person or company is being deleted (in ``uow``'s transaction): its links — corrections included —,
    rejected pairs and keys go now, so no badge, list, report or page shows a CRM record tied to it; the CRM records
    it held (and, for a company, its accounts' contacts and leads: their company was evidence) are decided again by
    the next run, which is requested for ``reason``. How many links went."""
    links = uow.matches.links_to([target_id])
    removed = uow.matches.forget_targets(kind, [target_id])
    held: dict[str, list[str]] = {}
    for link in links:
        held.setdefault(link.crm_table, []).append(link.crm_id)
    for table, ids in held.items():
        uow.matches.replace_keys(KeySide(table), dict.fromkeys(ids, ()))
    if kind is TargetKind.COMPANY and held.get("account"):
        _forget_keys_of_children(uow, held["account"])
    request_matching(uow, reason=reason, clock=clock)
    return removed


_CORRECTION_ACTIONS: Final = {
    CorrectionAction.LINK: "match.linked",
    CorrectionAction.UNLINK: "match.unlinked",
    CorrectionAction.CONFIRM: "match.confirmed",
}


def _kind_tables(kind: Literal["people", "companies"]) -> tuple[str, ...]:
    return PEOPLE_TABLES if kind == "people" else COMPANY_TABLES


def review_queue(
    uow: UnitOfWork, *, kind: Literal["people", "companies"], limit: int = 50, offset: int = 0
) -> list[ReviewItem]:
    """Candidate pairs waiting for an administrator, most probable first, side by side (fields that differ flagged)."""
    links = uow.matches.review(_kind_tables(kind), limit=limit, offset=offset)
    records = _records_of(uow, links)
    targets: dict[uuid.UUID | None, Person | Company] = {}
    ids = [link.target_id for link in links if link.target_id is not None]
    values: list[Person | Company] = [
        *(uow.matches.people_by_ids(ids) if kind == "people" else uow.matches.companies_by_ids(ids))
    ]
    targets = {value.id: value for value in values}
    viewer = _Viewer(uow)
    items: list[ReviewItem] = []
    for link in links:
        record = records.get((link.crm_table, link.crm_id))
        target = targets.get(link.target_id)
        if record is None or target is None:
            continue  # deleted since the last run: the next run drops it
        items.append(
            ReviewItem(
                table=link.crm_table,
                crm_id=link.crm_id,
                record=viewer.record(link.crm_table, record),
                target_kind=link.target_kind,
                target=target,
                probability=link.probability,
                fields=_compared(link.decision),
            )
        )
    return items


def count_review(uow: UnitOfWork, *, kind: Literal["people", "companies"]) -> int:
    """How many pairs wait for review."""
    return uow.matches.count_review(_kind_tables(kind))


def decide_review(
    store: StoreAccess,
    organization_id: uuid.UUID,
    *,
    actor: Principal,
    table: str,
    crm_id: str,
    target_id: uuid.UUID,
    accept: bool,
    clock: Clock = _utc_now,
) -> MatchLinkView | None:
    """Accept (tie the pair, as a correction) or reject (never propose it again; the record is unmatched until the
    next run may propose another candidate) a pair in review. Administrators only; audited
    ``match.review_accepted`` / ``match.review_rejected``. The view of the tie, None after a rejection.

    Raises:
        MatchNotFoundError: no such pair in review in the organization.
        AdministratorRequiredError: the actor is not an administrator.
    """
    _acting_user(actor, organization_id)
    if not actor.is_admin:
        raise AdministratorRequiredError()
    _table_kind(table)
    with store(organization_id) as uow:
        link = uow.matches.get(table, crm_id)
        if link is None or link.band is not LinkBand.REVIEW or link.target_id != target_id:
            raise MatchNotFoundError("No such pair in review.")
        now = clock()
        view: MatchLinkView | None = None
        if accept:
            accepted = replace(
                link,
                band=LinkBand.MATCH,
                origin=LinkOrigin.CORRECTION,
                decided_by=actor.user_id,
                decided_at=now,
                stale_fields=_stale_fields(
                    link.target_kind, Decision.from_dict(dict(link.decision)) if link.decision else None
                ),
            )
            uow.matches.put([accepted])
            requeue_after_matching(uow)
            records = _records_of(uow, [accepted])
            view = _Viewer(uow).link(accepted, records.get((table, crm_id)))
        else:
            uow.matches.reject(
                MatchRejection(
                    crm_table=table, crm_id=crm_id, target_id=target_id, decided_by=actor.user_id, decided_at=now
                )
            )
            uow.matches.delete(table, [crm_id])
            # Its keys go, so the next run sees the record as changed and decides it again, without this pair.
            uow.matches.replace_keys(KeySide(table), {crm_id: ()})
            request_matching(uow, reason=REVIEW_REJECTED_REASON, clock=clock)
        uow.audit.record(
            actor=actor.email,
            action="match.review_accepted" if accept else "match.review_rejected",
            details={"table": table, "crm_id": crm_id, "target_id": str(target_id)},
        )
        uow.commit()
    return view


# ------------------------------------------------------------------------------------------------ reports


def match_report(uow: UnitOfWork) -> MatchReport:
    """Accounts, contacts and leads: matched, in review and unmatched, with shares; and the last run."""
    tables: list[TableReport] = []
    for table in (*COMPANY_TABLES, *PEOPLE_TABLES):
        counts = uow.matches.counts(table)
        total = counts.total

        def share(part: int, total: int = total) -> float:
            return part / total if total else 0.0

        tables.append(
            TableReport(
                table=table,
                total=total,
                matched=counts.matched,
                review=counts.review,
                unmatched=counts.unmatched,
                matched_share=share(counts.matched),
                review_share=share(counts.review),
                unmatched_share=share(counts.unmatched),
            )
        )
    state = uow.matches.state()
    return MatchReport(tables=tuple(tables), last_run_at=state.last_run_at, last_summary=state.last_summary)


UNMATCHED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "account": ("crm_id", "name", "website", "email", "phone", "city", "country", "owner", "url"),
    "contact": ("crm_id", "name", "email", "job_title", "company", "phone", "city", "country", "owner", "url"),
    "lead": ("crm_id", "name", "email", "job_title", "company", "phone", "city", "country", "owner", "url"),
}
"""The columns of :func:`unmatched_rows`, per table, in order."""


def unmatched_rows(uow: UnitOfWork, table: str) -> Iterator[dict[str, str]]:
    """Every record of ``table`` not tied to a person or company, streamed (no cap), as rows of
    :data:`UNMATCHED_COLUMNS` (raw values, empty when missing: neutralise formula cells at the CSV edge).

    Raises:
        InvalidRequestError: ``table`` is not account, contact or lead.
    """
    _table_kind(table)
    viewer = _Viewer(uow)
    for record in uow.matches.unmatched_crm_records(table):
        view = viewer.record(table, record)
        values = {
            "crm_id": view.crm_id,
            "name": view.name,
            "website": view.website,
            "email": view.email,
            "job_title": view.job_title,
            "company": view.company_name,
            "phone": view.phone,
            "city": view.city,
            "country": view.country,
            "owner": view.owner_name,
            "url": view.url,
        }
        yield {name: values[name] or "" for name in UNMATCHED_COLUMNS[table]}


@kept_for_run()
def evaluate(uow: UnitOfWork) -> Evaluation:
    """The scorer's precision, recall and F1 against the organization's labels (see :class:`Evaluation`): each
    labelled CRM record is decided again by the scorer alone (its correction ignored, rejected pairs allowed) with
    the stored models. The engine's caches are emptied when it ends, as after a run (the console serves it)."""
    state = uow.matches.state()
    profiles = _profile_columns(uow)
    truth: dict[tuple[str, str], uuid.UUID | None] = {}
    for link in uow.matches.corrections():
        truth[(link.crm_table, link.crm_id)] = link.target_id if link.is_tie else None
    negatives: dict[tuple[str, str], set[str]] = {}
    for rejection in uow.matches.all_rejections():
        negatives.setdefault((rejection.crm_table, rejection.crm_id), set()).add(str(rejection.target_id))
    labelled = set(truth) | set(negatives)
    predicted: dict[tuple[str, str], str | None] = {}
    now = _utc_now()
    companies = _KindRun[CompanyRecord](
        uow=uow,
        name="companies",
        tables=COMPANY_TABLES,
        target_kind=TargetKind.COMPANY,
        target_side=KeySide.COMPANY,
        matcher=_companies_matcher(state.companies_model),
        full=False,
        now=now,
        to_record=_workspace_company,
        load_targets=uow.matches.companies_by_ids,
    )
    people = _KindRun[PersonRecord](
        uow=uow,
        name="people",
        tables=PEOPLE_TABLES,
        target_kind=TargetKind.PERSON,
        target_side=KeySide.PERSON,
        matcher=_people_matcher(state.people_model),
        full=False,
        now=now,
        to_record=_workspace_person,
        load_targets=uow.matches.people_by_ids,
    )
    kinds: list[tuple[tuple[str, ...], _KindRun[Any]]] = [(COMPANY_TABLES, companies), (PEOPLE_TABLES, people)]
    to_person = _person_lefts(uow, profiles)
    for tables, run in kinds:
        for table in tables:
            ids = [crm_id for key_table, crm_id in labelled if key_table == table]
            records = uow.matches.crm_records_by_ids(table, ids)
            lefts: list[_Left[Any]] = (
                [_Left(table, record, _company_record(record, profiles.get(table))) for record in records]
                if table == "account"
                else list(to_person(table, records))
            )
            decisions = run._decisions(lefts, None, {})
            for left in lefts:
                decision = decisions.get((table, left.record.crm_id))
                tied = decision is not None and decision.band is Band.MATCH
                predicted[(table, left.record.crm_id)] = decision.right_id if tied and decision else None
    true_positives = false_positives = false_negatives = 0
    for key in labelled:
        guess = predicted.get(key)
        if key in truth:
            right = truth[key]
            expected = str(right) if right is not None else None
            if guess is not None and guess == expected:
                true_positives += 1
            else:
                false_positives += guess is not None
                false_negatives += expected is not None
        elif guess is not None and guess in negatives.get(key, set()):
            false_positives += 1
    precision = true_positives / (true_positives + false_positives) if true_positives + false_positives else 1.0
    recall = true_positives / (true_positives + false_negatives) if true_positives + false_negatives else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    measured = bool(labelled)
    return Evaluation(
        labelled=len(labelled),
        true_positives=true_positives,
        false_positives=false_positives,
        false_negatives=false_negatives,
        precision=precision if measured else None,
        recall=recall if measured else None,
        f1=f1 if measured else None,
    )
