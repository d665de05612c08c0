"""ActivityDraft's checks that keep an activity Dynamics would refuse out of the outbox (found by QA): a call's text
fits the phone call's 2,000-character description, and the time is one Dataverse can hold (1753 or later)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from salesbridge.domain.writeback import (
    MAX_CALL_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    ActivityDraft,
    DataItem,
    Direction,
    dataverse_length,
)
from salesbridge.errors import InvalidInputError

WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _draft(item: DataItem = DataItem.CALL, *, body: str = "Called", at: datetime = WHEN) -> ActivityDraft:
    return ActivityDraft(
        client_id="c",
        item=item,
        person_id=uuid.uuid4(),
        company_id=None,
        subject=None,
        body=body,
        direction=Direction.OUTGOING,
        occurred_at=at,
    )


def test_a_calls_text_fits_the_phone_calls_description() -> None:
    assert len(_draft(body="x" * MAX_CALL_BODY_LENGTH).body) == 2000
    with pytest.raises(InvalidInputError) as refused:
        _draft(body="x" * (MAX_CALL_BODY_LENGTH + 1))
    assert refused.value.field == "body"
    assert refused.value.localized("en") == "A call's text holds at most 2000 characters in Dynamics: shorten it."
    assert len(_draft(DataItem.NOTE, body="x" * 50_000).body) == 50_000  # other items keep their own limit


@pytest.mark.parametrize(
    "at",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # before Python's first UTC time: no overflow
        datetime(1752, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1753, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # 1752 in UTC
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),  # the year 10000 in UTC: no overflow
    ],
)
def test_a_time_outside_dataverses_dates_is_refused(at: datetime) -> None:
    with pytest.raises(InvalidInputError) as refused:
        _draft(at=at)
    assert refused.value.field == "occurred_at"
    assert refused.value.localized("en") == "The activity's time must be between the years 1753 and 9999."


def test_the_first_and_last_dates_dataverse_holds_are_accepted() -> None:
    assert _draft(at=datetime(1753, 1, 1, tzinfo=UTC)).occurred_at.year == 1753
    assert _draft(at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC)).occurred_at.year == 9999


def test_lengths_count_as_dataverse_does_an_emoji_twice() -> None:
    """Found by QA: Dataverse checks MaxLength in UTF-16 code units; a message whose first line was 199 letters and
    an emoji got a 201-unit subject, which Dynamics refuses (0x80044331)."""
    assert dataverse_length("a😀é") == 4
    first_line = "a" * 199 + "😀" + " and more"
    message = _draft(DataItem.MESSAGE, body=first_line)
    assert message.title == "a" * 199  # cut before the emoji, never inside it
    assert dataverse_length(message.title) <= MAX_SUBJECT_LENGTH
    with pytest.raises(InvalidInputError) as refused:
        _draft(body="😀" * 1001)  # 1,001 characters, 2,002 code units: over a call's 2,000
    assert refused.value.field == "body"
    with pytest.raises(InvalidInputError):
        ActivityDraft(
            client_id="s",
            item=DataItem.NOTE,
            person_id=uuid.uuid4(),
            company_id=None,
            subject="😀" * 101,
            body="x",
            direction=Direction.OUTGOING,
            occurred_at=WHEN,
        )
