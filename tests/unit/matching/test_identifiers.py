"""Identifiers first (issue 13, section 2): e-mails, registrable domains, profile URLs, phones on their hard cases."""

from __future__ import annotations

import pytest

from salesbridge.matching.identifiers import (
    company_domain,
    is_free_mail,
    normalize_email,
    normalize_phone,
    normalize_profile_url,
    registrable_domain,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Smith@Contoso.COM ", "john.smith@contoso.com"),
        ("mailto:J.Smith@contoso.com?subject=Hi", "j.smith@contoso.com"),
        ("<j.smith@contoso.com>", "j.smith@contoso.com"),
        # Gmail: dots and +tags are not part of the mailbox; googlemail.com is the same provider.
        ("J.O.Hn.Smith+crm@gmail.com", "johnsmith@gmail.com"),
        ("john.smith@googlemail.com", "johnsmith@gmail.com"),
        # Outlook.com: +tags dropped, dots kept (they are significant there).
        ("john.smith+news@outlook.com", "john.smith@outlook.com"),
        # A company server may route on the tag or the dots: kept as written.
        ("john.smith+sales@contoso.com", "john.smith+sales@contoso.com"),
        # Masked and malformed addresses identify nobody.
        ("j***@contoso.com", None),
        ("j\u2022\u2022\u2022@contoso.com", None),
        ("john.smith@", None),
        ("@contoso.com", None),
        ("john@@contoso.com", None),
        ("john..smith@contoso.com", None),
        ("john smith@contoso.com", None),
        ("john@localhost", None),
        ("", None),
        ("+tag@gmail.com", None),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.shop.contoso.co.uk/x", "contoso.co.uk"),
        ("contoso.com.au", "contoso.com.au"),
        ("www.Contoso.COM.", "contoso.com"),
        ("http://contoso.com:8080/path?q=1#f", "contoso.com"),
        ("j.smith@mail.contoso.com", "contoso.com"),
        ("mailto:j.smith@contoso.es", "contoso.es"),
        ("https://user:pw@portal.contoso.com.br", "contoso.com.br"),
        # Free mail is still a registrable domain (of the provider).
        ("someone@gmail.com", "gmail.com"),
        # IP addresses, single labels, unknown suffixes and garbage are not domains.
        ("http://192.168.1.10/", None),
        ("10.0.0.1", None),
        ("http://[2001:db8::1]:8080/", None),
        ("http://[::1", None),
        ("localhost", None),
        ("contoso.notarealtld", None),
        ("co.uk", None),
        ("", None),
    ],
)
def test_registrable_domain(raw: str, expected: str | None) -> None:
    assert registrable_domain(raw) == expected


def test_a_free_mail_domain_never_identifies_a_company() -> None:
    assert company_domain("someone@gmail.com") is None
    assert company_domain("https://www.hotmail.co.uk") is None
    assert company_domain("j@yahoo.co.uk") is None
    assert company_domain("j@contoso.com") == "contoso.com"
    assert is_free_mail("GMAIL.COM")
    assert is_free_mail("mail.yahoo.co.uk")
    assert not is_free_mail("contoso.com")
    # A company whose name merely contains a provider's is not free mail.
    assert not is_free_mail("gmail.contoso.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.linkedin.com/in/john-smith-1a2b", "linkedin.com/in/john-smith-1a2b"),
        ("HTTPS://UK.LinkedIn.com/IN/John-Smith-1a2b/?trk=public_profile#top", "linkedin.com/in/john-smith-1a2b"),
        ("http://es.linkedin.com/in/john-smith-1a2b/", "linkedin.com/in/john-smith-1a2b"),
        ("linkedin.com/in/john-smith-1a2b", "linkedin.com/in/john-smith-1a2b"),
        ("www.linkedin.com/in/john-smith-1a2b/details/experience/", "linkedin.com/in/john-smith-1a2b"),
        ("https://m.linkedin.com/in/john-smith-1a2b?originalSubdomain=uk", "linkedin.com/in/john-smith-1a2b"),
        # Percent-encoded and literal non-ASCII slugs are one key.
        ("https://www.linkedin.com/in/jos%C3%A9-mu%C3%B1oz", "linkedin.com/in/jos\u00e9-mu\u00f1oz"),
        ("https://www.linkedin.com/in/Jos\u00e9-Mu\u00f1oz/", "linkedin.com/in/jos\u00e9-mu\u00f1oz"),
        ("https://www.linkedin.com/company/Contoso-Ltd/about/", "linkedin.com/company/contoso-ltd"),
        ("https://www.linkedin.com/school/contoso-university/", "linkedin.com/school/contoso-university"),
        # Not a profile: other sites, feed pages, short links, bare hosts.
        ("https://notlinkedin.com/in/john", None),
        ("https://www.linkedin.com.evil.example/in/john", None),
        ("https://www.linkedin.com/feed/", None),
        ("https://www.linkedin.com/in/", None),
        ("https://lnkd.in/abc123", None),
        ("https://www.linkedin.com", None),
        ("", None),
    ],
)
def test_normalize_profile_url(raw: str, expected: str | None) -> None:
    assert normalize_profile_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # The UK's "(0)" trunk prefix written after the country code.
        ("+44 (0)20 7946 0958", "ES", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("912 345 678", "ES", "+34912345678"),
        ("+34 912-345-678", None, "+34912345678"),
        # A switchboard reached at an extension is the switchboard's number.
        ("+1 650-253-0000 ext. 204", "GB", "+16502530000"),
        ("(650) 253-0000 x12", "US", "+16502530000"),
        # Invalid: too short, letters, national number without a region, empty.
        ("555", "GB", None),
        ("call me", "GB", None),
        ("912 345 678", None, None),
        ("", "GB", None),
    ],
)
def test_normalize_phone(raw: str, region: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected
