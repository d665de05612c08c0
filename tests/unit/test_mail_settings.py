"""The SMTP settings (``SALESBRIDGE_SMTP_*``) and the mailer bootstrap builds from them: the password stays a
secret, a host needs a sender, and without a host messages are printed instead of sent."""

from __future__ import annotations

import pytest

from salesbridge.bootstrap import load_settings, mailer
from salesbridge.errors import ConfigError
from salesbridge.mail import PrintingMailer, SmtpMailer


def test_an_smtp_host_gives_an_smtp_mailer_and_the_password_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBRIDGE_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("SALESBRIDGE_SMTP_PORT", "465")
    monkeypatch.setenv("SALESBRIDGE_SMTP_TLS", "tls")
    monkeypatch.setenv("SALESBRIDGE_SMTP_USERNAME", "salesbridge")
    monkeypatch.setenv("SALESBRIDGE_SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("SALESBRIDGE_SMTP_SENDER", "Salesbridge <salesbridge@example.com>")
    settings = load_settings()
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2-smtp"
    assert "hunter2-smtp" not in repr(settings)
    built = mailer(settings)
    assert isinstance(built, SmtpMailer)
    assert built.sends


def test_without_an_smtp_host_messages_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESBRIDGE_SMTP_HOST", raising=False)
    built = mailer(load_settings())
    assert isinstance(built, PrintingMailer)
    assert not built.sends


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SALESBRIDGE_SMTP_HOST": "smtp.example.com"}, "SALESBRIDGE_SMTP_SENDER is required"),
        ({"SALESBRIDGE_SMTP_PASSWORD": "x"}, "SALESBRIDGE_SMTP_PASSWORD needs SALESBRIDGE_SMTP_USERNAME"),
        ({"SALESBRIDGE_SMTP_TLS": "ssl"}, "SALESBRIDGE_SMTP_TLS"),
    ],
)
def test_incomplete_smtp_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()
