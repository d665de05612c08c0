"""Comparators: for a pair of features, the level each comparison reaches; blocking keys; per-field explanations.

Levels are indexes into the model's levels of that comparison (strongest agreement first); ``-1`` is "missing"
(either side lacks the value: no evidence, weight 0). Pair-level results that depend only on two distinct values
(two first names, two surnames, two company names, two titles, two streets) are cached for the run
(``caches.run_cache``), so a million candidate pairs over a few hundred thousand distinct names cost one string
comparison per distinct pair.

People (``PEOPLE_LEVELS``): profile_url, email, first_name, last_name, birth_date, company, domain, title, phone,
place, street. Companies (``COMPANY_LEVELS``): profile_url, name, domain, phone, place, street, industry, size,
people ("shared people": the employers of the people the account's contacts are tied to, see ``people_level``).
"""

from __future__ import annotations

from collections.abc import Callable

import jellyfish
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from salesbridge.matching.caches import run_cache
from salesbridge.matching.features import CompanyFeatures, PersonFeatures, fold_word
from salesbridge.matching.names import nickname_classes
from salesbridge.matching.text import ascii_fold

__all__ = [
    "COMPANY_LEVELS",
    "PEOPLE_LEVELS",
    "SharedCount",
    "company_keys",
    "company_vector",
    "explain_company",
    "explain_person",
    "no_sharing",
    "person_keys",
    "person_vector",
]

_BIG = 1 << 18

# (comparison name, reason field, ((level, detail), ...) strongest first, term-frequency adjusted?)
LevelSpec = tuple[str, str, tuple[tuple[str, str | None], ...], bool]

PEOPLE_LEVELS: tuple[LevelSpec, ...] = (
    ("profile_url", "profile_url", (("exact", None), ("different", None)), False),
    ("email", "email", (("exact", None), ("exact", "shared"), ("different", None)), False),
    (
        "first_name",
        "name",
        (
            ("exact", None),
            ("equivalent", "nickname"),
            ("similar", "typo"),
            ("similar", "initial"),
            ("similar", None),
            ("different", None),
        ),
        True,
    ),
    (
        "last_name",
        "name",
        (("exact", None), ("similar", "typo"), ("equivalent", "compound"), ("similar", None), ("different", None)),
        True,
    ),
    (
        "birth_date",
        "birth_date",
        (("exact", None), ("similar", "typo"), ("similar", None), ("different", None)),
        False,
    ),
    (
        "company",
        "company",
        (
            ("exact", "same_account"),
            ("exact", None),
            ("similar", None),
            ("similar", "past_company"),
            ("different", None),
        ),
        False,
    ),
    ("domain", "domain", (("exact", None), ("different", None)), False),
    ("title", "title", (("exact", None), ("similar", None), ("different", None)), False),
    ("phone", "phone", (("exact", None), ("exact", "shared"), ("different", None)), False),
    (
        "place",
        "place",
        (("exact", None), ("similar", "city"), ("similar", "region"), ("different", None), ("different", "country")),
        False,
    ),
    ("street", "street", (("exact", None), ("similar", "typo"), ("different", None)), False),
)

COMPANY_LEVELS: tuple[LevelSpec, ...] = (
    ("profile_url", "profile_url", (("exact", None), ("different", None)), False),
    (
        "name",
        "name",
        (("exact", None), ("similar", "typo"), ("similar", None), ("similar", "weak"), ("different", None)),
        True,
    ),
    ("domain", "domain", (("exact", None), ("different", None)), False),
    ("phone", "phone", (("exact", None), ("exact", "shared"), ("different", None)), False),
    (
        "place",
        "place",
        (("exact", None), ("similar", "city"), ("similar", "region"), ("different", None), ("different", "country")),
        False,
    ),
    ("street", "street", (("exact", None), ("similar", "typo"), ("different", None)), False),
    ("industry", "industry", (("exact", None), ("different", None)), False),
    ("size", "size", (("similar", None), ("different", None)), False),
    ("people", "people", (("exact", None), ("similar", None), ("different", None)), False),
)

SharedCount = Callable[[str, str], int]
"""How many records hold an identifier: ``(kind, value) -> count`` with kind "e" (e-mail) or "t" (phone)."""


def no_sharing(kind: str, value: str) -> int:
    """A ``SharedCount`` for a lone pair: every identifier is held once."""
    del kind, value
    return 1


# ---------------------------------------------------------------- pair comparators (cached on distinct value pairs)


@run_cache(maxsize=_BIG)
def metaphone(word: str) -> str:
    """Metaphone of each word of an already folded name, joined by "" (cached)."""
    return "".join(jellyfish.metaphone(part) for part in word.split()) or word


@run_cache(maxsize=_BIG)
def compare_first(a: str, b: str) -> int:
    """Level of two folded first names: exact, nickname, typo, initial, similar, different."""
    if a == b:
        return 0
    if len(a) == 1 or len(b) == 1:
        return 3 if a[0] == b[0] else 5
    if b in nickname_classes(a) or a in nickname_classes(b):
        # One is a nickname or the canonical form of the other. Sharing a class member is not enough: the English
        # table is permissive ("william" and "robert" both list "bill").
        return 1
    wa, wb = a.split(), b.split()
    if wa[0] == wb[0] and (len(wa) > 1 or len(wb) > 1):
        return 1  # "maria jose" / "maria": the usual short form of a compound given name
    if JaroWinkler.similarity(a, b) >= 0.92 or (min(len(a), len(b)) >= 4 and DamerauLevenshtein.distance(a, b) <= 1):
        return 2
    if JaroWinkler.similarity(a, b) >= 0.8:
        return 4
    return 5


@run_cache(maxsize=_BIG)
def compare_last(a: str, b: str) -> int:
    """Level of two folded surnames: exact, typo, compound (one surname of a double one), similar, different."""
    if a == b:
        return 0
    if JaroWinkler.similarity(a, b) >= 0.92 or (min(len(a), len(b)) >= 4 and DamerauLevenshtein.distance(a, b) <= 1):
        return 1
    wa, wb = set(a.split()), set(b.split())
    if (len(wa) > 1 or len(wb) > 1) and (wa <= wb or wb <= wa):
        return 2
    if JaroWinkler.similarity(a, b) >= 0.8:
        return 3
    return 4


_SHORT_NAME = 5


@run_cache(maxsize=1 << 20)
def company_level(a: str, b: str) -> int:
    """0 exact, 1 very close (WRatio ≥ 95), 2 close (≥ 88), 3 weak (≥ 75), 4 different — on normalised names.

    A close score from a name of fewer than five letters is weak: WRatio scores a short name contained in a longer
    one at 90 ("dsm" in "dsm ip assets", "ibm" in "ibm credit"), and an acronym inside another name says little
    (PATSTAT: such pairs are one in five wrong, the other close pairs one in a thousand)."""
    if a == b:
        return 0
    score = fuzz.WRatio(a, b, score_cutoff=75)
    if score >= 95:
        return 1
    if score >= 88:
        return 2 if min(len(a), len(b)) >= _SHORT_NAME else 3
    if score >= 75:
        return 3
    return 4


@run_cache(maxsize=_BIG)
def _title_level(a: str, b: str) -> int:
    if a == b:
        return 0
    return 1 if fuzz.token_set_ratio(a, b) >= 85 else 2


@run_cache(maxsize=1 << 16)
def _street_level(a: str, b: str) -> int:
    if a == b:
        return 0
    # Words in another order ("street" before the number), or two words run together ("porteousjcrescent").
    return 1 if fuzz.token_sort_ratio(a, b) >= 85 or fuzz.ratio(a, b) >= 85 else 2


@run_cache(maxsize=_BIG)
def _city_equal(a: str, b: str) -> bool:
    return a == b or JaroWinkler.similarity(a, b) >= 0.93


def _birth_level(a: str, b: str) -> int:
    """0 exact; 1 one digit wrong or two swapped ("1943" / "1946"); 2 one of year, month, day otherwise wrong, or
    day and month swapped; 3 different."""
    if a == b:
        return 0
    if len(a) == len(b) and DamerauLevenshtein.distance(a, b) <= 1:
        return 1
    ya, ma, da = a[:4], a[4:6], a[6:]
    yb, mb, db = b[:4], b[4:6], b[6:]
    differing = (ya != yb) + (ma != mb) + (da != db)
    if differing == 1 or (ya == yb and ma == db and da == mb):
        return 2
    return 3


def _place_level(
    lp: str, lc: str, lr: str, lk: str, rp: str, rc: str, rr: str, rk: str
) -> int:  # postcode, city, region, country
    if lk and rk and lk != rk:
        return 4
    same_post = bool(lp and rp and lp == rp)
    same_city = bool(lc and rc and _city_equal(lc, rc))
    if same_post and (same_city or not (lc and rc)):
        return 0
    if same_post or same_city:
        return 1
    if lr and rr:
        return 2 if lr == rr else 3
    if (lp and rp) or (lc and rc):
        return 3
    if lk and rk:
        return 2
    return -1


def _shared_level(left: tuple[str, ...], right: tuple[str, ...], kind: str, shared: SharedCount) -> int:
    if not left or not right:
        return -1
    best = 2
    for value in left:
        if value in right:
            if shared(kind, value) <= 1:
                return 0
            best = 1
    return best


# ---------------------------------------------------------------- people


def person_vector(left: PersonFeatures, right: PersonFeatures, shared: SharedCount = no_sharing) -> list[int]:
    """The level of every people comparison for one pair (``-1`` = missing), in ``PEOPLE_LEVELS`` order."""
    # Written for speed (it runs once per candidate pair): cheap emptiness tests before any call.
    lp, rp = left.profile, right.profile
    profile = (0 if lp == rp else 1) if lp and rp else -1
    le, re_ = left.emails, right.emails
    email = _shared_level(le, re_, "e", shared) if le and re_ else -1
    lf, ll, rf, rl = left.first, left.last, right.first, right.last
    first = compare_first(lf, rf) if lf and rf else -1
    last = compare_last(ll, rl) if ll and rl else -1
    if first > 1 and last > 1 and lf and ll and rf and rl:
        if lf == rl and ll == rf:
            first, last = 2, 1  # swapped first and last names
        elif first == 5 and last == 4 and (lf == rl or ll == rf):
            first, last = 4, 3  # one name written in the other's column
    lb, rb = left.birth, right.birth
    birth = (0 if lb == rb else _birth_level(lb, rb)) if lb and rb else -1
    company = -1
    lc, rc = left.company, right.company
    if left.company_ref and left.company_ref == right.company_ref:
        company = 0
    elif lc and rc:
        level = 0 if lc == rc else company_level(lc, rc)
        if level <= 1:
            company = 1
        elif level == 2:
            company = 2
        elif lc in right.past or rc in left.past:
            company = 3
        else:
            company = 4
    elif (lc and lc in right.past) or (rc and rc in left.past):
        company = 3
    ld, rd = left.domains, right.domains
    domain = (0 if ld[0] in rd or not set(ld).isdisjoint(rd) else 1) if ld and rd else -1
    lt, rt = left.title, right.title
    title = (0 if lt == rt else _title_level(lt, rt)) if lt and rt else -1
    lph, rph = left.phones, right.phones
    phone = _shared_level(lph, rph, "t", shared) if lph and rph else -1
    if (left.postcode or left.city or left.region or left.country) and (
        right.postcode or right.city or right.region or right.country
    ):
        place = _place_level(
            left.postcode, left.city, left.region, left.country, right.postcode, right.city, right.region, right.country
        )
    else:
        place = -1
    ls, rs = left.street, right.street
    street = (0 if ls == rs else _street_level(ls, rs)) if ls and rs else -1
    return [profile, email, first, last, birth, company, domain, title, phone, place, street]


def person_keys(f: PersonFeatures) -> list[str]:
    """Blocking keys of a person: two records are compared iff they share one (see ``Matcher.keys``)."""
    keys: list[str] = []
    if f.profile:
        keys.append("p:" + f.profile)
    for email in f.emails:
        keys.append("e:" + email)
    for phone in f.phones:
        keys.append("t:" + phone)
    first, last = f.first, f.last
    if last:
        initial = last[0]
        code = metaphone(last)
        if first:
            keys.append(f"n:{code}|{first[0]}")
            if len(first) > 1:
                keys.extend(f"k:{name}|{last}" for name in nickname_classes(first))
                keys.append(f"n:{metaphone(first)}|{initial}")  # meets the other side's swapped name
        if f.postcode:
            keys.append(f"s:{last}|{f.postcode}")
            if first:
                keys.append(f"i:{first[0]}{initial}|{f.postcode}")  # both names misspelt, the postcode right
            if f.street:
                keys.append(f"a:{f.street}|{f.postcode}")
        if f.city:
            keys.append(f"c:{last}|{f.city}")
        if f.birth:
            keys.append(f"b:{f.birth}|{initial}")
        for domain in f.domains:
            keys.append(f"d:{domain}|{initial}")
        if f.company:
            keys.append(f"x:{f.company}|{initial}")
        for past in f.past:
            keys.append(f"x:{past}|{initial}")  # meets a CRM record still at the person's former company
    if f.birth and f.postcode:
        keys.append(f"A:{f.birth}|{f.postcode}")
    if f.street and f.city:
        keys.append(f"a:{f.street}|{f.city}")
    if first:
        if f.birth:
            keys.append(f"B:{f.birth}|{first[0]}")
        if len(first) > 1:
            if f.postcode:
                keys.append(f"f:{first}|{f.postcode}")
            for domain in f.domains:
                keys.append(f"D:{domain}|{first}")
            if f.company:
                keys.append(f"X:{f.company}|{first}")
    return keys


def _show(*parts: str | None) -> str | None:
    text = " ".join(part.strip() for part in parts if part and part.strip())
    return text or None


@run_cache(maxsize=1 << 16)
def _ascii_casefold(text: str) -> str:
    return ascii_fold(text).casefold()


def _accents_only(a: str | None, b: str | None) -> bool:
    """Whether two spellings differ by accents (or script) only: "José" / "Jose", not "AKZO N.V." / "Akzo NV"."""
    return bool(a and b and a.casefold() != b.casefold() and _ascii_casefold(a) == _ascii_casefold(b))


def explain_person(
    left: PersonFeatures, right: PersonFeatures, vector: list[int]
) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """Per comparison (in ``PEOPLE_LEVELS`` order): (level, detail, left value, right value, detail override)."""
    lr, rr = left.record, right.record
    out: list[tuple[str, str, str | None, str | None, str | None]] = []
    values: list[tuple[str | None, str | None]] = [
        (lr.profile_url, rr.profile_url),
        (", ".join(lr.emails) or None, ", ".join(rr.emails) or None),
        (_show(lr.first_name) or (left.first or None), _show(rr.first_name) or (right.first or None)),
        (_show(lr.last_name) or (left.last or None), _show(rr.last_name) or (right.last or None)),
        (lr.birth_date, rr.birth_date),
        (lr.company_name or lr.company_ref, rr.company_name or rr.company_ref),
        (", ".join(left.domains) or None, ", ".join(right.domains) or None),
        (lr.job_title, rr.job_title),
        (", ".join(lr.phones) or None, ", ".join(rr.phones) or None),
        (_show(lr.postcode, lr.city, lr.region, lr.country), _show(rr.postcode, rr.city, rr.region, rr.country)),
        (lr.street, rr.street),
    ]
    for index, (spec, level) in enumerate(zip(PEOPLE_LEVELS, vector, strict=True)):
        name = spec[0]
        lv, rv = values[index]
        detail: str | None = None
        if level >= 0:
            detail = spec[2][level][1]
            if name in ("first_name", "last_name") and level == 0 and _accents_only(lv, rv):
                detail = "accents"
            if (
                name in ("first_name", "last_name")
                and left.first
                and left.first == right.last
                and (left.last == right.first)
                and left.first != left.last
            ):
                detail = "swapped"
            if (
                name == "company"
                and level == 1
                and lr.company_name
                and rr.company_name
                and fold_word(lr.company_name) != fold_word(rr.company_name)
            ):
                detail = "legal_form"
        out.append((name, spec[1], lv, rv, detail))
    return out


# ---------------------------------------------------------------- companies


def company_vector(left: CompanyFeatures, right: CompanyFeatures, shared: SharedCount = no_sharing) -> list[int]:
    """The level of every company comparison for one pair (``-1`` = missing), in ``COMPANY_LEVELS`` order."""
    profile = -1
    if left.profile and right.profile:
        profile = 0 if left.profile == right.profile else 1
    name = company_level(left.name, right.name) if left.name and right.name else -1
    domain = -1
    if left.domains and right.domains:
        domain = 0 if any(d in right.domains for d in left.domains) else 1
    phone = _shared_level(left.phones, right.phones, "t", shared)
    place = _place_level(
        left.postcode, left.city, left.region, left.country, right.postcode, right.city, right.region, right.country
    )
    street = _street_level(left.street, right.street) if left.street and right.street else -1
    industry = (0 if left.industry == right.industry else 1) if left.industry and right.industry else -1
    size = -1
    if left.size and right.size:
        ratio = max(left.size, right.size) / min(left.size, right.size)
        size = 0 if ratio <= 2.5 else 1
    return [profile, name, domain, phone, place, street, industry, size, people_level(left.people, right.record.id)]


def people_level(employers: tuple[str, ...], company_id: str) -> int:
    """The "shared people" level of an account whose tied people have these ``employers`` (one per person with a
    known employer) against the workspace company ``company_id``: 0 when two or more of them work there, 1 when
    one does, 2 when none does, -1 (missing) when no employer is known."""
    if not employers:
        return -1
    shared = employers.count(company_id)
    return 0 if shared >= 2 else 1 if shared == 1 else 2


def company_keys(f: CompanyFeatures) -> list[str]:
    """Blocking keys of a company: profile, domains, phone, the normalised name, each of its words, its sound."""
    keys: list[str] = []
    if f.profile:
        keys.append("p:" + f.profile)
    for domain in f.domains:
        keys.append("d:" + domain)
    for phone in f.phones:
        keys.append("t:" + phone)
    if f.name:
        keys.append("n:" + f.name)
        words = f.name.split()
        for word in dict.fromkeys(words):
            if len(word) >= 2:
                keys.append("w:" + word)
        keys.append("m:" + metaphone(words[0]))
        squashed = "".join(words)
        if len(words) > 1:
            keys.append("w:" + squashed)  # "micro soft" meets "microsoft"
    return keys


def explain_company(
    left: CompanyFeatures, right: CompanyFeatures, vector: list[int]
) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """Per comparison (in ``COMPANY_LEVELS`` order): (name, field, left value, right value, detail)."""
    lr, rr = left.record, right.record
    values: list[tuple[str | None, str | None]] = [
        (lr.profile_url, rr.profile_url),
        (lr.name, rr.name),
        (", ".join(left.domains) or None, ", ".join(right.domains) or None),
        (lr.phone, rr.phone),
        (_show(lr.postcode, lr.city, lr.region, lr.country), _show(rr.postcode, rr.city, rr.region, rr.country)),
        (lr.street, rr.street),
        (lr.industry, rr.industry),
        (
            None if lr.employee_count is None else str(lr.employee_count),
            None if rr.employee_count is None else str(rr.employee_count),
        ),
        # Shared people: how many of the account's people work at the company, of how many with a known employer.
        (str(left.people.count(rr.id)), str(len(left.people))) if left.people else (None, None),
    ]
    out: list[tuple[str, str, str | None, str | None, str | None]] = []
    for index, (spec, level) in enumerate(zip(COMPANY_LEVELS, vector, strict=True)):
        lv, rv = values[index]
        detail: str | None = None
        if level >= 0:
            detail = spec[2][level][1]
            if spec[0] == "name" and level == 0 and lv and rv and fold_word(lv) != fold_word(rv):
                detail = "legal_form"
            elif spec[0] == "name" and level == 0 and _accents_only(lv, rv):
                detail = "accents"
        out.append((spec[0], spec[1], lv, rv, detail))
    return out
