"""Companies compared by shared people (issue 13, section 2: "the contact's account and its match count as
evidence"): an account whose contacts are tied to workspace people employed by a company is evidence that the
account is that company. Pure: the engine only, no store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from salesbridge.matching import Band, CompanyRecord, FieldReason, Matcher, MatchModel
from salesbridge.matching.compare import people_level
from salesbridge.matching.model import default_model
from salesbridge.web.localized import match_reason_text

# The benchmark's one miss before shared people (demo10k_companies, run 6): the CRM account "Cóndor Auditores
# S.A." of Buenos Aires and the workspace's two companies of that name in Buenos Aires, as the demo generator made
# them (CRM seed scale:10000, workspace seed 13). The true one has no website; the other's website is another's.
CONDOR = CompanyRecord(
    id="fdde17df-09db-4c38-bb07-ea1ac47e9b79",
    name="Cóndor Auditores S.A.",
    website="https://www.condor886.com.ar",
    phone="+54 11 1000886",
    employee_count=6171,
    email_domains=("condor886.com.ar",),
    city="Buenos Aires",
    region="CABA",
    country="Argentina",
)
TRUE_CONDOR = CompanyRecord(
    id="wc-acabdaabf777",
    name="Cóndor Auditores",
    industry="Accounting",
    profile_url="https://www.linkedin.com/company/condorauditores",
    city="Buenos Aires",
    country="Argentina",
)
OTHER_CONDOR = CompanyRecord(
    id="wc-56c10cf1a810",
    name="Cóndor Auditores",
    website="condor588.com.ar",
    phone="+54111000588",
    industry="Accounting",
    employee_count=99,
    profile_url="https://www.linkedin.com/company/condorauditores",
    city="Buenos Aires",
    region="CABA",
    country="Argentina",
)
_WORDS = ("Pampa", "Andes", "Plata", "Delta", "Puna", "Litoral", "Cuyo", "Iguazu", "Parana", "Ceibo")
_TRADES = (
    "Consultores",
    "Logística",
    "Servicios",
    "Seguros",
    "Energía",
    "Textil",
    "Agro",
    "Medios",
    "Capital",
    "Salud",
)


def _workspace() -> list[CompanyRecord]:
    """The two namesakes among 1,075 companies, 51 of them in Buenos Aires, as in the benchmark's set."""
    others = [
        CompanyRecord(
            id=f"wc-{at:04d}",
            name=f"{_WORDS[at % 10]} {_TRADES[at // 10 % 10]} {at}",
            city="Buenos Aires" if at < 49 else "Madrid",
            country="Argentina" if at < 49 else "Spain",
        )
        for at in range(1073)
    ]
    return [TRUE_CONDOR, OTHER_CONDOR, *others]


def _without_people(model: MatchModel) -> MatchModel:
    return replace(model, comparisons=tuple(c for c in model.comparisons if c.name != "people"))


@pytest.mark.parametrize(
    ("employers", "company", "level"),
    [
        ((), "w1", -1),  # no tied person with a known employer: no evidence either way
        (("w1",), "w1", 1),
        (("w2", "w1"), "w1", 1),
        (("w1", "w2", "w1"), "w1", 0),
        (("w2", "w2"), "w1", 2),  # people known to work elsewhere
    ],
)
def test_the_level_counts_the_tied_people_employed_by_the_company(
    employers: tuple[str, ...], company: str, level: int
) -> None:
    assert people_level(employers, company) == level


def test_the_condor_account_links_to_its_company_once_its_people_are_known_to_work_there() -> None:
    matcher = Matcher.companies()
    workspace = _workspace()

    before = matcher.link([CONDOR], workspace).decisions
    assert not [d for d in before if d.band is Band.MATCH], "name and city alone, with a namesake: not automatic"

    account = replace(CONDOR, people_refs=(TRUE_CONDOR.id,) * 4)  # four of its contacts' people work there
    (decision,) = matcher.link([account], workspace).decisions
    assert (decision.right_id, decision.band) == (TRUE_CONDOR.id, Band.MATCH)
    assert decision.probability >= 0.99
    people = next(reason for reason in decision.reasons if reason.field == "people")
    assert (people.level, people.left, people.right) == ("exact", "4", "4")
    assert people.weight > 8


def test_people_working_at_the_namesake_do_not_tie_the_account_to_the_wrong_company() -> None:
    # Two of the account's people work at the other Cóndor and one at the true one: the other's website, phone and
    # size still disagree with the account's, so the true one stays the better candidate.
    account = replace(CONDOR, people_refs=(OTHER_CONDOR.id, OTHER_CONDOR.id, TRUE_CONDOR.id))
    decisions = Matcher.companies().link([account], _workspace()).decisions
    assert [(d.right_id, d.band) for d in decisions] == [(TRUE_CONDOR.id, Band.MATCH)]


def test_people_known_to_work_elsewhere_count_against_the_company() -> None:
    matcher = Matcher.companies()
    alone = matcher.score(CONDOR, TRUE_CONDOR)
    elsewhere = matcher.score(replace(CONDOR, people_refs=("wc-0001", "wc-0002")), TRUE_CONDOR)
    assert elsewhere.weight < alone.weight
    people = next(reason for reason in elsewhere.reasons if reason.field == "people")
    assert (people.level, people.left, people.right) == ("different", "0", "2")


def test_without_employer_ids_every_decision_is_what_it_was_before_shared_people() -> None:
    workspace = _workspace()
    accounts = [CONDOR, replace(CONDOR, id="a2", name="Pampa Consultores 0", website=None, phone=None)]
    current = Matcher.companies().link(accounts, workspace).decisions
    earlier = Matcher.companies(model=_without_people(default_model("companies"))).link(accounts, workspace).decisions
    assert current == earlier
    assert all(reason.field != "people" for decision in current for reason in decision.reasons)


def test_a_model_stored_before_shared_people_still_scores_with_them() -> None:
    stored = _without_people(default_model("companies"))  # an organization's model from an earlier run
    matcher = Matcher.companies(model=MatchModel.from_dict(stored.to_dict()))
    assert [c.name for c in matcher.model.comparisons] == [c.name for c in default_model("companies").comparisons]
    decision = matcher.score(replace(CONDOR, people_refs=(TRUE_CONDOR.id,) * 2), TRUE_CONDOR)
    assert any(reason.field == "people" and reason.level == "exact" for reason in decision.reasons)


@pytest.mark.parametrize(
    ("locale", "left", "right", "text"),
    [
        ("en", "3", "4", "Shared people: 3 of its contacts work here (4 with a known employer)"),
        ("en", "1", "1", "Shared people: 1 of its contacts works here (1 with a known employer)"),
        ("en", "0", "2", "Shared people: none of its contacts works here (2 with a known employer)"),
        ("es", "3", "4", "Personas en común: 3 de sus contactos trabajan aquí (4 con empresa conocida)"),
        ("es", "1", "1", "Personas en común: 1 de sus contactos trabaja aquí (1 con empresa conocida)"),
        ("es", "0", "2", "Personas en común: ninguno de sus contactos trabaja aquí (2 con empresa conocida)"),
    ],
)
def test_the_explanation_line_says_how_many_of_the_accounts_people_work_there(
    locale: str, left: str, right: str, text: str
) -> None:
    reason = FieldReason("people", "exact" if left != "0" else "different", None, 8.0, left, right)
    assert match_reason_text(reason, locale) == text
