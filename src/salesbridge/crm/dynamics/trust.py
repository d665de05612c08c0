"""Which certificate authorities a connection to Dynamics trusts: the system's, or PEM certificates held in memory.

A connection's CAs travel as content, never as a path an administrator chose: an organization's administrator must
not be able to make the server open files. The operator offers bundles by name from a directory of their own
(:class:`CaBundleDirectory`); administrators may also upload PEM text. Both end as :class:`CaCertificates`.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from requests.adapters import HTTPAdapter

from salesbridge.domain.workspace import MAX_PEM_CHARS
from salesbridge.errors import CaBundleError

_BUNDLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BUNDLE_SUFFIXES = (".pem", ".crt")


@dataclass(frozen=True)
class CaCertificates:
    """PEM certificates of the CAs to trust instead of the system's.

    Raises:
        CaBundleError: ``pem`` holds no certificate, a malformed one, or is larger than :data:`MAX_PEM_CHARS`.
    """

    pem: str

    def __post_init__(self) -> None:
        if len(self.pem) > MAX_PEM_CHARS or "-----BEGIN CERTIFICATE-----" not in self.pem:
            raise CaBundleError()
        try:
            x509.load_pem_x509_certificates(self.pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise CaBundleError() from None

    @classmethod
    def from_file(cls, path: Path) -> CaCertificates:
        """The certificates of the PEM file at ``path`` (for the operator's tools, never an administrator's input).

        Raises:
            OSError: the file cannot be read.
            CaBundleError: it holds no valid PEM certificate.
        """
        return cls(path.read_text(encoding="ascii", errors="replace"))

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context verifying peers against these CAs only (hostnames checked)."""
        return ssl.create_default_context(cadata=self.pem)


def trusted_cas(ca_bundle: Path | CaCertificates | None) -> CaCertificates | None:
    """``ca_bundle`` as certificates: a path (operator's tools and tests) is read; None means the system's CAs.

    Raises:
        OSError: the path cannot be read.
        CaBundleError: no valid PEM certificate.
    """
    if isinstance(ca_bundle, Path):
        return CaCertificates.from_file(ca_bundle)
    return ca_bundle


def client_ssl_context(cas: CaCertificates | None) -> ssl.SSLContext:
    """A client TLS context trusting ``cas``, or the system's CAs when None."""
    return cas.ssl_context() if cas is not None else ssl.create_default_context()


class PinnedTrustAdapter(HTTPAdapter):
    """A ``requests`` transport that verifies servers against given CAs only, whatever ``verify`` or the
    environment (``REQUESTS_CA_BUNDLE``, psf/requests#3829) say."""

    def __init__(self, cas: CaCertificates) -> None:
        self._context = cas.ssl_context()
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: Any,  # noqa: ARG002 - requests' signature; the pinned CAs decide
        cert: Any = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, _ = super().build_connection_pool_key_attributes(request, True, cert)
        return host_params, {"cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:  # noqa: ARG002 - requests' signature
        # requests would load its own CA file into the pinned context; verification stays on, with our CAs only.
        conn.cert_reqs = "CERT_REQUIRED"


class CaBundleDirectory:
    """The CA bundles an operator offers to administrators: the ``*.pem`` / ``*.crt`` files of one directory,
    offered by name (the file name without its suffix).

    Args:
        path: The directory; None offers nothing.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def names(self) -> tuple[str, ...]:
        """The names offered, sorted; empty when no directory is configured or it cannot be listed."""
        if self._path is None:
            return ()
        try:
            files = [entry for entry in self._path.iterdir() if entry.suffix.lower() in _BUNDLE_SUFFIXES]
        except OSError:
            return ()
        return tuple(sorted({entry.stem for entry in files if _BUNDLE_NAME.match(entry.stem) and entry.is_file()}))

    def certificates(self, name: str) -> CaCertificates:
        """The certificates of the bundle offered as ``name``.

        Raises:
            CaBundleError: no bundle is offered as ``name``, or it cannot be read or holds no valid certificate
                (the same error for each, so that nothing about the server's files is revealed).
        """
        if self._path is None or name not in self.names():
            raise CaBundleError()
        for suffix in _BUNDLE_SUFFIXES:
            candidate = self._path / f"{name}{suffix}"
            if candidate.is_file():
                try:
                    return CaCertificates.from_file(candidate)
                except OSError:
                    raise CaBundleError() from None
        raise CaBundleError()
