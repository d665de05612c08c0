"""Encryption of CRM credentials at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from settings (``credential_key``) or from a key file that is generated on first use with mode 0600.
Plain secrets exist only as ``SecretStr`` in memory; nothing here logs a key or a secret, and error messages name
files, never their contents.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from salesbridge.errors import CredentialKeyError, UndecryptableSecretError
from salesbridge.settings import Settings

_UNSAFE_MODE_BITS = stat.S_IRWXG | stat.S_IRWXO


class CredentialCipher:
    """Encrypts and decrypts credentials with one Fernet key.

    ``repr()`` never shows the key.
    """

    def __init__(self, key: SecretStr) -> None:
        """Raises:
        CredentialKeyError: the key is not a url-safe base64 encoding of 32 bytes.
        """
        try:
            self._fernet = Fernet(key.get_secret_value().encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CredentialKeyError(
                "The credential key is not a valid Fernet key (url-safe base64 of 32 bytes)."
            ) from exc

    def __repr__(self) -> str:
        return "CredentialCipher(key=**********)"

    def encrypt(self, secret: str | SecretStr) -> bytes:
        """Encrypt ``secret``; each call yields a different token (random IV). The result is safe to store."""
        plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        return self._fernet.encrypt(plain.encode("utf-8"))

    def decrypt(self, token: bytes) -> SecretStr:
        """Decrypt a token made by :meth:`encrypt` with the same key.

        Raises:
            UndecryptableSecretError: the token was made with another key, or was altered.
        """
        try:
            return SecretStr(self._fernet.decrypt(token).decode("utf-8"))
        except InvalidToken as exc:
            raise UndecryptableSecretError(
                "A stored credential could not be decrypted with the current credential key "
                "(SALESBRIDGE_CREDENTIAL_KEY, or the file SALESBRIDGE_CREDENTIAL_KEY_FILE names): use the key it was "
                "stored with, or re-enter the credential."
            ) from exc


def generate_key() -> SecretStr:
    """A fresh random Fernet key."""
    return SecretStr(Fernet.generate_key().decode("ascii"))


def load_key_file(path: Path) -> SecretStr:
    """Read the key in ``path``, creating the file with a fresh key and mode 0600 when it does not exist.

    Creation is atomic (written aside, then hard-linked): two processes racing to create it end up with the same
    key. Missing parent folders are created with mode 0700.

    Raises:
        CredentialKeyError: the file is readable or writable by group or others, is not a regular file, or cannot
            be read or created.
    """
    if path.exists():
        return _read_existing_key_file(path)
    key = generate_key()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
            key_file.write(key.get_secret_value())
        try:
            # A hard link publishes the complete file atomically and fails if another process won the race.
            os.link(staging, path)
        except FileExistsError:
            return _read_existing_key_file(path)
        finally:
            staging.unlink()
    except OSError as exc:
        raise CredentialKeyError(f"Cannot create the credential key file {path}: {exc.strerror}.") from exc
    return key


def _read_existing_key_file(path: Path) -> SecretStr:
    try:
        status = path.stat()
    except OSError as exc:
        raise CredentialKeyError(f"Cannot read the credential key file {path}: {exc.strerror}.") from exc
    if not stat.S_ISREG(status.st_mode):
        raise CredentialKeyError(f"The credential key file {path} is not a regular file.")
    if status.st_mode & _UNSAFE_MODE_BITS:
        raise CredentialKeyError(
            f"The credential key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(status.st_mode):04o}); refusing to use it. Run: chmod 600 {path}"
        )
    try:
        return SecretStr(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialKeyError(f"Cannot read the credential key file {path}.") from exc


def cipher_from_settings(settings: Settings) -> CredentialCipher:
    """The cipher for ``settings``: ``credential_key`` when set, else the key in ``credential_key_file``.

    Raises:
        CredentialKeyError: as :func:`load_key_file`, or the key is malformed.
    """
    if settings.credential_key is not None:
        return CredentialCipher(settings.credential_key)
    return CredentialCipher(load_key_file(settings.credential_key_file))
