"""Seed generators of the sandbox: ``--seed demo`` (a believable sales org) and ``--seed scale:N`` (volume).

Both start from the organization foundation (:func:`~salesbridge.sandbox.organization.build_foundation`)
and are deterministic: the same ``seed`` and the same clock give the same rows, ids included. Record ids
come from ``random.Random`` (``uuid.UUID(int=rng.getrandbits(128), version=4)``), timestamps are relative
to ``state.now()``, and every word (names, companies, cities, subjects) comes from the small lists in
this module — nothing is downloaded.

* :func:`seed_demo` writes a small international sales organization (business units, sellers, teams,
  accounts, contacts, leads, opportunities in every stage, stakeholder connections and two years of past
  activities with their activity parties and ``activitypointer`` rows) through
  :class:`~salesbridge.sandbox.organization.RowWriter`, one row at a time.
* :func:`seed_scale` writes N contacts plus proportional accounts (N/10), leads (N/20) and opportunities
  (N/20) as precomputed tuples through :meth:`Storage.insert_many`, in chunks of
  :data:`SCALE_CHUNK_ROWS` rows, all inside one transaction: a seed is applied completely or not at all.

Each applied seed is remembered in the sandbox's meta table under ``"seed"`` (a comma-separated list such
as ``demo:7,scale:1000:7``); applying the same seed again does nothing, which makes both generators
idempotent on an existing database file.

Only columns the catalogue has (``state.storage.columns(table)``) are written; a table missing from the
catalogue (connections, notes …) is skipped.
"""

from __future__ import annotations

import base64
import math
import random
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from salesbridge.sandbox.catalogue.definitions import AttributeType
from salesbridge.sandbox.odata.values import format_timestamp
from salesbridge.sandbox.organization.foundation import (
    ROOT_BUSINESS_UNIT_ID,
    SALESPERSON_ROLE_ID,
    SYSTEM_ADMINISTRATOR_ROLE_ID,
    RowWriter,
    build_foundation,
)
from salesbridge.sandbox.organization.state import SandboxState

#: Meta key under which the applied seeds are remembered.
SEED_META_KEY = "seed"
#: Mail and UPN domain of the demo organization's users.
USER_DOMAIN = "contoso-sandbox.com"
#: Rows per ``executemany`` call of the scale seed.
SCALE_CHUNK_ROWS = 20_000
#: Largest N accepted by ``scale:N`` (a guard against typos such as ``scale:1e12``).
MAX_SCALE_CONTACTS = 100_000_000
#: How far back created-on dates reach.
HISTORY_DAYS = 730

SeedKind = Literal["none", "demo", "scale"]


# --- public API ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSpec:
    """A parsed ``--seed`` value: ``none``, ``demo`` or ``scale`` with the number of contacts."""

    kind: SeedKind
    contacts: int = 0

    def __str__(self) -> str:
        return f"scale:{self.contacts}" if self.kind == "scale" else self.kind


@dataclass(frozen=True)
class SeedSummary:
    """What a seed wrote: rows per table, wall time, and whether it had already been applied.

    ``counts`` holds only the rows this call inserted (foundation rows excluded); an already-applied seed
    reports ``already_seeded=True`` and no counts.
    """

    kind: str
    counts: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    already_seeded: bool = False

    @property
    def total_rows(self) -> int:
        """Rows inserted over all tables."""
        return sum(self.counts.values())


def parse_seed(text: str) -> SeedSpec:
    """Parse a ``--seed`` value: ``demo``, ``none`` or ``scale:N`` (N ≥ 1, e.g. ``scale:1000000``, ``scale:1e6``).

    Case and surrounding blanks are ignored; N may use ``_`` separators or exponent notation as long as
    it is a whole number no larger than :data:`MAX_SCALE_CONTACTS`.

    Raises:
        ValueError: for anything else, with a message naming the accepted forms.
    """
    value = text.strip().lower()
    if value in ("demo", "none"):
        return SeedSpec(kind="demo" if value == "demo" else "none")
    usage = (
        "expected 'demo', 'none' or 'scale:N' with N a whole number of contacts ≥ 1 (e.g. scale:1000000 or scale:1e6)"
    )
    kind, colon, amount = value.partition(":")
    if kind != "scale" or not colon:
        raise ValueError(f"Unknown seed {text!r}: {usage}.")
    amount = amount.strip()
    try:
        number = int(amount)
    except ValueError:
        try:
            real = float(amount)
        except ValueError:
            raise ValueError(f"Invalid contact count in seed {text!r}: {usage}.") from None
        if not math.isfinite(real) or not real.is_integer():
            raise ValueError(f"Invalid contact count in seed {text!r}: {usage}.") from None
        number = int(real)
    if number < 1:
        raise ValueError(f"Invalid contact count in seed {text!r}: N must be at least 1 ({usage}).")
    if number > MAX_SCALE_CONTACTS:
        raise ValueError(f"Contact count in seed {text!r} is too large: at most {MAX_SCALE_CONTACTS:,}.")
    return SeedSpec(kind="scale", contacts=number)


def apply_seed(
    state: SandboxState, spec: SeedSpec, progress: Callable[[int], None] | None = None
) -> SeedSummary | None:
    """Apply a parsed seed; returns its summary, or None for ``none`` (which writes nothing).

    ``progress`` receives the cumulative number of rows written (for the CLI's progress bar).
    """
    if spec.kind == "demo":
        summary = seed_demo(state)
        if progress is not None:
            progress(summary.total_rows)
        return summary
    if spec.kind == "scale":
        return seed_scale(state, spec.contacts, progress=progress)
    return None


def seed_demo(state: SandboxState, *, seed: int = 7) -> SeedSummary:
    """Seed the demo sales organization (after the foundation, which is built if missing). Idempotent.

    Writes 2 child business units, 13 active sellers and managers, 1 disabled user and 1 application
    user, 2 teams, 60 accounts, 200 contacts, 50 leads, 80 opportunities, stakeholder connections and
    150 past activities and notes, in one transaction. Every human user holds Salesperson; the sales
    director also holds System Administrator.

    Returns:
        The rows written per table; ``already_seeded=True`` (and nothing written) when this seed was
        applied before.
    """
    started = time.perf_counter()
    build_foundation(state)
    token = f"demo:{seed}"
    if _already_applied(state, token):
        return SeedSummary(kind="demo", already_seeded=True, elapsed_seconds=time.perf_counter() - started)
    storage = state.storage
    with storage.transaction():
        builder = _DemoBuilder(state, seed)
        builder.build()
        _remember(state, token)
    counts = dict(sorted(builder.counts.items()))
    return SeedSummary(kind="demo", counts=counts, elapsed_seconds=time.perf_counter() - started)


def seed_scale(
    state: SandboxState,
    contacts: int,
    *,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Seed ``contacts`` contacts plus ⌈N/10⌉ accounts, ⌈N/20⌉ leads, ⌈N/20⌉ opportunities and a few users.

    The foundation is built first if missing. Rows are built as tuples in a fixed column order and
    inserted :data:`SCALE_CHUNK_ROWS` at a time, all inside one transaction; ``progress`` receives the
    cumulative number of rows after each chunk. Idempotent: a seed with the same N and ``seed`` that was
    applied before is not applied again.

    Raises:
        ValueError: when ``contacts`` is below 1.
    """
    if contacts < 1:
        raise ValueError("seed_scale needs at least one contact")
    started = time.perf_counter()
    build_foundation(state)
    token = f"scale:{contacts}:{seed}"
    if _already_applied(state, token):
        return SeedSummary(kind="scale", already_seeded=True, elapsed_seconds=time.perf_counter() - started)
    with state.storage.transaction():
        builder = _ScaleBuilder(state, contacts, seed, progress)
        builder.build()
        _remember(state, token)
    counts = dict(sorted(builder.counts.items()))
    return SeedSummary(kind="scale", counts=counts, elapsed_seconds=time.perf_counter() - started)


def _already_applied(state: SandboxState, token: str) -> bool:
    applied = state.storage.get_meta(SEED_META_KEY) or ""
    return token in applied.split(",")


def _remember(state: SandboxState, token: str) -> None:
    applied = [t for t in (state.storage.get_meta(SEED_META_KEY) or "").split(",") if t]
    state.storage.set_meta(SEED_META_KEY, ",".join([*applied, token]))


# --- word lists ----------------------------------------------------------------------------------------


class _Country(NamedTuple):
    name: str  # as a Spanish-speaking admin writes it
    lang: str
    tld: str
    legal_forms: tuple[str, ...]
    americas: bool


_COUNTRIES: dict[str, _Country] = {
    "ES": _Country("España", "es", "es", ("S.A.", "S.L."), False),
    "PT": _Country("Portugal", "pt", "pt", ("Lda.", "S.A."), False),
    "FR": _Country("Francia", "fr", "fr", ("SAS", "S.A."), False),
    "DE": _Country("Alemania", "de", "de", ("GmbH", "AG"), False),
    "GB": _Country("Reino Unido", "en", "co.uk", ("Ltd", "plc"), False),
    "IE": _Country("Irlanda", "en", "ie", ("Ltd", "DAC"), False),
    "NL": _Country("Países Bajos", "nl", "nl", ("B.V.", "N.V."), False),
    "IT": _Country("Italia", "it", "it", ("S.p.A.", "S.r.l."), False),
    "SE": _Country("Suecia", "sv", "se", ("AB",), False),
    "MX": _Country("México", "es", "com.mx", ("S.A. de C.V.", "S. de R.L."), True),
    "CO": _Country("Colombia", "es", "com.co", ("S.A.S.", "S.A."), True),
    "AR": _Country("Argentina", "es", "com.ar", ("S.A.", "S.R.L."), True),
    "CL": _Country("Chile", "es", "cl", ("SpA", "S.A."), True),
    "PE": _Country("Perú", "es", "pe", ("S.A.C.", "S.A."), True),
    "UY": _Country("Uruguay", "es", "com.uy", ("S.A.",), True),
    "BR": _Country("Brasil", "pt", "com.br", ("Ltda.", "S.A."), True),
    "US": _Country("Estados Unidos", "en", "com", ("Inc.", "LLC", "Corp."), True),
    "CA": _Country("Canadá", "en", "ca", ("Inc.", "Ltd."), True),
}


class _City(NamedTuple):
    name: str
    province: str
    country: str  # key of _COUNTRIES
    phone: str  # international prefix with area code
    lat: float
    lon: float
    postal: str  # '#' is replaced by a digit


_CITIES: tuple[_City, ...] = (
    _City("Madrid", "Madrid", "ES", "+34 91", 40.4168, -3.7038, "280##"),
    _City("Barcelona", "Barcelona", "ES", "+34 93", 41.3874, 2.1686, "080##"),
    _City("Valencia", "Valencia", "ES", "+34 96", 39.4699, -0.3763, "460##"),
    _City("Sevilla", "Sevilla", "ES", "+34 95", 37.3891, -5.9845, "410##"),
    _City("Bilbao", "Bizkaia", "ES", "+34 94", 43.2630, -2.9350, "480##"),
    _City("Málaga", "Málaga", "ES", "+34 952", 36.7213, -4.4214, "290##"),
    _City("Zaragoza", "Zaragoza", "ES", "+34 976", 41.6488, -0.8891, "500##"),
    _City("Lisboa", "Lisboa", "PT", "+351 21", 38.7223, -9.1393, "1###-###"),
    _City("Porto", "Porto", "PT", "+351 22", 41.1579, -8.6291, "4###-###"),
    _City("Paris", "Île-de-France", "FR", "+33 1", 48.8566, 2.3522, "750##"),
    _City("Lyon", "Auvergne-Rhône-Alpes", "FR", "+33 4", 45.7640, 4.8357, "690##"),
    _City("Berlin", "Berlin", "DE", "+49 30", 52.5200, 13.4050, "10###"),
    _City("München", "Bayern", "DE", "+49 89", 48.1351, 11.5820, "80###"),
    _City("Hamburg", "Hamburg", "DE", "+49 40", 53.5511, 9.9937, "20###"),
    _City("London", "England", "GB", "+44 20", 51.5072, -0.1276, "EC#A #BB"),
    _City("Manchester", "England", "GB", "+44 161", 53.4808, -2.2426, "M# #AB"),
    _City("Dublin", "Leinster", "IE", "+353 1", 53.3498, -6.2603, "D0#"),
    _City("Amsterdam", "Noord-Holland", "NL", "+31 20", 52.3676, 4.9041, "10## AB"),
    _City("Milano", "Lombardia", "IT", "+39 02", 45.4642, 9.1900, "201##"),
    _City("Roma", "Lazio", "IT", "+39 06", 41.9028, 12.4964, "001##"),
    _City("Stockholm", "Stockholm", "SE", "+46 8", 59.3293, 18.0686, "111 ##"),
    _City("Ciudad de México", "CDMX", "MX", "+52 55", 19.4326, -99.1332, "06###"),
    _City("Guadalajara", "Jalisco", "MX", "+52 33", 20.6597, -103.3496, "44###"),
    _City("Monterrey", "Nuevo León", "MX", "+52 81", 25.6866, -100.3161, "64###"),
    _City("Bogotá", "Cundinamarca", "CO", "+57 601", 4.7110, -74.0721, "110###"),
    _City("Medellín", "Antioquia", "CO", "+57 604", 6.2442, -75.5812, "050###"),
    _City("Buenos Aires", "CABA", "AR", "+54 11", -34.6037, -58.3816, "C10##AAA"),
    _City("Córdoba", "Córdoba", "AR", "+54 351", -31.4201, -64.1888, "X50##"),
    _City("Santiago", "Región Metropolitana", "CL", "+56 2", -33.4489, -70.6693, "83#####"),
    _City("Lima", "Lima", "PE", "+51 1", -12.0464, -77.0428, "150##"),
    _City("Montevideo", "Montevideo", "UY", "+598 2", -34.9011, -56.1645, "11###"),
    _City("São Paulo", "SP", "BR", "+55 11", -23.5505, -46.6333, "01###-###"),
    _City("New York", "NY", "US", "+1 212", 40.7128, -74.0060, "100##"),
    _City("Chicago", "IL", "US", "+1 312", 41.8781, -87.6298, "606##"),
    _City("Austin", "TX", "US", "+1 512", 30.2672, -97.7431, "787##"),
    _City("Miami", "FL", "US", "+1 305", 25.7617, -80.1918, "331##"),
    _City("Seattle", "WA", "US", "+1 206", 47.6062, -122.3321, "981##"),
    _City("Toronto", "ON", "CA", "+1 416", 43.6532, -79.3832, "M5# #A#"),
)

#: Given names (male, female) and family names per language.
_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "es": (
        ("Alejandro", "Javier", "Carlos", "Miguel", "Pablo", "Diego", "Andrés", "Fernando", "Jorge", "Luis",
         "Manuel", "Sergio", "Raúl", "Álvaro", "Gonzalo", "Ignacio", "Mateo", "Santiago", "Tomás", "Joaquín"),
        ("María", "Lucía", "Carmen", "Laura", "Ana", "Marta", "Elena", "Sofía", "Paula", "Isabel",
         "Cristina", "Beatriz", "Valentina", "Camila", "Daniela", "Gabriela", "Natalia", "Inés", "Julia", "Rocío"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
         "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro",
         "Torres", "Domínguez", "Vázquez", "Ramos", "Castillo", "Ortega", "Rubio", "Molina", "Delgado",
         "Morales", "Herrera", "Rojas", "Vargas", "Castro", "Ramírez", "Sosa", "Peña"),
    ),
    "en": (
        ("James", "Michael", "David", "Daniel", "Thomas", "Matthew", "Ryan", "Andrew", "Kevin", "Brian"),
        ("Emma", "Olivia", "Sarah", "Jessica", "Emily", "Hannah", "Rachel", "Megan", "Lauren", "Grace"),
        ("Smith", "Johnson", "Williams", "Brown", "Taylor", "Walsh", "Carter", "Murphy", "Wilson", "Clarke",
         "Evans", "Hughes", "O'Brien", "Kelly", "Nguyen", "Patel", "Foster", "Bennett"),
    ),
    "pt": (
        ("João", "Pedro", "Rafael", "Lucas", "Gabriel", "Tiago", "Rodrigo", "Bruno"),
        ("Ana", "Beatriz", "Mariana", "Fernanda", "Juliana", "Larissa", "Inês", "Catarina"),
        ("Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira", "Carvalho", "Ribeiro"),
    ),
    "fr": (
        ("Louis", "Hugo", "Julien", "Nicolas", "Antoine", "Mathieu"),
        ("Camille", "Chloé", "Manon", "Sophie", "Claire", "Élodie"),
        ("Martin", "Bernard", "Dubois", "Laurent", "Moreau", "Lefèvre", "Girard", "Rousseau"),
    ),
    "de": (
        ("Lukas", "Jonas", "Felix", "Stefan", "Thomas", "Markus"),
        ("Anna", "Lena", "Katharina", "Julia", "Sabine", "Miriam"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Hoffmann", "Schäfer"),
    ),
    "it": (
        ("Luca", "Marco", "Matteo", "Alessandro", "Giovanni", "Davide"),
        ("Giulia", "Francesca", "Chiara", "Sara", "Martina", "Alessia"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    ),
    "nl": (
        ("Daan", "Sem", "Bram", "Joost"),
        ("Sanne", "Lotte", "Femke", "Anouk"),
        ("de Vries", "Jansen", "Bakker", "Visser", "van Dijk", "de Boer"),
    ),
    "sv": (
        ("Erik", "Lars", "Anders", "Johan"),
        ("Anna", "Karin", "Ingrid", "Elin"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Lindqvist", "Eriksson"),
    ),
}  # fmt: skip

#: Company name stems (brand-like words, no real companies).
_STEMS = (
    "Altamira", "Iberia", "Nexus", "Boreal", "Cumbre", "Aurora", "Meridian", "Solaris", "Vértice", "Atlas",
    "Horizonte", "Pampa", "Andes", "Caribe", "Norteña", "Rhein", "Alpen", "Nordlicht", "Thames", "Highland",
    "Lumière", "Tramontana", "Levante", "Mistral", "Olivo", "Ceiba", "Quetzal", "Cóndor", "Jaguar", "Sierra",
    "Delta", "Orion", "Vega", "Polaris", "Lyra", "Castilla", "Navarra", "Galicia", "Cantábrico", "Tajo",
    "Duero", "Ebro", "Patagonia", "Amazonas", "Orinoco", "Hudson", "Pacific", "Baltic", "Danubio", "Alborada",
    "Brisa", "Marea", "Roble", "Granito", "Zenit", "Faro", "Ámbar", "Cobalto", "Sextante", "Alameda",
)  # fmt: skip

#: Sector words (Spanish, Portuguese, English) with the industrycode they imply.
_SECTORS: tuple[tuple[str, str, str, int], ...] = (
    ("Logística", "Logística", "Logistics", 30),
    ("Energía", "Energia", "Energy", 31),
    ("Seguros", "Seguros", "Insurance", 20),
    ("Consultores", "Consultoria", "Consulting", 7),
    ("Alimentación", "Alimentos", "Foods", 17),
    ("Construcciones", "Construções", "Building Supply", 5),
    ("Capital", "Capital", "Capital", 16),
    ("Abogados", "Advogados", "Legal", 21),
    ("Clínicas", "Clínicas", "Health", 11),
    ("Medios", "Mídia", "Media", 3),
    ("Motor", "Motores", "Motors", 32),
    ("Distribución", "Distribuição", "Distribution", 33),
    ("Industrial", "Industrial", "Manufacturing", 12),
    ("Servicios", "Serviços", "Services", 6),
    ("Petróleo", "Petróleo", "Petroleum", 24),
    ("Agro", "Agro", "Agro", 2),
    ("Hostelería", "Hotelaria", "Hospitality", 13),
    ("Diseño", "Design", "Design", 9),
    ("Alquiler de Equipos", "Locação de Equipamentos", "Equipment Rental", 15),
    ("Auditores", "Auditores", "Accounting", 1),
    ("Inmobiliaria", "Imobiliária", "Realty", 29),
    ("Tecnología", "Tecnologia", "Technology", 6),
)

#: Street names and the way a number is written with them, per language.
_STREETS: dict[str, tuple[tuple[str, ...], str]] = {
    "es": (("Calle Mayor", "Avenida de la Constitución", "Calle del Sol", "Paseo de la Castellana",
            "Avenida Libertador", "Calle Real", "Avenida Insurgentes", "Calle de Alcalá"), "{street}, {number}"),
    "pt": (("Rua das Flores", "Avenida Paulista", "Rua Augusta", "Avenida da Liberdade"), "{street}, {number}"),
    "en": (("Main Street", "King Street", "Market Street", "Park Avenue", "High Street", "Queen Street"),
           "{number} {street}"),
    "fr": (("rue de la Paix", "avenue Victor Hugo", "rue du Commerce", "boulevard Haussmann"), "{number} {street}"),
    "de": (("Hauptstraße", "Bahnhofstraße", "Marktplatz", "Lindenallee"), "{street} {number}"),
    "it": (("Via Roma", "Corso Italia", "Via Dante", "Viale Europa"), "{street} {number}"),
    "nl": (("Keizersgracht", "Herengracht", "Damrak", "Prinsengracht"), "{street} {number}"),
    "sv": (("Storgatan", "Drottninggatan", "Kungsgatan", "Vasagatan"), "{street} {number}"),
}  # fmt: skip

#: Job titles of customer contacts.
_TITLES: dict[str, tuple[str, ...]] = {
    "es": ("Director de Compras", "Directora Financiera", "Responsable de Sistemas", "Gerente General",
           "Director Comercial", "Jefa de Operaciones", "Directora de Marketing", "Analista de Sistemas",
           "Responsable de RR. HH.", "Jefe de Proyectos", "Coordinadora de Compras", "Director de TI"),
    "pt": ("Diretor de Compras", "Diretora Financeira", "Gerente de TI", "Diretor Comercial",
           "Gerente de Operações", "Analista de Sistemas"),
    "en": ("Procurement Director", "CFO", "IT Manager", "General Manager", "Head of Sales", "Operations Manager",
           "Marketing Director", "Systems Analyst", "HR Manager", "Project Lead", "CTO", "Purchasing Coordinator"),
}  # fmt: skip

#: Products sold by the demo organization (Spanish, English), used in opportunity and lead topics.
_PRODUCTS: tuple[tuple[str, str], ...] = (
    ("Licencias CRM Enterprise", "CRM Enterprise licences"),
    ("Renovación de soporte premium", "Premium support renewal"),
    ("Implantación del módulo de ventas", "Sales module rollout"),
    ("Integración con ERP", "ERP integration"),
    ("Formación de usuarios", "User training"),
    ("Migración a la nube", "Cloud migration"),
    ("Portal de clientes", "Customer portal"),
    ("Analítica avanzada", "Advanced analytics"),
    ("Servicio de campo", "Field service"),
    ("Centro de contacto", "Contact center"),
    ("Automatización de marketing", "Marketing automation"),
    ("Gestión documental", "Document management"),
)

_TASK_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Enviar propuesta revisada", "Send revised proposal"),
    ("Preparar demostración", "Prepare demo"),
    ("Revisar borrador del contrato", "Review contract draft"),
    ("Actualizar previsión de cierre", "Update close forecast"),
    ("Confirmar presupuesto con compras", "Confirm budget with procurement"),
    ("Enviar casos de éxito", "Send customer references"),
    ("Agendar reunión con el decisor", "Book meeting with decision maker"),
    ("Preparar oferta económica", "Prepare pricing offer"),
)
_CALL_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Llamada de seguimiento", "Follow-up call"),
    ("Llamada de descubrimiento", "Discovery call"),
    ("Consulta sobre precios", "Pricing question"),
    ("Revisión de la propuesta", "Proposal walkthrough"),
    ("Llamada de presentación", "Introduction call"),
    ("Aclaraciones técnicas", "Technical clarifications"),
)
_EMAIL_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Propuesta comercial", "Commercial proposal"),
    ("Resumen de la reunión", "Meeting summary"),
    ("Re: Presupuesto solicitado", "Re: Requested quote"),
    ("Invitación a la demostración", "Demo invitation"),
    ("Documentación técnica", "Technical documentation"),
    ("Próximos pasos", "Next steps"),
)
_NOTE_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Notas de la reunión", "Meeting notes"),
    ("Decisor identificado", "Decision maker identified"),
    ("Competencia en la cuenta", "Competitor in the account"),
    ("Requisitos del cliente", "Customer requirements"),
    ("Condiciones acordadas", "Agreed terms"),
)
_NOTE_TEXTS: tuple[tuple[str, str], ...] = (
    ("El cliente quiere ver la integración con su ERP antes de decidir.",
     "The customer wants to see the ERP integration before deciding."),
    ("La decisión final la toma el comité de dirección en la próxima reunión trimestral.",
     "The final decision is taken by the management board at the next quarterly meeting."),
    ("Están evaluando también a un competidor; el precio es el factor clave.",
     "They are also evaluating a competitor; price is the key factor."),
    ("Necesitan el sistema operativo antes del cierre del ejercicio.",
     "They need the system live before the fiscal year end."),
    ("Acordado un descuento del 10 % por pago anual.", "Agreed a 10% discount for annual payment."),
)  # fmt: skip

#: Opportunity pipeline: salesstage, stepname, and the close probabilities used while open.
_STAGES: tuple[tuple[int, str, tuple[int, ...]], ...] = (
    (0, "1-Qualify", (10, 20)),
    (1, "2-Develop", (30, 40)),
    (2, "3-Propose", (50, 60, 70)),
    (3, "4-Close", (80, 90)),
)

# Dataverse option values used below (see the reference §8).
_OPP_OPEN, _OPP_WON, _OPP_LOST = 0, 1, 2
_LEAD_OPEN, _LEAD_QUALIFIED, _LEAD_DISQUALIFIED = 0, 1, 2
_ACT_OPEN, _ACT_COMPLETED, _ACT_CANCELED = 0, 1, 2
_SENDER, _TO, _CC = 1, 2, 3


def _ascii_slug(text: str) -> str:
    """Lowercase ASCII letters and digits only (accents folded): 'Lucía O'Brien' -> 'luciaobrien'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _fill_digits(rng: random.Random, template: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def _sector_word(sector: tuple[str, str, str, int], country: _Country) -> str:
    """The sector word in the country's language (Spanish, Portuguese, else English)."""
    return {"es": sector[0], "pt": sector[1]}.get(country.lang, sector[2])


def _company_name(stem: str, sector: tuple[str, str, str, int], country: _Country, legal: str) -> str:
    return f"{stem} {_sector_word(sector, country)} {legal}"


def _company_domain(stem: str, sector: tuple[str, str, str, int], country: _Country) -> str:
    word = _sector_word(sector, country)
    return f"{_ascii_slug(stem)}-{_ascii_slug(word)}.{country.tld}"


def _text(lang: str, pair: tuple[str, str]) -> str:
    """The Spanish or the English variant of a phrase (Spanish for Spanish-speaking customers)."""
    return pair[0] if lang == "es" else pair[1]


def _composite(line1: str, city: _City, postal: str) -> str:
    return f"{line1}\r\n{city.name}, {city.province} {postal}\r\n{_COUNTRIES[city.country].name}"


def _defaults(state: SandboxState, table: str) -> dict[str, Any]:
    """Column defaults the Web API applies on create (booleans as 0/1), limited to stored columns."""
    entity = state.catalogue.entity(table)
    columns = set(state.storage.columns(table))
    result: dict[str, Any] = {}
    for attribute in entity.attributes.values():
        if attribute.logical_name not in columns or attribute.default_value is None:
            continue
        if attribute.type in (AttributeType.STATE, AttributeType.STATUS):
            continue
        value = attribute.default_value
        result[attribute.logical_name] = int(value) if isinstance(value, bool) else value
    return result


# --- demo ----------------------------------------------------------------------------------------------


class _Principal(NamedTuple):
    """An owner: a user or a team, with the business unit its records belong to."""

    id: str
    type: str  # "systemuser" | "team"
    unit: str
    name: str
    email: str | None
    lang: str
    americas: bool


class _Staff(NamedTuple):
    first: str
    last: str
    title: str
    unit: str  # "root" | "emea" | "americas"
    city: str
    lang: str


_STAFF: tuple[_Staff, ...] = (
    _Staff("Lucía", "Fernández", "Directora de Ventas", "root", "Madrid", "es"),
    _Staff("Javier", "Moreno", "Gerente de Ventas EMEA", "emea", "Madrid", "es"),
    _Staff("Carmen", "Ruiz", "Ejecutiva de Cuentas", "emea", "Barcelona", "es"),
    _Staff("Alejandro", "Castillo", "Ejecutivo de Cuentas", "emea", "Valencia", "es"),
    _Staff("Sophie", "Laurent", "Account Executive", "emea", "Paris", "fr"),
    _Staff("Thomas", "Becker", "Account Executive", "emea", "München", "de"),
    _Staff("Emma", "Walsh", "Inside Sales Representative", "emea", "Dublin", "en"),
    _Staff("Michael", "Carter", "Sales Manager Americas", "americas", "New York", "en"),
    _Staff("Diego", "Ramírez", "Ejecutivo de Cuentas", "americas", "Ciudad de México", "es"),
    _Staff("Valentina", "Gómez", "Ejecutiva de Cuentas", "americas", "Bogotá", "es"),
    _Staff("Martina", "Sosa", "Ejecutiva de Cuentas", "americas", "Buenos Aires", "es"),
    _Staff("Rafael", "Oliveira", "Executivo de Contas", "americas", "São Paulo", "pt"),
    _Staff("Jessica", "Nguyen", "Inside Sales Representative", "americas", "Austin", "en"),
)
_DISABLED_STAFF = _Staff("Pablo", "Ortega", "Ejecutivo de Cuentas", "emea", "Sevilla", "es")

_DEMO_ACCOUNTS = 60
_DEMO_GROUPS = 6  # parent accounts with subsidiaries
_DEMO_SUBSIDIARIES = 8
_DEMO_CONTACTS = 200
_DEMO_LEADS = 50
_DEMO_TASKS = 45
_DEMO_CALLS = 40
_DEMO_EMAILS = 40
_DEMO_NOTES = 25


class _DemoBuilder:
    """Plans and writes the demo organization; every random draw comes from one ``Random(seed)``."""

    def __init__(self, state: SandboxState, seed: int) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.now = state.now().astimezone(UTC).replace(microsecond=0)
        self.writer = RowWriter(state)
        self.counts: Counter[str] = Counter()
        self._columns: dict[str, set[str]] = {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self.units: dict[str, str] = {"root": ROOT_BUSINESS_UNIT_ID}
        self.users: list[_Principal] = []  # active humans, director first
        self.sellers: dict[bool, list[_Principal]] = {False: [], True: []}  # by americas
        self.disabled: _Principal | None = None
        self.team: _Principal | None = None
        self.team_members: list[_Principal] = []
        self.stakeholder_roles: list[str] = []
        self.accounts: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.contacts_of: dict[str, list[dict[str, Any]]] = {}
        self.leads: list[dict[str, Any]] = []
        self.opportunities: list[dict[str, Any]] = []
        self.principals: dict[str, _Principal] = {}

    # -- helpers --

    def has(self, table: str) -> bool:
        return self.state.catalogue.find_entity(table) is not None

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            self._columns[table] = set(self.state.storage.columns(table))
        return self._columns[table]

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def put(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert one row (only columns the table has, API defaults filled); returns the stored row."""
        entity = self.state.catalogue.entity(table)
        columns = self.columns(table)
        row = {k: v for k, v in values.items() if k in columns}
        if table not in self._defaults:
            self._defaults[table] = _defaults(self.state, table)
        for name, value in self._defaults[table].items():
            row.setdefault(name, value)
        full = self.writer.complete(entity, row)
        self.state.storage.insert(table, full)
        self.counts[table] += 1
        return full

    def between(self, start: datetime, end: datetime) -> datetime:
        """A random instant in [start, end] (whole seconds); ``start`` when the range is empty."""
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, span))

    def past(self, max_days: float, min_days: float = 0.0) -> datetime:
        return self.between(self.now - timedelta(days=max_days), self.now - timedelta(days=min_days))

    def modified_after(self, created: datetime, *, until: datetime | None = None) -> datetime:
        """A modification time after ``created``: often soon after, sometimes much later (≤ now)."""
        end = min(until or self.now, self.now)
        if end <= created:
            return created
        if self.rng.random() < 0.4:
            return self.between(created, min(end, created + timedelta(days=2)))
        return self.between(created, end)

    def stamps(self, created: datetime, modified: datetime) -> dict[str, str]:
        return {"createdon": format_timestamp(created), "modifiedon": format_timestamp(modified)}

    def owned(self, owner: _Principal, *, creator: str | None = None) -> dict[str, Any]:
        """Owner columns of a record owned by ``owner`` (created and modified by a person)."""
        person = creator or (owner.id if owner.type == "systemuser" else self.users[0].id)
        return {
            "ownerid": owner.id,
            "ownerid__type": owner.type,
            "owningbusinessunit": owner.unit,
            "owningbusinessunit__type": "businessunit",
            "createdby": person,
            "createdby__type": "systemuser",
            "modifiedby": person,
            "modifiedby__type": "systemuser",
        }

    def acting_user(self, owner: _Principal) -> _Principal:
        """The person acting for an owner (a team's member when a team owns the record)."""
        if owner.type == "team":
            return self.rng.choice(self.team_members)
        return owner

    def phone(self, city: _City) -> str:
        return f"{city.phone} {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"

    def address(self, city: _City) -> dict[str, Any]:
        lang = _COUNTRIES[city.country].lang
        streets, pattern = _STREETS[lang]
        line1 = pattern.format(street=self.rng.choice(streets), number=self.rng.randint(1, 240))
        postal = _fill_digits(self.rng, city.postal)
        return {
            "address1_line1": line1,
            "address1_city": city.name,
            "address1_stateorprovince": city.province,
            "address1_postalcode": postal,
            "address1_country": _COUNTRIES[city.country].name,
            "address1_latitude": round(city.lat + self.rng.uniform(-0.05, 0.05), 5),
            "address1_longitude": round(city.lon + self.rng.uniform(-0.05, 0.05), 5),
            "address1_composite": _composite(line1, city, postal),
        }

    # -- the plan --

    def build(self) -> None:
        self.business_units()
        self.staff()
        self.teams()
        self.connection_roles()
        self.plan_accounts()
        self.plan_contacts()
        self.plan_leads()
        self.plan_opportunities()
        for table, rows in (
            ("account", self.accounts),
            ("contact", self.contacts),
            ("lead", self.leads),
            ("opportunity", self.opportunities),
        ):
            for row in rows:
                self.put(table, {k: v for k, v in row.items() if not k.startswith("_")})
        self.connections()
        self.activities()
        self.notes()

    def business_units(self) -> None:
        org = self.state.config.organization_id
        created = self.now - timedelta(days=HISTORY_DAYS + 30)
        for key, name, city in (("emea", "Sales EMEA", "Madrid"), ("americas", "Sales Americas", "New York")):
            unit_id = self.new_id()
            self.units[key] = unit_id
            self.put(
                "businessunit",
                {
                    "businessunitid": unit_id,
                    "name": name,
                    "parentbusinessunitid": ROOT_BUSINESS_UNIT_ID,
                    "parentbusinessunitid__type": "businessunit",
                    "organizationid": org,
                    "organizationid__type": "organization",
                    "divisionname": "Sales",
                    "costcenter": f"CC-{'100' if key == 'emea' else '200'}",
                    "address1_city": city,
                    **self.stamps(created, created),
                },
            )

    def staff(self) -> None:
        created = self.now - timedelta(days=HISTORY_DAYS + 20)
        cities = {c.name: c for c in _CITIES}
        director_id: str | None = None
        managers: dict[str, str] = {}
        for staff in (*_STAFF, _DISABLED_STAFF):
            disabled = staff is _DISABLED_STAFF
            user_id = self.new_id()
            email = f"{_ascii_slug(staff.first)}.{_ascii_slug(staff.last)}@{USER_DOMAIN}"
            city = cities[staff.city]
            is_manager = "Gerente" in staff.title or "Manager" in staff.title
            manager = director_id if is_manager else managers.get(staff.unit, director_id)
            modified = self.past(200, 1) if disabled else self.modified_after(created)
            self.put(
                "systemuser",
                {
                    "systemuserid": user_id,
                    "firstname": staff.first,
                    "lastname": staff.last,
                    "fullname": f"{staff.first} {staff.last}",
                    "internalemailaddress": email,
                    "domainname": email,
                    "azureactivedirectoryobjectid": self.new_id(),
                    "accessmode": 0,
                    "isdisabled": 1 if disabled else 0,
                    "disabledreason": "Usuario deshabilitado en Microsoft Entra ID" if disabled else None,
                    "islicensed": 0 if disabled else 1,
                    "isintegrationuser": 0,
                    "setupuser": 0,
                    "title": staff.title,
                    "jobtitle": staff.title,
                    "mobilephone": self.phone(city),
                    "address1_city": city.name,
                    "address1_country": _COUNTRIES[city.country].name,
                    "businessunitid": self.units[staff.unit],
                    "businessunitid__type": "businessunit",
                    "parentsystemuserid": manager,
                    "parentsystemuserid__type": "systemuser" if manager else None,
                    "transactioncurrencyid": self.state.config.base_currency_id,
                    "transactioncurrencyid__type": "transactioncurrency",
                    **self.stamps(created, modified),
                },
            )
            self.state.security.assign_role(user_id, SALESPERSON_ROLE_ID)
            principal = _Principal(
                user_id,
                "systemuser",
                self.units[staff.unit],
                f"{staff.first} {staff.last}",
                email,
                staff.lang,
                staff.unit == "americas",
            )
            self.principals[user_id] = principal
            if director_id is None:
                director_id = user_id
                self.state.security.assign_role(user_id, SYSTEM_ADMINISTRATOR_ROLE_ID)
            elif is_manager:
                managers[staff.unit] = user_id
            if disabled:
                self.disabled = principal
            else:
                self.users.append(principal)
                if staff.unit != "root":
                    self.sellers[principal.americas].append(principal)
        # An integration (application) user, as every real org has a few.
        app_id = self.new_id()
        self.put(
            "systemuser",
            {
                "systemuserid": app_id,
                "firstname": "#",
                "lastname": "Marketing Sync",
                "fullname": "# Marketing Sync",
                "applicationid": self.new_id(),
                "azureactivedirectoryobjectid": self.new_id(),
                "internalemailaddress": f"marketing-sync@{USER_DOMAIN}",
                "domainname": f"marketing-sync@{USER_DOMAIN}",
                "accessmode": 4,
                "isdisabled": 0,
                "islicensed": 0,
                "isintegrationuser": 0,
                "setupuser": 0,
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "businessunitid__type": "businessunit",
                **self.stamps(created + timedelta(days=15), created + timedelta(days=15)),
            },
        )
        self.state.security.assign_role(app_id, SALESPERSON_ROLE_ID)

    def teams(self) -> None:
        if not self.has("team"):
            return
        director = self.users[0]
        created = self.now - timedelta(days=HISTORY_DAYS)
        by_name = {u.name: u for u in self.users}
        for name, team_type, description, members in (
            (
                "Key Accounts",
                0,
                "Cuentas estratégicas gestionadas en equipo.",
                ("Lucía Fernández", "Javier Moreno", "Michael Carter", "Carmen Ruiz"),
            ),
            (
                "Deal Desk",
                1,
                "Revisión de precios y condiciones de las grandes ofertas.",
                ("Javier Moreno", "Michael Carter", "Diego Ramírez"),
            ),
        ):
            team_id = self.new_id()
            self.put(
                "team",
                {
                    "teamid": team_id,
                    "name": name,
                    "teamtype": team_type,
                    "membershiptype": 0,
                    "isdefault": 0,
                    "systemmanaged": 0,
                    "description": description,
                    "businessunitid": ROOT_BUSINESS_UNIT_ID,
                    "businessunitid__type": "businessunit",
                    "administratorid": director.id,
                    "administratorid__type": "systemuser",
                    "organizationid": self.state.config.organization_id,
                    "createdby": director.id,
                    "createdby__type": "systemuser",
                    "modifiedby": director.id,
                    "modifiedby__type": "systemuser",
                    **self.stamps(created, self.modified_after(created)),
                },
            )
            for member in members:
                self.state.security.add_team_member(team_id, by_name[member].id)
            if team_type == 0:
                self.state.security.assign_team_role(team_id, SALESPERSON_ROLE_ID)
                self.team = _Principal(team_id, "team", ROOT_BUSINESS_UNIT_ID, name, None, "es", False)
                self.team_members = [by_name[m] for m in members]
                self.principals[team_id] = self.team

    def connection_roles(self) -> None:
        if not self.has("connectionrole") or not self.has("connection"):
            return
        created = self.now - timedelta(days=HISTORY_DAYS)
        for name, description in (
            ("Stakeholder", "Participa en la decisión de compra."),
            ("Decision Maker", "Toma la decisión final."),
            ("Influencer", "Influye en la decisión."),
            ("Technical Buyer", "Valida la solución técnica."),
        ):
            existing = self.state.storage.scalar(
                'SELECT connectionroleid FROM "connectionrole" WHERE name = ?', (name,)
            )
            if existing is not None:
                self.stakeholder_roles.append(str(existing))
                continue
            role_id = self.new_id()
            self.put(
                "connectionrole",
                {
                    "connectionroleid": role_id,
                    "name": name,
                    "category": 1000,  # Stakeholder
                    "description": description,
                    "statecode": 0,
                    "statuscode": 1,
                    "organizationid": self.state.config.organization_id,
                    "organizationid__type": "organization",
                    **self.stamps(created, created),
                },
            )
            self.stakeholder_roles.append(role_id)

    def owner_for(self, americas: bool) -> _Principal:
        return self.rng.choice(self.sellers[americas])

    def plan_accounts(self) -> None:
        rng = self.rng
        combos = [(stem, sector) for stem in _STEMS for sector in _SECTORS]
        rng.shuffle(combos)
        used_stems: set[str] = set()
        names: set[str] = set()
        groups: list[dict[str, Any]] = []
        for index in range(_DEMO_ACCOUNTS):
            if _DEMO_GROUPS <= index < _DEMO_GROUPS + _DEMO_SUBSIDIARIES:
                parent = groups[(index - _DEMO_GROUPS) % _DEMO_GROUPS]
                stem, sector = parent["_stem"], parent["_sector"]
                city = rng.choice([c for c in _CITIES if c.name != parent["address1_city"]])
            else:
                stem, sector = next((s, x) for s, x in combos if s not in used_stems)
                used_stems.add(stem)
                city = rng.choice(_CITIES)
                parent = None
            country = _COUNTRIES[city.country]
            name = _company_name(stem, sector, country, rng.choice(country.legal_forms))
            if index < _DEMO_GROUPS:
                name = f"Grupo {stem}" if country.lang in ("es", "pt") else f"{stem} Group"
            while name in names:  # a subsidiary in the same country as a sibling
                name = f"{name} ({city.name})"
            names.add(name)
            domain = _company_domain(stem, sector, country)
            if parent is not None:
                domain = f"{_ascii_slug(stem)}-{city.country.lower()}.{country.tld}"
            size = rng.random()
            if index < _DEMO_GROUPS or size > 0.85:
                employees = rng.randint(2_000, 40_000)
            elif size > 0.45:
                employees = rng.randint(200, 1_999)
            else:
                employees = rng.randint(12, 199)
            revenue = float(round(employees * rng.uniform(80_000, 260_000), -4))
            owner = self.owner_for(country.americas)
            if self.team is not None and index < 4:
                owner = self.team
            elif self.disabled is not None and index in (20, 33):
                owner = self.disabled
            actor = self.acting_user(owner)
            created = self.past(HISTORY_DAYS, 30)
            modified = self.modified_after(created)
            inactive = index in (41, 52)
            account = {
                "accountid": self.new_id(),
                "name": name,
                "accountnumber": f"CUS-{10001 + index}",
                "industrycode": sector[3],
                "customertypecode": rng.choice((3, 3, 3, 3, 8, 8, 5, 9)),
                "accountcategorycode": 1 if employees >= 2_000 else 2,
                "ownershipcode": 1 if employees >= 5_000 else rng.choice((2, 2, 3, 4)),
                "paymenttermscode": rng.choice((1, 1, 2, 3, 4)),
                "numberofemployees": employees,
                "revenue": revenue,
                "revenue_base": revenue,
                "websiteurl": f"https://www.{domain}",
                "emailaddress1": f"{'info' if country.lang != 'es' else 'contacto'}@{domain}",
                "telephone1": self.phone(city),
                "description": f"{_text(country.lang, _SECTOR_BLURB)} {_sector_word(sector, country).lower()}.",
                "tickersymbol": _ascii_slug(stem)[:4].upper() if employees >= 5_000 else None,
                "statecode": 1 if inactive else 0,
                "statuscode": 2 if inactive else 1,
                **self.address(city),
                **self.owned(owner, creator=actor.id),
                **self.stamps(created, modified),
                "_stem": stem,
                "_sector": sector,
                "_city": city,
                "_domain": domain,
                "_owner": owner,
                "_created": created,
                "_lang": country.lang,
            }
            if parent is not None:
                account["parentaccountid"] = parent["accountid"]
                account["parentaccountid__type"] = "account"
                account["_created"] = created = max(created, parent["_created"])
                account.update(self.stamps(created, max(modified, created)))
            if index < _DEMO_GROUPS:
                groups.append(account)
            self.accounts.append(account)

    def plan_contacts(self) -> None:
        rng = self.rng
        per_account = [2] * len(self.accounts)
        weights = [math.log10(a["numberofemployees"]) for a in self.accounts]
        for _ in range(_DEMO_CONTACTS - sum(per_account)):
            per_account[rng.choices(range(len(self.accounts)), weights)[0]] += 1
        for account, count in zip(self.accounts, per_account, strict=True):
            city: _City = account["_city"]
            lang = _COUNTRIES[city.country].lang
            males, females, lasts = _NAMES[lang]
            titles = _TITLES.get(lang, _TITLES["en"])
            emails: set[str] = set()
            mine: list[dict[str, Any]] = []
            for _ in range(count):
                female = rng.random() < 0.5
                first = rng.choice(females if female else males)
                last = rng.choice(lasts)
                if lang == "es" and rng.random() < 0.5:
                    last = f"{last} {rng.choice(lasts)}"
                local = f"{_ascii_slug(first)}.{_ascii_slug(last.split(' ')[0])}"
                email, n = f"{local}@{account['_domain']}", 2
                while email in emails:
                    email, n = f"{local}{n}@{account['_domain']}", n + 1
                emails.add(email)
                owner: _Principal = (
                    account["_owner"] if rng.random() < 0.9 else self.owner_for(_COUNTRIES[city.country].americas)
                )
                created = self.between(account["_created"], self.now - timedelta(days=7))
                inactive = rng.random() < 0.05
                contact = {
                    "contactid": self.new_id(),
                    "firstname": first,
                    "lastname": last,
                    "fullname": f"{first} {last}",
                    "yomifullname": f"{first} {last}",
                    "jobtitle": rng.choice(titles),
                    "gendercode": 2 if female else 1,
                    "emailaddress1": email,
                    "telephone1": self.phone(city),
                    "mobilephone": f"{city.phone.split(' ')[0]} 6{rng.randint(10_000_000, 99_999_999)}",
                    "parentcustomerid": account["accountid"],
                    "parentcustomerid__type": "account",
                    "accountid": account["accountid"],
                    "accountid__type": "account",
                    "preferredcontactmethodcode": rng.choice((1, 1, 2, 3)),
                    "address1_city": city.name,
                    "address1_country": _COUNTRIES[city.country].name,
                    "statecode": 1 if inactive else 0,
                    "statuscode": 2 if inactive else 1,
                    **self.owned(owner, creator=self.acting_user(owner).id),
                    **self.stamps(created, self.modified_after(created)),
                    "_created": created,
                    "_account": account,
                    "_owner": owner,
                }
                mine.append(contact)
                self.contacts.append(contact)
            self.contacts_of[account["accountid"]] = mine
            active = [c for c in mine if c["statecode"] == 0] or mine
            account["primarycontactid"] = active[0]["contactid"]
            account["primarycontactid__type"] = "contact"

    def plan_leads(self) -> None:
        rng = self.rng
        states = (
            [(_LEAD_OPEN, 1)] * 12
            + [(_LEAD_OPEN, 2)] * 10
            + [(_LEAD_QUALIFIED, 3)] * 14
            + [(_LEAD_DISQUALIFIED, s) for s in (4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7)]
        )
        rng.shuffle(states)
        used_stems = {a["_stem"] for a in self.accounts}
        free_stems = [s for s in _STEMS if s not in used_stems] or list(_STEMS)
        for state, status in states[:_DEMO_LEADS]:
            linked = state == _LEAD_QUALIFIED or rng.random() < 0.3
            account = rng.choice(self.accounts) if linked else None
            if account is not None:
                city = account["_city"]
                company = account["name"]
                domain = account["_domain"]
            else:
                city = rng.choice(_CITIES)
                stem, sector = rng.choice(free_stems), rng.choice(_SECTORS)
                country = _COUNTRIES[city.country]
                company = _company_name(stem, sector, country, rng.choice(country.legal_forms))
                domain = _company_domain(stem, sector, country)
            country = _COUNTRIES[city.country]
            males, females, lasts = _NAMES[country.lang]
            first = rng.choice(males + females)
            last = rng.choice(lasts)
            product = rng.choice(_PRODUCTS)
            owner = self.owner_for(country.americas)
            created = self.past(HISTORY_DAYS - 60, 3)
            lead: dict[str, Any] = {
                "leadid": self.new_id(),
                "subject": f"{_text(country.lang, _LEAD_PREFIX)} {_text(country.lang, product).lower()}",
                "firstname": first,
                "lastname": last,
                "fullname": f"{first} {last}",
                "companyname": company,
                "jobtitle": rng.choice(_TITLES.get(country.lang, _TITLES["en"])),
                "emailaddress1": f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}",
                "telephone1": self.phone(city),
                "websiteurl": f"https://www.{domain}",
                "address1_city": city.name,
                "address1_country": country.name,
                "industrycode": rng.choice(_SECTORS)[3],
                "leadsourcecode": rng.randint(1, 10),
                "leadqualitycode": rng.choice((1, 2, 2, 3)),
                "purchasetimeframe": rng.randint(0, 4),
                "budgetstatus": rng.randint(0, 3),
                "numberofemployees": rng.choice((15, 40, 120, 350, 800, 2500)),
                "estimatedamount": float(rng.randrange(5_000, 150_000, 500)),
                "statecode": state,
                "statuscode": status,
                **self.owned(owner),
                "_created": created,
                "_owner": owner,
                "_account": account,
                "_lang": country.lang,
            }
            lead["estimatedamount_base"] = lead["estimatedamount"]
            if account is not None:
                lead["parentaccountid"] = account["accountid"]
                lead["parentaccountid__type"] = "account"
                lead["customerid"] = account["accountid"]
                lead["customerid__type"] = "account"
                if state == _LEAD_QUALIFIED:
                    contact = self.contacts_of[account["accountid"]][0]
                    lead["parentcontactid"] = contact["contactid"]
                    lead["parentcontactid__type"] = "contact"
            if state == _LEAD_QUALIFIED:
                lead["qualificationcomments"] = _text(country.lang, _QUALIFIED_NOTE)
            if state == _LEAD_DISQUALIFIED:
                closed = self.between(created, min(self.now, created + timedelta(days=90)))
                lead.update(self.stamps(created, closed))
            else:
                lead.update(self.stamps(created, self.modified_after(created)))
            self.leads.append(lead)

    def plan_opportunities(self) -> None:
        rng = self.rng
        profiles: list[tuple[int, int, int]] = []  # (statecode, statuscode, salesstage)
        for stage in range(4):
            profiles += [(_OPP_OPEN, 1, stage)] * 10 + [(_OPP_OPEN, 2, stage)] * 2
        profiles += [(_OPP_WON, 3, 3)] * 18
        profiles += [(_OPP_LOST, 4, s) for s in (0, 1, 1, 2, 3)] + [
            (_OPP_LOST, 5, s) for s in (1, 2, 2, 2, 3, 3, 3, 1, 2)
        ]
        rng.shuffle(profiles)
        qualified = [lead for lead in self.leads if lead["statecode"] == _LEAD_QUALIFIED]
        for index, (state, status, stage) in enumerate(profiles):
            lead = qualified[index] if index < len(qualified) else None
            account = lead["_account"] if lead is not None else rng.choice(self.accounts)
            lang = account["_lang"]
            contacts = self.contacts_of[account["accountid"]]
            contact = contacts[0] if lead is not None else rng.choice(contacts)
            owner: _Principal = lead["_owner"] if lead is not None else account["_owner"]
            if owner.type == "systemuser" and owner is self.disabled:
                owner = self.owner_for(owner.americas)
            product = rng.choice(_PRODUCTS)
            seats = rng.choice((10, 25, 50, 75, 100, 150, 250, 500))
            unit = "usuarios" if lang == "es" else "users"
            estimated = float(round(seats * rng.uniform(300, 1_400), -2))
            if state == _OPP_OPEN:
                earliest = self.now - timedelta(days=330)
            else:
                earliest = self.now - timedelta(days=HISTORY_DAYS - 20)
            earliest = max(earliest, account["_created"])
            if lead is not None:
                earliest = max(earliest, lead["_created"])
            created = self.between(earliest, self.now - timedelta(days=5))
            stage_value, step, probabilities = _STAGES[stage]
            opportunity: dict[str, Any] = {
                "opportunityid": self.new_id(),
                "name": f"{_text(lang, product)} ({seats} {unit})",
                "customerid": account["accountid"],
                "customerid__type": "account",
                "parentaccountid": account["accountid"],
                "parentaccountid__type": "account",
                "parentcontactid": contact["contactid"],
                "parentcontactid__type": "contact",
                "estimatedvalue": estimated,
                "estimatedvalue_base": estimated,
                "isrevenuesystemcalculated": 0,
                "salesstage": stage_value,
                "salesstagecode": 1,
                "stepname": step,
                "statecode": state,
                "statuscode": status,
                "opportunityratingcode": 1 if stage >= 2 else rng.choice((2, 3)),
                "purchasetimeframe": rng.randint(0, 4),
                "purchaseprocess": rng.randint(0, 2),
                "budgetstatus": min(3, stage + rng.randint(0, 1)),
                "need": rng.randint(0, 2),
                "timeline": rng.randint(0, 4),
                "description": _text(lang, rng.choice(_NOTE_TEXTS)),
                "customerneed": _text(lang, _NEED_TEXT),
                **self.owned(owner, creator=self.acting_user(owner).id),
                "_created": created,
                "_owner": owner,
                "_contact": contact,
                "_lang": lang,
            }
            if lead is not None:
                opportunity["originatingleadid"] = lead["leadid"]
                opportunity["originatingleadid__type"] = "lead"
                lead["qualifyingopportunityid"] = opportunity["opportunityid"]
                lead["qualifyingopportunityid__type"] = "opportunity"
                lead.update(self.stamps(lead["_created"], created))
            if state == _OPP_OPEN:
                opportunity["closeprobability"] = rng.choice(probabilities)
                opportunity["actualvalue"] = None
                opportunity["actualvalue_base"] = None
                close_date = (self.now + timedelta(days=rng.randint(-10, 180))).date()
                opportunity["estimatedclosedate"] = close_date.isoformat()
                opportunity.update(self.stamps(created, self.modified_after(created)))
            else:
                closed = self.between(
                    min(created + timedelta(days=7), self.now), min(self.now, created + timedelta(days=240))
                )
                won = state == _OPP_WON
                actual = estimated if won else 0.0
                opportunity["closeprobability"] = 100 if won else 0
                opportunity["actualvalue"] = actual
                opportunity["actualvalue_base"] = actual
                opportunity["actualclosedate"] = closed.date().isoformat()
                planned = closed.date() + timedelta(days=rng.randint(-20, 20))
                opportunity["estimatedclosedate"] = planned.isoformat()
                opportunity.update(self.stamps(created, closed))
            self.opportunities.append(opportunity)

    def connections(self) -> None:
        if not self.stakeholder_roles:
            return
        rng = self.rng
        for opportunity in self.opportunities:
            if rng.random() < 0.35:
                continue
            contacts = self.contacts_of[opportunity["parentaccountid"]]
            chosen = rng.sample(contacts, k=min(len(contacts), rng.randint(1, 3)))
            owner: _Principal = opportunity["_owner"]
            for contact in chosen:
                role = rng.choice(self.stakeholder_roles)
                created = self.between(opportunity["_created"], self.now)
                master_id, reciprocal_id = self.new_id(), self.new_id()
                common = {
                    **self.owned(owner, creator=self.acting_user(owner).id),
                    **self.stamps(created, created),
                    "statecode": 0,
                    "statuscode": 1,
                }
                # Dataverse stores a connection twice: as created (ismaster) and its reciprocal.
                self.put(
                    "connection",
                    {
                        "connectionid": master_id,
                        "name": contact["fullname"],
                        "record1id": opportunity["opportunityid"],
                        "record1id__type": "opportunity",
                        "record2id": contact["contactid"],
                        "record2id__type": "contact",
                        "record2roleid": role,
                        "record2roleid__type": "connectionrole",
                        "relatedconnectionid": reciprocal_id,
                        "relatedconnectionid__type": "connection",
                        "ismaster": 1,
                        **common,
                    },
                )
                self.put(
                    "connection",
                    {
                        "connectionid": reciprocal_id,
                        "name": opportunity["name"],
                        "record1id": contact["contactid"],
                        "record1id__type": "contact",
                        "record1roleid": role,
                        "record1roleid__type": "connectionrole",
                        "record2id": opportunity["opportunityid"],
                        "record2id__type": "opportunity",
                        "relatedconnectionid": master_id,
                        "relatedconnectionid__type": "connection",
                        "ismaster": 0,
                        **common,
                    },
                )

    def regarding(self) -> tuple[str, dict[str, Any], dict[str, Any] | None, _Principal, str]:
        """A record to file an activity under: (table, row, counterpart contact or lead, owner, language)."""
        roll = self.rng.random()
        if roll < 0.45:
            row = self.rng.choice(self.opportunities)
            return "opportunity", row, row["_contact"], row["_owner"], row["_lang"]
        if roll < 0.75:
            row = self.rng.choice(self.accounts)
            primary = next(c for c in self.contacts_of[row["accountid"]] if c["contactid"] == row["primarycontactid"])
            return "account", row, primary, row["_owner"], row["_lang"]
        if roll < 0.93:
            row = self.rng.choice(self.contacts)
            return "contact", row, row, row["_owner"], row["_account"]["_lang"]
        row = self.rng.choice(self.leads)
        return "lead", row, row, row["_owner"], row["_lang"]

    def activities(self) -> None:
        kinds = ["task"] * _DEMO_TASKS + ["phonecall"] * _DEMO_CALLS + ["email"] * _DEMO_EMAILS
        self.rng.shuffle(kinds)
        for kind in kinds:
            if self.has(kind):
                self.activity(kind)

    def activity(self, kind: str) -> None:
        rng = self.rng
        table, record, counterpart, owner, lang = self.regarding()
        user = self.acting_user(owner)
        if user is self.disabled:
            user = self.owner_for(user.americas)
        roll = rng.random()
        state = _ACT_COMPLETED if roll < 0.78 else _ACT_CANCELED if roll < 0.84 else _ACT_OPEN
        earliest: datetime = record["_created"]
        if state == _ACT_OPEN:  # open work is recent
            earliest = max(earliest, self.now - timedelta(days=30))
        created = self.between(earliest, self.now - timedelta(hours=2))
        values: dict[str, Any] = {
            "activityid": self.new_id(),
            "regardingobjectid": record[f"{table}id"],
            "regardingobjectid__type": table,
            "prioritycode": rng.choice((0, 1, 1, 1, 2)),
            "statecode": state,
            **self.owned(user),
        }
        duration = rng.choice((5, 10, 15, 30, 45, 60))
        done = self.between(created, min(self.now, created + timedelta(days=14)))
        if state == _ACT_OPEN:
            due = self.now + timedelta(days=rng.randint(-5, 20), hours=rng.randint(1, 8))
        else:
            due = min(done + timedelta(hours=rng.randint(0, 48)), self.now)
        values["scheduledstart"] = format_timestamp(due - timedelta(minutes=duration))
        values["scheduledend"] = format_timestamp(due)
        values["scheduleddurationminutes"] = duration
        if state != _ACT_OPEN:
            values["actualstart"] = format_timestamp(done - timedelta(minutes=duration))
            values["actualend"] = format_timestamp(done)
            values["actualdurationminutes"] = duration
            modified = done
        else:
            modified = self.modified_after(created, until=self.now)
        values.update(self.stamps(created, modified))
        contact_name = counterpart["fullname"] if counterpart else ""
        if kind == "task":
            values["subject"] = _text(lang, rng.choice(_TASK_SUBJECTS))
            values["description"] = _text(lang, rng.choice(_NOTE_TEXTS))
            values["statuscode"] = {_ACT_COMPLETED: 5, _ACT_CANCELED: 6}.get(state) or rng.choice((2, 3, 4, 7))
            values["percentcomplete"] = 100 if state == _ACT_COMPLETED else rng.choice((0, 25, 50))
            self.put_activity("task", values)
            return
        outgoing = rng.random() < 0.7
        values["directioncode"] = 1 if outgoing else 0
        parties: list[tuple[int, str, str, str, str | None]] = []  # mask, id, type, name, address
        if counterpart is not None:
            other_table = "lead" if "leadid" in counterpart else "contact"
            other = (
                counterpart[f"{other_table}id"],
                other_table,
                counterpart["fullname"],
                counterpart.get("emailaddress1"),
            )
        me = (user.id, "systemuser", user.name, user.email)
        sender, receiver = (me, other) if outgoing else (other, me)
        if kind == "phonecall":
            values["subject"] = f"{_text(lang, rng.choice(_CALL_SUBJECTS))} - {contact_name}"
            values["description"] = _text(lang, rng.choice(_NOTE_TEXTS))
            values["phonenumber"] = counterpart.get("telephone1") if counterpart else None
            values["statuscode"] = {_ACT_COMPLETED: 2 if outgoing else 4, _ACT_CANCELED: 3}.get(state, 1)
            values["leftvoicemail"] = 1 if state == _ACT_COMPLETED and rng.random() < 0.15 else 0
            parties = [(_SENDER, *sender[:3], None), (_TO, *receiver[:3], None)]
        else:
            subject = _text(lang, rng.choice(_EMAIL_SUBJECTS))
            body = _text(lang, rng.choice(_NOTE_TEXTS))
            values["subject"] = subject
            values["description"] = f"<p>{body}</p>"
            values["statuscode"] = {_ACT_COMPLETED: 3 if outgoing else 4, _ACT_CANCELED: 5}.get(state, 1)
            values["sender"] = sender[3]
            values["torecipients"] = f"{receiver[3]};"
            values["messageid"] = f"<{self.new_id()}@{USER_DOMAIN if outgoing else 'mail.example'}>"
            if state == _ACT_COMPLETED:
                values["senton"] = values["actualend"]
            parties = [(_SENDER, *sender), (_TO, *receiver)]
            if table == "opportunity" and rng.random() < 0.3:
                colleague = self.owner_for(user.americas)
                if colleague.id != user.id:
                    parties.append((_CC, colleague.id, "systemuser", colleague.name, colleague.email))
        row = self.put_activity(kind, values)
        if not self.has("activityparty"):
            return
        for mask, party_id, party_type, party_name, address in parties:
            self.put(
                "activityparty",
                {
                    "activitypartyid": self.new_id(),
                    "activityid": row["activityid"],
                    "activityid__type": kind,
                    "partyid": party_id,
                    "partyid__type": party_type,
                    "partyidname": party_name,
                    "participationtypemask": mask,
                    "addressused": address,
                    "ispartydeleted": 0,
                    "scheduledstart": row.get("scheduledstart"),
                    "scheduledend": row.get("scheduledend"),
                },
            )

    def put_activity(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a concrete activity and its activitypointer twin (same id, the shared columns copied)."""
        row = self.put(kind, values)
        if self.has("activitypointer"):
            pointer_columns = self.columns("activitypointer")
            mirror = {k: v for k, v in row.items() if k in pointer_columns}
            mirror["activitytypecode"] = kind
            if "activitypointer" not in self._defaults:
                self._defaults["activitypointer"] = _defaults(self.state, "activitypointer")
            for name, value in self._defaults["activitypointer"].items():
                mirror.setdefault(name, value)
            self.state.storage.insert("activitypointer", mirror)
            self.counts["activitypointer"] += 1
        return row

    def notes(self) -> None:
        if not self.has("annotation"):
            return
        rng = self.rng
        for index in range(_DEMO_NOTES):
            table, record, _, owner, lang = self.regarding()
            user = self.acting_user(owner)
            if user is self.disabled:
                user = self.owner_for(user.americas)
            created = self.between(record["_created"], self.now - timedelta(hours=1))
            text = _text(lang, rng.choice(_NOTE_TEXTS))
            values: dict[str, Any] = {
                "annotationid": self.new_id(),
                "subject": _text(lang, rng.choice(_NOTE_SUBJECTS)),
                "notetext": text,
                "objectid": record[f"{table}id"],
                "objectid__type": table,
                "objecttypecode": table,
                "isdocument": 0,
                **self.owned(user),
                **self.stamps(created, self.modified_after(created)),
            }
            if index % 8 == 3:  # a few carry a small attachment
                content = f"{values['subject']}\n\n{text}\n".encode()
                values.update(
                    {
                        "isdocument": 1,
                        "filename": "acta-reunion.txt" if lang == "es" else "meeting-minutes.txt",
                        "mimetype": "text/plain",
                        "documentbody": base64.b64encode(content).decode("ascii"),
                        "filesize": len(content),
                    }
                )
            self.put("annotation", values)


_SECTOR_BLURB = ("Cliente del sector", "Customer in")
_LEAD_PREFIX = ("Interés en", "Interested in")
_QUALIFIED_NOTE = (
    "Presupuesto confirmado y decisor identificado.",
    "Budget confirmed and decision maker identified.",
)
_NEED_TEXT = (
    "Unificar la gestión comercial y la previsión de ventas.",
    "Unify sales management and forecasting.",
)


# --- scale ---------------------------------------------------------------------------------------------


class _Clock(NamedTuple):
    """Precomputed text pieces for fast timestamps: past days, future days and times of day."""

    days: list[str]  # 'YYYY-MM-DDT' for each of the HISTORY_DAYS days before today, oldest first
    times: list[str]  # 'HH:MM:SSZ' for every second of a day
    future: list[str]  # 'YYYY-MM-DD' for the next 180 days


def _clock(now: datetime) -> _Clock:
    today = now.astimezone(UTC).date()
    days = [(today - timedelta(days=HISTORY_DAYS - i)).isoformat() + "T" for i in range(HISTORY_DAYS)]
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86_400)]
    future = [(today + timedelta(days=i)).isoformat() for i in range(1, 181)]
    return _Clock(days, times, future)


#: Days between creation and last modification (0 = same day), drawn uniformly.
_MODIFIED_AFTER = (0, 0, 0, 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377)


class _Table:
    """Column order of one bulk table: the varying columns a builder fills, then constants.

    Columns the catalogue does not have are projected away (a no-op when all are present).
    """

    def __init__(self, state: SandboxState, name: str, varying: Sequence[str], constants: dict[str, Any]) -> None:
        present = set(state.storage.columns(name))
        merged = {**_defaults(state, name), **constants}
        self.name = name
        const_names = [c for c in merged if c in present and c not in varying]
        self.constants = tuple(merged[c] for c in const_names)
        all_names = [*varying, *const_names]
        keep = [i for i, c in enumerate(all_names) if c in present]
        self.columns = [all_names[i] for i in keep]
        self.project: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
        if len(keep) != len(all_names):
            getter = itemgetter(*keep)
            self.project = (lambda row: tuple(getter(row))) if len(keep) > 1 else (lambda row: (getter(row),))


class _ScaleBuilder:
    """Writes the scale seed as tuples in fixed column order, chunk by chunk."""

    def __init__(self, state: SandboxState, contacts: int, seed: int, progress: Callable[[int], None] | None) -> None:
        self.state = state
        # A stream of its own, so a demo and a scale seed with the same number never share ids.
        self.rng = random.Random(seed * 1_000_003 + 0x5CA1E)
        self.n_contacts = contacts
        self.n_accounts = -(-contacts // 10)
        self.n_leads = -(-contacts // 20)
        self.n_opportunities = -(-contacts // 20)
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.written = 0
        self.clock = _clock(state.now())
        self.users: list[str] = []
        self.currency = state.config.base_currency_id
        # Per-account facts the later tables need.
        self.account_ids: list[str] = []
        self.account_names: list[str] = []
        self.account_domains: list[str] = []
        self.account_cities: list[int] = []
        self.account_owners: list[str] = []
        self.account_first_contact: list[int] = []
        self.contact_ids: list[str] = []

    def uuids(self, count: int) -> list[str]:
        bits = self.rng.getrandbits
        return [str(uuid.UUID(int=bits(128), version=4)) for _ in range(count)]

    def stamps(self, count: int) -> list[tuple[str, str]]:
        """(createdon, modifiedon) pairs: created any time in the last two years, modified later."""
        rng = self.rng
        days, times = self.clock.days, self.clock.times
        last = len(days) - 1
        d1 = rng.choices(range(len(days)), k=count)
        s1 = rng.choices(range(86_400), k=count)
        lag = rng.choices(_MODIFIED_AFTER, k=count)
        s2 = rng.choices(range(86_400), k=count)
        result = []
        for a, sa, g, sb in zip(d1, s1, lag, s2, strict=True):
            b = a + g
            if b > last:
                b = last
            if b == a and sb < sa:
                sb = sa
            result.append((days[a] + times[sa], days[b] + times[sb]))
        return result

    def emit(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        if table.project is not None:
            rows = [table.project(r) for r in rows]
        self.state.storage.insert_many(table.name, table.columns, rows)
        self.counts[table.name] += len(rows)
        self.written += len(rows)
        if self.progress is not None:
            self.progress(self.written)

    def chunks(self, total: int) -> Iterator[tuple[int, int]]:
        for start in range(0, total, SCALE_CHUNK_ROWS):
            yield start, min(total, start + SCALE_CHUNK_ROWS)

    def system(self) -> dict[str, Any]:
        return {
            "owningbusinessunit": ROOT_BUSINESS_UNIT_ID,
            "owningbusinessunit__type": "businessunit",
            "ownerid__type": "systemuser",
            "owninguser__type": "systemuser",
            "createdby__type": "systemuser",
            "modifiedby__type": "systemuser",
        }

    def build(self) -> None:
        self.make_users()
        self.make_accounts()
        self.make_contacts()
        self.make_leads_and_opportunities()

    def make_users(self) -> None:
        writer = RowWriter(self.state)
        rng = self.rng
        created = format_timestamp(self.state.now() - timedelta(days=HISTORY_DAYS + 10))
        seen: set[str] = set()
        for _ in range(8):
            lang = rng.choice(("es", "es", "es", "en", "pt"))
            males, females, lasts = _NAMES[lang]
            first, last = rng.choice(males + females), rng.choice(lasts)
            local = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
            email, n = f"{local}@{USER_DOMAIN}", 2
            while email in seen:
                email, n = f"{local}{n}@{USER_DOMAIN}", n + 1
            seen.add(email)
            user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            row = {
                "systemuserid": user_id,
                "firstname": first,
                "lastname": last,
                "fullname": f"{first} {last}",
                "internalemailaddress": email,
                "domainname": email,
                "azureactivedirectoryobjectid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "accessmode": 0,
                "isdisabled": 0,
                "islicensed": 1,
                "isintegrationuser": 0,
                "setupuser": 0,
                "title": "Account Executive",
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "businessunitid__type": "businessunit",
                "createdon": created,
                "modifiedon": created,
            }
            columns = set(self.state.storage.columns("systemuser"))
            writer.insert("systemuser", {k: v for k, v in row.items() if k in columns})
            self.state.security.assign_role(user_id, SALESPERSON_ROLE_ID)
            self.users.append(user_id)
        self.counts["systemuser"] += len(self.users)
        self.written += len(self.users)

    def make_accounts(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        table = _Table(
            self.state,
            "account",
            (
                "accountid", "name", "accountnumber", "telephone1", "emailaddress1", "websiteurl", "industrycode",
                "address1_city", "address1_stateorprovince", "address1_country", "numberofemployees", "revenue",
                "revenue_base", "customertypecode", "parentaccountid", "parentaccountid__type", "ownerid",
                "owninguser", "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "statecode": 0,
                "statuscode": 1,
                "transactioncurrencyid": self.currency,
                "transactioncurrencyid__type": "transactioncurrency",
                "exchangerate": 1.0,
            },
        )  # fmt: skip
        # Name parts per (stem, sector, city) are cheap to draw; precompute per-city text.
        cities = [(c.name, c.province, _COUNTRIES[c.country].name, _COUNTRIES[c.country], c.phone) for c in _CITIES]
        customer_types = (3, 3, 3, 3, 8, 8, 5, 9)
        users = self.users
        for start, end in self.chunks(self.n_accounts):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            stems = rng.choices(_STEMS, k=count)
            sectors = rng.choices(_SECTORS, k=count)
            city_index = rng.choices(range(len(cities)), k=count)
            owners = rng.choices(users, k=count)
            rows = []
            for i in range(count):
                number = start + i
                city_name, province, country_name, country, phone = cities[city_index[i]]
                stem, sector = stems[i], sectors[i]
                word = sector[0] if country.lang == "es" else sector[1] if country.lang == "pt" else sector[2]
                legal = country.legal_forms[number % len(country.legal_forms)]
                domain = f"{_ascii_slug(stem)}{number}.{country.tld}"
                employees = 10 + int(rng.random() ** 3 * 20_000)
                revenue = float(employees * 150_000)
                parent = None
                if number > 100 and rng.random() < 0.02:
                    parent = self.account_ids[rng.randrange(number - 100)]
                owner = owners[i]
                created, modified = stamps[i]
                name = f"{stem} {word} {legal}"
                rows.append(
                    (
                        ids[i], name, f"ACC-{number + 1:08d}", f"{phone} {1_000_000 + number % 9_000_000}",
                        f"info@{domain}", f"https://www.{domain}", sector[3], city_name, province, country_name,
                        employees, revenue, revenue, customer_types[number % 8], parent,
                        "account" if parent else None, owner, owner, owner, owner, created, modified,
                        next_version(), *table.constants,
                    )
                )  # fmt: skip
                self.account_ids.append(ids[i])
                self.account_names.append(name)
                self.account_domains.append(domain)
                self.account_cities.append(city_index[i])
                self.account_owners.append(owner)
            self.emit(table, rows)
        self.account_first_contact = [-1] * self.n_accounts

    def make_contacts(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        table = _Table(
            self.state,
            "contact",
            (
                "contactid", "firstname", "lastname", "fullname", "yomifullname", "emailaddress1", "jobtitle",
                "telephone1", "parentcustomerid", "accountid", "address1_city", "address1_country", "ownerid",
                "owninguser", "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "parentcustomerid__type": "account",
                "accountid__type": "account",
                "statecode": 0,
                "statuscode": 1,
            },
        )  # fmt: skip
        # Names per city (its language), with their e-mail slugs precomputed.
        pools: list[tuple[list[tuple[str, str]], list[tuple[str, str]], tuple[str, ...]]] = []
        for city in _CITIES:
            lang = _COUNTRIES[city.country].lang
            given_m, given_f, family = _NAMES[lang]
            given = [(f, _ascii_slug(f)) for f in (*given_m, *given_f)]
            family_pairs = [(ln, _ascii_slug(ln)) for ln in family]
            pools.append((given, family_pairs, _TITLES.get(lang, _TITLES["en"])))
        city_text = [(c.name, _COUNTRIES[c.country].name, c.phone) for c in _CITIES]
        first_contact = self.account_first_contact
        domains = self.account_domains
        for start, end in self.chunks(self.n_contacts):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            picks = [rng.random() for _ in range(count * 3)]
            rows = []
            for i in range(count):
                account = accounts[i]
                city_at = self.account_cities[account]
                firsts, lasts, titles = pools[city_at]
                first, first_slug = firsts[int(picks[3 * i] * len(firsts))]
                last, last_slug = lasts[int(picks[3 * i + 1] * len(lasts))]
                title = titles[int(picks[3 * i + 2] * len(titles))]
                city_name, country_name, phone = city_text[city_at]
                owner = self.account_owners[account]
                created, modified = stamps[i]
                fullname = f"{first} {last}"
                account_id = self.account_ids[account]
                if first_contact[account] < 0:
                    first_contact[account] = start + i
                rows.append(
                    (
                        ids[i], first, last, fullname, fullname, f"{first_slug}.{last_slug}@{domains[account]}", title,
                        f"{phone} {2_000_000 + (start + i) % 7_000_000}", account_id, account_id, city_name,
                        country_name, owner, owner, owner, owner, created, modified, next_version(), *table.constants,
                    )
                )  # fmt: skip
            self.contact_ids.extend(ids)
            self.emit(table, rows)

    def make_leads_and_opportunities(self) -> None:
        rng = self.rng
        next_version = self.state.storage.next_version
        opportunity_ids = self.uuids(self.n_opportunities)
        # Lead profiles: (statecode, statuscode); qualified leads each became one opportunity.
        lead_profiles = [(0, 1)] * 5 + [(0, 2)] * 3 + [(1, 3)] * 2 + [(2, 4), (2, 5), (2, 6), (2, 7)]
        leads = _Table(
            self.state,
            "lead",
            (
                "leadid", "subject", "firstname", "lastname", "fullname", "companyname", "emailaddress1",
                "telephone1", "industrycode", "leadsourcecode", "leadqualitycode", "statecode", "statuscode",
                "parentaccountid", "parentaccountid__type", "customerid", "customerid__type",
                "qualifyingopportunityid", "qualifyingopportunityid__type", "ownerid", "owninguser", "createdby",
                "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            self.system(),
        )  # fmt: skip
        originating: dict[int, str] = {}  # opportunity index -> lead id
        names = _NAMES["es"][0] + _NAMES["es"][1] + _NAMES["en"][0] + _NAMES["en"][1]
        lasts = _NAMES["es"][2] + _NAMES["en"][2]
        qualified_count = 0
        for start, end in self.chunks(self.n_leads):
            count = end - start
            ids = self.uuids(count)
            stamps = self.stamps(count)
            profiles = rng.choices(lead_profiles, k=count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            firsts = rng.choices(names, k=count)
            last_names = rng.choices(lasts, k=count)
            products = rng.choices(_PRODUCTS, k=count)
            rows = []
            for i in range(count):
                state, status = profiles[i]
                account = accounts[i]
                linked = state == 1 or (i % 3 == 0)
                account_id = self.account_ids[account] if linked else None
                opportunity = None
                if state == 1 and qualified_count < self.n_opportunities:
                    opportunity = opportunity_ids[qualified_count]
                    originating[qualified_count] = ids[i]
                    qualified_count += 1
                first, last = firsts[i], last_names[i]
                owner = self.account_owners[account]
                created, modified = stamps[i]
                domain = self.account_domains[account]
                rows.append(
                    (
                        ids[i], f"Interés en {products[i][0].lower()}", first, last, f"{first} {last}",
                        self.account_names[account], f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}",
                        f"+34 91 {3_000_000 + (start + i) % 6_000_000}", (start + i) % 33 + 1, (start + i) % 10 + 1,
                        (start + i) % 3 + 1, state, status, account_id, "account" if account_id else None, account_id,
                        "account" if account_id else None, opportunity, "opportunity" if opportunity else None,
                        owner, owner, owner, owner, created, modified, next_version(), *leads.constants,
                    )
                )  # fmt: skip
            self.emit(leads, rows)
        # Opportunities: (statecode, statuscode, salesstage) profiles.
        opp_profiles = [(0, 1, s) for s in (0, 0, 1, 1, 2, 2, 3, 3)] + [(0, 2, 1)] + [(1, 3, 3)] * 4
        opp_profiles += [(2, 4, 1), (2, 5, 2), (2, 5, 3)]
        opportunities = _Table(
            self.state,
            "opportunity",
            (
                "opportunityid", "name", "customerid", "parentaccountid", "parentcontactid",
                "parentcontactid__type", "originatingleadid", "originatingleadid__type", "estimatedvalue",
                "estimatedvalue_base", "actualvalue", "actualvalue_base", "statecode", "statuscode", "salesstage",
                "stepname", "closeprobability", "estimatedclosedate", "actualclosedate", "ownerid", "owninguser",
                "createdby", "modifiedby", "createdon", "modifiedon", "versionnumber",
            ),
            {
                **self.system(),
                "customerid__type": "account",
                "parentaccountid__type": "account",
                "salesstagecode": 1,
                "isrevenuesystemcalculated": 0,
                "transactioncurrencyid": self.currency,
                "transactioncurrencyid__type": "transactioncurrency",
                "exchangerate": 1.0,
            },
        )  # fmt: skip
        future = self.clock.future
        for start, end in self.chunks(self.n_opportunities):
            count = end - start
            stamps = self.stamps(count)
            opp_picks = rng.choices(opp_profiles, k=count)
            accounts = rng.choices(range(self.n_accounts), k=count)
            products = rng.choices(_PRODUCTS, k=count)
            seats = rng.choices((10, 25, 50, 100, 250), k=count)
            rows = []
            for i in range(count):
                number = start + i
                state, status, stage = opp_picks[i]
                account = accounts[i]
                contact_index = self.account_first_contact[account]
                contact = self.contact_ids[contact_index] if contact_index >= 0 else None
                lead = originating.get(number)
                estimated = float(seats[i] * 600)
                stage_value, step, probabilities = _STAGES[stage]
                created, modified = stamps[i]
                if state == 0:
                    probability = probabilities[number % len(probabilities)]
                    actual = None
                    estimated_close = future[number % len(future)]
                    actual_close = None
                else:
                    probability = 100 if state == 1 else 0
                    actual = estimated if state == 1 else 0.0
                    estimated_close = actual_close = modified[:10]
                owner = self.account_owners[account]
                account_id = self.account_ids[account]
                rows.append(
                    (
                        opportunity_ids[number], f"{products[i][0]} ({seats[i]} usuarios)", account_id, account_id,
                        contact, "contact" if contact else None, lead, "lead" if lead else None, estimated,
                        estimated, actual, actual, state, status, stage_value, step, probability, estimated_close,
                        actual_close, owner, owner, owner, owner, created, modified, next_version(),
                        *opportunities.constants,
                    )
                )  # fmt: skip
            self.emit(opportunities, rows)
