"""The rules that tie a seat holder to a CRM user, decide who may be offered a seat, and show "In CRM"."""

from __future__ import annotations

import pytest

from salesbridge.domain.seat_matching import (
    CrmUserFacts,
    CrmUserIndex,
    MatchOutcome,
    SeatHolderFacts,
    SeatMatchResult,
    is_in_crm,
)


def crm_user(key: str, email: str | None, **overrides: object) -> CrmUserFacts:
    values: dict[str, object] = {
        "key": key,
        "email": email,
        "entra_object_id": None,
        "is_disabled": False,
        "is_application": False,
        "access_mode": 0,
    }
    values.update(overrides)
    return CrmUserFacts(**values)  # type: ignore[arg-type]


def test_the_entra_object_id_wins_over_the_email() -> None:
    index = CrmUserIndex(
        [
            crm_user("by-email", "ana@acme.example"),
            crm_user("by-object-id", "ana.old@acme.example", entra_object_id="AAAA-1111"),
        ]
    )

    result = index.match(SeatHolderFacts(email="ana@acme.example", entra_object_id="aaaa-1111"))

    assert result == SeatMatchResult(MatchOutcome.ENTRA_OBJECT_ID, "by-object-id")


def test_emails_match_ignoring_case_and_surrounding_spaces() -> None:
    index = CrmUserIndex([crm_user("ana", " Ana.Garcia@Acme.example ")])

    assert index.match(SeatHolderFacts(email="ana.garcia@acme.EXAMPLE")) == SeatMatchResult(MatchOutcome.EMAIL, "ana")


def test_an_unknown_email_is_not_matched() -> None:
    index = CrmUserIndex([crm_user("ana", "ana@acme.example")])

    assert index.match(SeatHolderFacts(email="bruno@acme.example")).outcome is MatchOutcome.NO_CRM_USER


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({"is_disabled": True}, MatchOutcome.CRM_USER_DISABLED),
        ({"is_application": True}, MatchOutcome.APPLICATION_USER),
        ({"access_mode": 4}, MatchOutcome.APPLICATION_USER),
        ({"access_mode": 3}, MatchOutcome.APPLICATION_USER),
    ],
)
def test_a_crm_user_that_cannot_be_used_is_named_with_the_reason(
    overrides: dict[str, object], outcome: MatchOutcome
) -> None:
    index = CrmUserIndex([crm_user("found", "ana@acme.example", **overrides)])

    result = index.match(SeatHolderFacts(email="ana@acme.example"))

    assert result == SeatMatchResult(outcome, "found")
    assert not result.outcome.is_matched


def test_an_enabled_person_is_preferred_to_a_disabled_namesake() -> None:
    index = CrmUserIndex([crm_user("old", "ana@acme.example", is_disabled=True), crm_user("new", "ana@acme.example")])

    assert index.match(SeatHolderFacts(email="ana@acme.example")) == SeatMatchResult(MatchOutcome.EMAIL, "new")


def test_two_enabled_people_sharing_an_email_are_ambiguous() -> None:
    index = CrmUserIndex([crm_user("one", "team@acme.example"), crm_user("two", "TEAM@acme.example")])

    assert index.match(SeatHolderFacts(email="team@acme.example")) == SeatMatchResult(MatchOutcome.AMBIGUOUS_EMAIL)


@pytest.mark.parametrize(
    ("overrides", "assignable"),
    [
        ({}, True),
        ({"is_disabled": True}, False),
        ({"is_application": True}, False),
        ({"access_mode": 4}, False),
        ({"access_mode": 5}, False),
        ({"email": None}, False),
        ({"email": "  "}, False),
        ({"access_mode": None}, True),
    ],
)
def test_only_enabled_people_with_an_email_are_offered_a_seat(overrides: dict[str, object], assignable: bool) -> None:
    values: dict[str, object] = {"email": "ana@acme.example"}
    values.update(overrides)
    email = values.pop("email")
    assert crm_user("ana", email, **values).is_assignable is assignable  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "sync_all", "seat_sync", "connected", "badge"),
    [
        (MatchOutcome.EMAIL, True, False, True, True),
        (MatchOutcome.ENTRA_OBJECT_ID, False, True, True, True),
        (MatchOutcome.EMAIL, False, False, True, False),
        (MatchOutcome.EMAIL, True, True, False, False),
        (MatchOutcome.NO_CRM_USER, True, True, True, False),
        (MatchOutcome.CRM_USER_DISABLED, True, True, True, False),
    ],
)
def test_the_in_crm_badge_needs_a_match_sync_on_and_a_connection(
    outcome: MatchOutcome, sync_all: bool, seat_sync: bool, connected: bool, badge: bool
) -> None:
    assert (
        is_in_crm(outcome=outcome, sync_all_seats=sync_all, seat_sync_enabled=seat_sync, connected=connected) is badge
    )
