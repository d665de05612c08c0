"""TLS material of the sandbox: a throwaway certificate authority and a server certificate it signs.

Every start generates a fresh local CA (with ``trustme``) and a server certificate for the loopback names —
except a sandbox kept in a file (``--db``), which keeps the certificate it wrote before (:func:`load_tls_material`):
a restarted organization must still be trusted by the workspaces connected to it (they store its ``ca.pem``), as a
restarted Dynamics keeps its certificate.
Only the CA *certificate* is written (``ca.pem``, the bundle clients trust); the CA's private key lives in
memory and is gone when the process exits, so nothing written here can mint further trusted certificates.
The server's own key (``server.key``) is written with mode 0600.

Clients must be told to trust ``ca.pem``: ``verify=`` for ``requests``/MSAL, ``connection_verify=`` for
azure-core, ``ssl.create_default_context(cafile=…)`` for aiohttp/httpx, or ``REQUESTS_CA_BUNDLE`` /
``SSL_CERT_FILE`` for clients that expose no such option.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography.exceptions import InvalidSignature

CA_BUNDLE_NAME = "ca.pem"
CERT_CHAIN_NAME = "server.pem"
PRIVATE_KEY_NAME = "server.key"
DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the files :func:`create_tls_material` wrote.

    Attributes:
        directory: The directory holding the three files.
        ca_bundle: ``ca.pem`` — the throwaway CA's certificate; the only file clients need (to trust it).
        cert_chain: ``server.pem`` — the server certificate followed by any intermediates (PEM).
        private_key: ``server.key`` — the server certificate's private key (PEM, mode 0600).
        hosts: The DNS names and IP addresses the server certificate is valid for.
    """

    directory: Path
    ca_bundle: Path
    cert_chain: Path
    private_key: Path
    hosts: tuple[str, ...]

    def client_context(self) -> ssl.SSLContext:
        """A client-side SSL context that trusts exactly this CA (for httpx, aiohttp, urllib)."""
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def server_context(self) -> ssl.SSLContext:
        """A server-side SSL context presenting the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_chain), str(self.private_key))
        return context


def _material(directory: Path, hosts: tuple[str, ...]) -> TlsMaterial:
    return TlsMaterial(
        directory=directory,
        ca_bundle=directory / CA_BUNDLE_NAME,
        cert_chain=directory / CERT_CHAIN_NAME,
        private_key=directory / PRIVATE_KEY_NAME,
        hosts=hosts,
    )


def load_tls_material(directory: Path, hosts: Sequence[str] = DEFAULT_HOSTS) -> TlsMaterial | None:
    """The material :func:`create_tls_material` wrote into ``directory`` before, when its three files are there and
    the server certificate, signed by ``ca.pem``, covers every one of ``hosts`` for at least another day; else None
    (the caller creates new material)."""
    from cryptography import x509

    names = tuple(hosts)
    material = _material(directory, names)
    try:
        leaf = x509.load_pem_x509_certificate(material.cert_chain.read_bytes())
        authority = x509.load_pem_x509_certificate(material.ca_bundle.read_bytes())
        material.server_context()  # the key matches the certificate
        leaf.verify_directly_issued_by(authority)
        alternative = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, ssl.SSLError, x509.ExtensionNotFound, InvalidSignature):
        return None
    covered = {str(value) for value in alternative.get_values_for_type(x509.IPAddress)}
    covered |= set(alternative.get_values_for_type(x509.DNSName))
    fresh = leaf.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)
    return material if fresh and set(names) <= covered else None


def create_tls_material(directory: Path, hosts: Sequence[str] = DEFAULT_HOSTS) -> TlsMaterial:
    """Generate a new local CA and a server certificate for ``hosts``, and write them into ``directory``.

    Args:
        directory: Where to write ``ca.pem``, ``server.pem`` and ``server.key``; created if missing.
            Existing files of those names are replaced atomically.
        hosts: Names the server certificate covers (DNS names and/or IP addresses); at least one.

    Returns:
        The paths of the written files.

    Raises:
        ValueError: ``hosts`` is empty.
    """
    names = tuple(hosts)
    if not names:
        raise ValueError("A server certificate needs at least one host name or address.")
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="salesbridge sandbox", organization_unit_name="throwaway local CA")
    leaf = authority.issue_cert(*names, common_name=names[0])
    material = _material(directory, names)
    write_file_atomically(material.private_key, leaf.private_key_pem.bytes(), mode=0o600)
    write_file_atomically(material.cert_chain, b"".join(blob.bytes() for blob in leaf.cert_chain_pems), mode=0o644)
    write_file_atomically(material.ca_bundle, authority.cert_pem.bytes(), mode=0o644)
    return material


def write_file_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one.

    The content goes to a temporary file in the same directory, created with ``mode`` from the start (never
    more permissive), is flushed to disk, then renamed over ``path``.

    Args:
        path: The destination; its directory must exist.
        data: The complete content.
        mode: Permission bits of the new file (e.g. ``0o600`` for secrets).
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
