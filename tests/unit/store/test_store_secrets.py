"""The credential key: generated into a 0600 file, refused when others can read it, and never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from salesbridge.errors import ConfigError, CredentialKeyError, UndecryptableSecretError
from salesbridge.settings import Settings
from salesbridge.store.secrets import CredentialCipher, cipher_from_settings, generate_key, load_key_file


def test_a_missing_key_file_is_created_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "credential.key"

    first = cipher_from_settings(Settings(credential_key_file=path))
    token = first.encrypt("hunter2")
    second = cipher_from_settings(Settings(credential_key_file=path))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert second.decrypt(token).get_secret_value() == "hunter2"
    assert [entry.name for entry in path.parent.iterdir()] == ["credential.key"]  # no staging file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660], ids=oct)
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "credential.key"
    load_key_file(path)
    path.chmod(mode)

    with pytest.raises(CredentialKeyError, match="chmod 600") as raised:
        load_key_file(path)

    assert str(path) in str(raised.value)
    assert isinstance(raised.value, ConfigError)
    assert path.read_text() not in str(raised.value)


def test_a_key_file_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credential.key"
    path.mkdir(mode=0o700)
    with pytest.raises(CredentialKeyError, match="not a regular file"):
        load_key_file(path)


def test_the_key_in_settings_wins_over_the_key_file(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "credential.key"

    cipher = cipher_from_settings(Settings(credential_key=key, credential_key_file=path))

    assert not path.exists()
    assert CredentialCipher(key).decrypt(cipher.encrypt("x")).get_secret_value() == "x"


def test_a_malformed_key_is_a_configuration_error() -> None:
    with pytest.raises(CredentialKeyError, match="not a valid Fernet key") as raised:
        CredentialCipher(SecretStr("not-a-key"))
    assert "not-a-key" not in str(raised.value)


def test_encryption_round_trips_and_never_repeats_a_token() -> None:
    cipher = CredentialCipher(generate_key())

    first, second = cipher.encrypt("s3cret"), cipher.encrypt(SecretStr("s3cret"))

    assert first != second
    assert b"s3cret" not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == SecretStr("s3cret")


def test_a_tampered_token_is_refused() -> None:
    cipher = CredentialCipher(generate_key())
    token = bytearray(cipher.encrypt("s3cret"))
    token[-5] ^= 1
    with pytest.raises(UndecryptableSecretError):
        cipher.decrypt(bytes(token))


def test_neither_the_key_nor_the_secret_is_shown() -> None:
    key = generate_key()
    cipher = CredentialCipher(key)
    secret = cipher.decrypt(cipher.encrypt("s3cret"))

    for shown in (repr(cipher), str(cipher), repr(secret), str(secret), repr(Settings(credential_key=key))):
        assert key.get_secret_value() not in shown
        assert "s3cret" not in shown
