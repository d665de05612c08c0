"""The words and places seeded records are made of: countries, cities, company stems, people's names, sectors,
and the helpers that turn them into names, domains, addresses and phone numbers. Nothing is downloaded."""

from __future__ import annotations

import random
import unicodedata
from typing import Any, NamedTuple

from salesbridge.sandbox.catalogue.definitions import AttributeType
from salesbridge.sandbox.organization.state import SandboxState

#: Mail and UPN domain of the demo organization's users.
USER_DOMAIN = "contoso-sandbox.com"
#: How far back created-on dates reach.
HISTORY_DAYS = 730


# --- word lists ----------------------------------------------------------------------------------------


class Country(NamedTuple):
    name: str  # as a Spanish-speaking admin writes it
    lang: str
    tld: str
    legal_forms: tuple[str, ...]
    americas: bool


COUNTRIES: dict[str, Country] = {
    "ES": Country("España", "es", "es", ("S.A.", "S.L."), False),
    "PT": Country("Portugal", "pt", "pt", ("Lda.", "S.A."), False),
    "FR": Country("Francia", "fr", "fr", ("SAS", "S.A."), False),
    "DE": Country("Alemania", "de", "de", ("GmbH", "AG"), False),
    "GB": Country("Reino Unido", "en", "co.uk", ("Ltd", "plc"), False),
    "IE": Country("Irlanda", "en", "ie", ("Ltd", "DAC"), False),
    "NL": Country("Países Bajos", "nl", "nl", ("B.V.", "N.V."), False),
    "IT": Country("Italia", "it", "it", ("S.p.A.", "S.r.l."), False),
    "SE": Country("Suecia", "sv", "se", ("AB",), False),
    "MX": Country("México", "es", "com.mx", ("S.A. de C.V.", "S. de R.L."), True),
    "CO": Country("Colombia", "es", "com.co", ("S.A.S.", "S.A."), True),
    "AR": Country("Argentina", "es", "com.ar", ("S.A.", "S.R.L."), True),
    "CL": Country("Chile", "es", "cl", ("SpA", "S.A."), True),
    "PE": Country("Perú", "es", "pe", ("S.A.C.", "S.A."), True),
    "UY": Country("Uruguay", "es", "com.uy", ("S.A.",), True),
    "BR": Country("Brasil", "pt", "com.br", ("Ltda.", "S.A."), True),
    "US": Country("Estados Unidos", "en", "com", ("Inc.", "LLC", "Corp."), True),
    "CA": Country("Canadá", "en", "ca", ("Inc.", "Ltd."), True),
}


class City(NamedTuple):
    name: str
    province: str
    country: str  # key of COUNTRIES
    phone: str  # international prefix with area code
    lat: float
    lon: float
    postal: str  # '#' is replaced by a digit


CITIES: tuple[City, ...] = (
    City("Madrid", "Madrid", "ES", "+34 91", 40.4168, -3.7038, "280##"),
    City("Barcelona", "Barcelona", "ES", "+34 93", 41.3874, 2.1686, "080##"),
    City("Valencia", "Valencia", "ES", "+34 96", 39.4699, -0.3763, "460##"),
    City("Sevilla", "Sevilla", "ES", "+34 95", 37.3891, -5.9845, "410##"),
    City("Bilbao", "Bizkaia", "ES", "+34 94", 43.2630, -2.9350, "480##"),
    City("Málaga", "Málaga", "ES", "+34 952", 36.7213, -4.4214, "290##"),
    City("Zaragoza", "Zaragoza", "ES", "+34 976", 41.6488, -0.8891, "500##"),
    City("Lisboa", "Lisboa", "PT", "+351 21", 38.7223, -9.1393, "1###-###"),
    City("Porto", "Porto", "PT", "+351 22", 41.1579, -8.6291, "4###-###"),
    City("Paris", "Île-de-France", "FR", "+33 1", 48.8566, 2.3522, "750##"),
    City("Lyon", "Auvergne-Rhône-Alpes", "FR", "+33 4", 45.7640, 4.8357, "690##"),
    City("Berlin", "Berlin", "DE", "+49 30", 52.5200, 13.4050, "10###"),
    City("München", "Bayern", "DE", "+49 89", 48.1351, 11.5820, "80###"),
    City("Hamburg", "Hamburg", "DE", "+49 40", 53.5511, 9.9937, "20###"),
    City("London", "England", "GB", "+44 20", 51.5072, -0.1276, "EC#A #BB"),
    City("Manchester", "England", "GB", "+44 161", 53.4808, -2.2426, "M# #AB"),
    City("Dublin", "Leinster", "IE", "+353 1", 53.3498, -6.2603, "D0#"),
    City("Amsterdam", "Noord-Holland", "NL", "+31 20", 52.3676, 4.9041, "10## AB"),
    City("Milano", "Lombardia", "IT", "+39 02", 45.4642, 9.1900, "201##"),
    City("Roma", "Lazio", "IT", "+39 06", 41.9028, 12.4964, "001##"),
    City("Stockholm", "Stockholm", "SE", "+46 8", 59.3293, 18.0686, "111 ##"),
    City("Ciudad de México", "CDMX", "MX", "+52 55", 19.4326, -99.1332, "06###"),
    City("Guadalajara", "Jalisco", "MX", "+52 33", 20.6597, -103.3496, "44###"),
    City("Monterrey", "Nuevo León", "MX", "+52 81", 25.6866, -100.3161, "64###"),
    City("Bogotá", "Cundinamarca", "CO", "+57 601", 4.7110, -74.0721, "110###"),
    City("Medellín", "Antioquia", "CO", "+57 604", 6.2442, -75.5812, "050###"),
    City("Buenos Aires", "CABA", "AR", "+54 11", -34.6037, -58.3816, "C10##AAA"),
    City("Córdoba", "Córdoba", "AR", "+54 351", -31.4201, -64.1888, "X50##"),
    City("Santiago", "Región Metropolitana", "CL", "+56 2", -33.4489, -70.6693, "83#####"),
    City("Lima", "Lima", "PE", "+51 1", -12.0464, -77.0428, "150##"),
    City("Montevideo", "Montevideo", "UY", "+598 2", -34.9011, -56.1645, "11###"),
    City("São Paulo", "SP", "BR", "+55 11", -23.5505, -46.6333, "01###-###"),
    City("New York", "NY", "US", "+1 212", 40.7128, -74.0060, "100##"),
    City("Chicago", "IL", "US", "+1 312", 41.8781, -87.6298, "606##"),
    City("Austin", "TX", "US", "+1 512", 30.2672, -97.7431, "787##"),
    City("Miami", "FL", "US", "+1 305", 25.7617, -80.1918, "331##"),
    City("Seattle", "WA", "US", "+1 206", 47.6062, -122.3321, "981##"),
    City("Toronto", "ON", "CA", "+1 416", 43.6532, -79.3832, "M5# #A#"),
)

#: Given names (male, female) and family names per language.
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
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
STEMS = (
    "Altamira", "Iberia", "Nexus", "Boreal", "Cumbre", "Aurora", "Meridian", "Solaris", "Vértice", "Atlas",
    "Horizonte", "Pampa", "Andes", "Caribe", "Norteña", "Rhein", "Alpen", "Nordlicht", "Thames", "Highland",
    "Lumière", "Tramontana", "Levante", "Mistral", "Olivo", "Ceiba", "Quetzal", "Cóndor", "Jaguar", "Sierra",
    "Delta", "Orion", "Vega", "Polaris", "Lyra", "Castilla", "Navarra", "Galicia", "Cantábrico", "Tajo",
    "Duero", "Ebro", "Patagonia", "Amazonas", "Orinoco", "Hudson", "Pacific", "Baltic", "Danubio", "Alborada",
    "Brisa", "Marea", "Roble", "Granito", "Zenit", "Faro", "Ámbar", "Cobalto", "Sextante", "Alameda",
)  # fmt: skip

#: Sector words (Spanish, Portuguese, English) with the industrycode they imply.
SECTORS: tuple[tuple[str, str, str, int], ...] = (
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
STREETS: dict[str, tuple[tuple[str, ...], str]] = {
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
TITLES: dict[str, tuple[str, ...]] = {
    "es": ("Director de Compras", "Directora Financiera", "Responsable de Sistemas", "Gerente General",
           "Director Comercial", "Jefa de Operaciones", "Directora de Marketing", "Analista de Sistemas",
           "Responsable de RR. HH.", "Jefe de Proyectos", "Coordinadora de Compras", "Director de TI"),
    "pt": ("Diretor de Compras", "Diretora Financeira", "Gerente de TI", "Diretor Comercial",
           "Gerente de Operações", "Analista de Sistemas"),
    "en": ("Procurement Director", "CFO", "IT Manager", "General Manager", "Head of Sales", "Operations Manager",
           "Marketing Director", "Systems Analyst", "HR Manager", "Project Lead", "CTO", "Purchasing Coordinator"),
}  # fmt: skip

#: Products sold by the demo organization (Spanish, English), used in opportunity and lead topics.
PRODUCTS: tuple[tuple[str, str], ...] = (
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

TASK_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Enviar propuesta revisada", "Send revised proposal"),
    ("Preparar demostración", "Prepare demo"),
    ("Revisar borrador del contrato", "Review contract draft"),
    ("Actualizar previsión de cierre", "Update close forecast"),
    ("Confirmar presupuesto con compras", "Confirm budget with procurement"),
    ("Enviar casos de éxito", "Send customer references"),
    ("Agendar reunión con el decisor", "Book meeting with decision maker"),
    ("Preparar oferta económica", "Prepare pricing offer"),
)
CALL_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Llamada de seguimiento", "Follow-up call"),
    ("Llamada de descubrimiento", "Discovery call"),
    ("Consulta sobre precios", "Pricing question"),
    ("Revisión de la propuesta", "Proposal walkthrough"),
    ("Llamada de presentación", "Introduction call"),
    ("Aclaraciones técnicas", "Technical clarifications"),
)
EMAIL_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Propuesta comercial", "Commercial proposal"),
    ("Resumen de la reunión", "Meeting summary"),
    ("Re: Presupuesto solicitado", "Re: Requested quote"),
    ("Invitación a la demostración", "Demo invitation"),
    ("Documentación técnica", "Technical documentation"),
    ("Próximos pasos", "Next steps"),
)
NOTE_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Notas de la reunión", "Meeting notes"),
    ("Decisor identificado", "Decision maker identified"),
    ("Competencia en la cuenta", "Competitor in the account"),
    ("Requisitos del cliente", "Customer requirements"),
    ("Condiciones acordadas", "Agreed terms"),
)
NOTE_TEXTS: tuple[tuple[str, str], ...] = (
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
STAGES: tuple[tuple[int, str, tuple[int, ...]], ...] = (
    (0, "1-Qualify", (10, 20)),
    (1, "2-Develop", (30, 40)),
    (2, "3-Propose", (50, 60, 70)),
    (3, "4-Close", (80, 90)),
)

#: Short forms people go by (LinkedIn shows "Bob", the CRM keeps "Robert"), given name → nicknames.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob"), "William": ("Bill", "Will"), "Michael": ("Mike",), "James": ("Jim", "Jamie"),
    "Daniel": ("Dan", "Danny"), "Thomas": ("Tom",), "Matthew": ("Matt",), "Andrew": ("Andy", "Drew"),
    "David": ("Dave",), "Kevin": ("Kev",), "Brian": ("Bri",), "Ryan": ("Ry",), "Jessica": ("Jess",),
    "Emily": ("Em",), "Hannah": ("Annie",), "Rachel": ("Rach",), "Megan": ("Meg",), "Olivia": ("Liv",),
    "Francisco": ("Paco", "Fran", "Curro"), "José": ("Pepe",), "Alejandro": ("Álex",), "Javier": ("Javi",),
    "Ignacio": ("Nacho",), "Manuel": ("Manolo",), "Fernando": ("Nando", "Fer"), "Santiago": ("Santi",),
    "Joaquín": ("Quino",), "Gonzalo": ("Gonza",), "Guillermo": ("Guille",), "Andrés": ("Andi",),
    "Cristina": ("Cris",), "Beatriz": ("Bea",), "Isabel": ("Isa", "Chabela"), "Gabriela": ("Gabi",),
    "Natalia": ("Nati",), "Daniela": ("Dani",), "Valentina": ("Vale",), "Rocío": ("Rochi",),
    "Elena": ("Nena",), "Lucía": ("Lu",), "Sofía": ("Sofi",), "Carlos": ("Charly",), "Luis": ("Lucho",),
}  # fmt: skip

# Dataverse option values used below (see the reference §8).
OPP_OPEN, OPP_WON, OPP_LOST = 0, 1, 2
LEAD_OPEN, LEAD_QUALIFIED, LEAD_DISQUALIFIED = 0, 1, 2
ACT_OPEN, ACT_COMPLETED, ACT_CANCELED = 0, 1, 2
SENDER, TO, CC = 1, 2, 3


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters and digits only (accents folded): 'Lucía O'Brien' -> 'luciaobrien'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def without_accents(text: str) -> str:
    """``text`` with its accents dropped, case and everything else kept ('Núñez' -> 'Nunez')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def fill_digits(rng: random.Random, template: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def sector_word(sector: tuple[str, str, str, int], country: Country) -> str:
    """The sector word in the country's language (Spanish, Portuguese, else English)."""
    return {"es": sector[0], "pt": sector[1]}.get(country.lang, sector[2])


def company_name(stem: str, sector: tuple[str, str, str, int], country: Country, legal: str) -> str:
    return f"{stem} {sector_word(sector, country)} {legal}"


def company_domain(stem: str, sector: tuple[str, str, str, int], country: Country) -> str:
    word = sector_word(sector, country)
    return f"{ascii_slug(stem)}-{ascii_slug(word)}.{country.tld}"


def in_language(lang: str, pair: tuple[str, str]) -> str:
    """The Spanish or the English variant of a phrase (Spanish for Spanish-speaking customers)."""
    return pair[0] if lang == "es" else pair[1]


def composite(line1: str, city: City, postal: str) -> str:
    return f"{line1}\r\n{city.name}, {city.province} {postal}\r\n{COUNTRIES[city.country].name}"


def defaults(state: SandboxState, table: str) -> dict[str, Any]:
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
