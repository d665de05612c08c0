"""Client secrets as the sandbox keeps them: salted hashes, compared in constant time (docs/security.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretHash:
    """What is kept of a client secret: a random salt and SHA-256(salt + secret).

    The secrets are random and high-entropy, so a slow password hash would only slow the token endpoint
    down; a presented secret is checked with a constant-time comparison of digests (:meth:`matches`).
    """

    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, secret: str) -> SecretHash:
        """Hash ``secret`` with a fresh 16-byte salt."""
        salt = os.urandom(16)
        return cls(salt, _hash_secret(salt, secret))

    def matches(self, secret: str) -> bool:
        """Whether ``secret`` is the secret hashed (constant time in the digest comparison)."""
        return hmac.compare_digest(self.digest, _hash_secret(self.salt, secret))

    def to_text(self) -> str:
        """``salt_hex:digest_hex``, for storing."""
        return f"{self.salt.hex()}:{self.digest.hex()}"

    @classmethod
    def from_text(cls, text: str) -> SecretHash:
        """Read :meth:`to_text`'s form.

        Raises:
            ValueError: ``text`` is not two hex strings separated by a colon.
        """
        salt, separator, digest = text.partition(":")
        if not separator:
            raise ValueError("A stored secret hash is 'salt_hex:digest_hex'.")
        return cls(bytes.fromhex(salt), bytes.fromhex(digest))


def _hash_secret(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()
