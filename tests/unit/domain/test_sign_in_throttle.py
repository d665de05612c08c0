"""The throttling rules and subjects of sign-in, and the password strength rule: pure, fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salesbridge.domain.password_strength import PasswordWeakness, password_weakness
from salesbridge.domain.sign_in_throttle import ThrottleRule, account_subject, address_subject

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULE = ThrottleRule(3, timedelta(minutes=15))


def test_an_attempt_waits_for_the_oldest_counted_failure_to_leave_the_window() -> None:
    failures = [NOW - timedelta(minutes=20), NOW - timedelta(minutes=10), NOW - timedelta(minutes=5), NOW]

    assert RULE.retry_at(failures[:3], NOW) is None  # the 20-minute-old one no longer counts
    assert RULE.retry_at(failures, NOW) == NOW - timedelta(minutes=10) + timedelta(minutes=15)
    assert RULE.retry_at(failures, NOW + timedelta(minutes=5)) is None


def test_more_failures_than_the_limit_wait_for_all_but_limit_minus_one_to_leave() -> None:
    failures = [NOW - timedelta(minutes=minutes) for minutes in (9, 8, 7, 6, 5)]

    assert RULE.retry_at(failures, NOW) == NOW - timedelta(minutes=7) + timedelta(minutes=15)


def test_a_rule_needs_a_limit_and_a_window() -> None:
    with pytest.raises(ValueError):
        ThrottleRule(0, timedelta(minutes=1))
    with pytest.raises(ValueError):
        ThrottleRule(1, timedelta(0))


def test_accounts_are_counted_as_typed_ignoring_case_and_spaces() -> None:
    assert account_subject(" Acme ", "Ana@Acme.test ") == account_subject("acme", "ana@acme.test")
    assert account_subject("acme", "ana@acme.test") != account_subject("acme", "ana@acme.tes")
    assert len(account_subject("acme", "ana@acme.test")) == 64


def test_ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_subject("2001:db8:1:2:aaaa::1") == address_subject("2001:db8:1:2:ffff::9")
    assert address_subject("2001:db8:1:2::1") != address_subject("2001:db8:1:3::1")
    assert address_subject("::ffff:192.0.2.7") == address_subject("192.0.2.7")
    assert address_subject("192.0.2.7") != address_subject("192.0.2.8")
    assert address_subject("testclient") != address_subject("192.0.2.7")


@pytest.mark.parametrize(
    ("password", "weakness"),
    [
        ("a" * 100, PasswordWeakness.REPEATS),
        ("abcdefghijklmn", PasswordWeakness.SEQUENCE),
        ("password1234", PasswordWeakness.COMMON_PASSWORD),
        ("tulip harbour violin seventeen " * 30, None),  # beyond zxcvbn's 72 characters: judged on the first 72
        ("correct horse battery staple", None),
    ],
)
def test_password_weakness(password: str, weakness: PasswordWeakness | None) -> None:
    assert password_weakness(password) is weakness


def test_the_persons_own_words_make_a_password_weak() -> None:
    assert password_weakness("newbie123456") is PasswordWeakness.COMMON_PASSWORD
    assert password_weakness("newbie123456", personal=["newbie@acme.test"]) is PasswordWeakness.PERSONAL
