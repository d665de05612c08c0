"""A minimal message catalogue, English and Spanish, keyed by message id.

The interface follows :mod:`gettext` (``translations(locale).gettext(message_id)``) so that Babel/gettext
catalogues can replace this module without touching callers. Message ids are stable dotted names, not English
text; an unknown id is returned unchanged, as ``gettext`` does. Messages may contain ``{name}`` fields, filled
by the caller with :meth:`str.format`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

DEFAULT_LOCALE: Final = "en"
SUPPORTED_LOCALES: Final = ("en", "es")

_CATALOGUES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "en": MappingProxyType(
            {
                "crm.connect.connection_error": "CRM connection error. Try again later.",
                "crm.connect.api_error": "An error occurred with the CRM API. Try again later.",
                "crm.connect.insufficient_privileges": (
                    "Your CRM account doesn't have sufficient access privileges. Check with your CRM administrator."
                ),
                "crm.connect.missing_objects": "The CRM objects required by your company could not be read.",
                "crm.connect.sign_in_rejected": "The sign-in to Microsoft Entra ID was rejected: check {credential}.",
                "crm.connect.different_organization": (
                    "This organization is already connected to another Dynamics organization ({org_url}). "
                    "Its imported data must be purged before connecting a different one; purging arrives with the "
                    "import capability."
                ),
                "crm.connect.success": "Successfully connected, sync in progress",
                "crm.state.connected": "Connected to Microsoft Dynamics",
                "crm.state.failed": "Connection failed",
                "crm.state.disconnected": "Not connected",
                "crm.state.not_configured": "No CRM connection",
                "crm.details.missing_privileges": "Missing privileges",
                "crm.details.missing_objects": "Missing tables, columns or settings",
                "crm.details.reason": "Details",
                "credential.client_secret": "the client secret",
                "credential.client_id": "the client (application) id",
                "credential.tenant_id": "the tenant id",
                "credential.certificate": "the certificate",
                "credential.credentials": "the tenant id, client id and client secret",
            }
        ),
        "es": MappingProxyType(
            {
                "crm.connect.connection_error": "Error de conexión con el CRM. Vuelve a intentarlo más tarde.",
                "crm.connect.api_error": (
                    "Se ha producido un error con la API del CRM. Vuelve a intentarlo más tarde."
                ),
                "crm.connect.insufficient_privileges": (
                    "Tu cuenta de CRM no tiene suficientes privilegios de acceso. Consulta a tu administrador de CRM."
                ),
                "crm.connect.missing_objects": "No se han podido leer los objetos de CRM exigidos por tu empresa.",
                "crm.connect.sign_in_rejected": (
                    "Microsoft Entra ID ha rechazado el inicio de sesión: comprueba {credential}."
                ),
                "crm.connect.different_organization": (
                    "Esta organización ya está conectada a otra organización de Dynamics ({org_url}). "
                    "Hay que purgar sus datos importados antes de conectar otra; la purga llegará con la "
                    "funcionalidad de importación."
                ),
                "crm.connect.success": "Conexión realizada, sincronización en curso",
                "crm.state.connected": "Conectado a Microsoft Dynamics",
                "crm.state.failed": "Error de conexión",
                "crm.state.disconnected": "Sin conectar",
                "crm.state.not_configured": "Sin conexión con el CRM",
                "crm.details.missing_privileges": "Privilegios que faltan",
                "crm.details.missing_objects": "Tablas, columnas o ajustes que faltan",
                "crm.details.reason": "Detalles",
                "credential.client_secret": "el secreto de cliente",
                "credential.client_id": "el id. de cliente (aplicación)",
                "credential.tenant_id": "el id. de inquilino",
                "credential.certificate": "el certificado",
                "credential.credentials": "el id. de inquilino, el id. de cliente y el secreto de cliente",
            }
        ),
    }
)


class Translations:
    """The messages of one locale, with the :class:`gettext.NullTranslations` lookup method."""

    def __init__(self, locale: str, messages: Mapping[str, str]) -> None:
        self.locale = locale
        self._messages = messages

    def gettext(self, message: str) -> str:
        """The translation of ``message`` (a message id); ``message`` itself when the catalogue lacks it."""
        return self._messages.get(message, message)


def translations(locale: str) -> Translations:
    """The catalogue of ``locale`` (``es``, ``es-ES`` and ``es_ES`` all mean Spanish).

    Raises:
        ValueError: the locale is not one of :data:`SUPPORTED_LOCALES`.
    """
    language = locale.replace("_", "-").split("-")[0].lower()
    if language not in _CATALOGUES:
        raise ValueError(f"Unsupported locale {locale!r}: use one of {', '.join(SUPPORTED_LOCALES)}.")
    return Translations(language, _CATALOGUES[language])


def translate(message_id: str, locale: str = DEFAULT_LOCALE) -> str:
    """``translations(locale).gettext(message_id)``.

    Raises:
        ValueError: as :func:`translations`.
    """
    return translations(locale).gettext(message_id)
